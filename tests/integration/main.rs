//! One integration test binary: the app and the Logto-shaped provider, both real.

mod helpers;
mod op_provider;
