//! The app: sign-in with Logto (and Hugging Face through Logto) on the two library crates,
//! `logto-client` and `logto-actix-web`. It holds only what is its own: typed configuration
//! (`config`), assembly (`startup`), its pages, texts and templates.

pub mod check;
/// Typed configuration, read once from the environment and validated at start-up (shared with
/// the axum example).
pub use logto_app_config as config;
pub mod metrics;
pub mod readiness;
pub mod startup;

mod api;
mod canonical_host;
mod error_page;
mod i18n;
pub(crate) mod pages;
mod security_headers;
mod session_errors;
mod templates;
