//! Tests of the provider in `tests/op` itself, through HTTP.
