//! Shared test helpers: the provider harness and the app harness.

pub mod app;
pub mod browser;
pub mod redis;
