//! One integration test binary: the app and the Logto-shaped provider, both real.

mod helpers;

mod api;
mod backchannel_logout;
mod browser;
mod callback_failures;
mod container;
mod example;
mod hostile_cookies;
mod hostile_provider;
mod languages;
mod many_instances;
mod no_leaks;
mod operations;
mod redis_operators;
mod redis_sessions;
mod rough_edges;
mod sign_in;
mod sign_out;
mod startup;
mod tokens;
