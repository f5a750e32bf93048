//! One integration test binary: the app and the Logto-shaped provider, both real.

mod helpers;

mod browser;
mod callback_failures;
mod languages;
mod op_provider;
mod sign_in;
mod sign_out;
mod startup;
