//! Shared test helpers: the provider harness and the app harness.

pub mod app;
pub mod binary;
pub mod browser;
pub mod redis;
