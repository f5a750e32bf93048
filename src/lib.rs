//! The app: sign-in with Logto (and Hugging Face through Logto) on the two library crates,
//! `logto-client` and `logto-actix-web`. It holds only what is its own: typed configuration
//! (`config`), assembly (`startup`), its pages, texts and templates.

pub mod config;
pub mod startup;

mod canonical_host;
mod error_page;
mod i18n;
pub(crate) mod pages;
mod templates;
