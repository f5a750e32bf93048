//! The client against a real OpenID provider configured like Logto (`tests/op`): one test binary.

mod access_tokens;
mod algorithms;
mod custom_claims;
mod end_session;
mod hostile_provider;
mod organizations;
mod security;
mod send;
mod serde_round_trip;
mod sign_in;
mod sign_in_options;
mod support;
mod verified_tokens;
