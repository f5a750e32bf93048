//! The client against a real OpenID provider configured like Logto (`tests/op`): one test binary.

mod access_tokens;
mod hostile_provider;
mod security;
mod sign_in;
mod support;
mod verified_tokens;
