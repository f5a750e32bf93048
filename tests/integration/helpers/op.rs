//! Harness for the Logto-shaped OpenID provider in `tests/op`.
