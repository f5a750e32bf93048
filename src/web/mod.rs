//! The web side: routes, the typed session, extractors, pages and error mapping.

pub mod error;
pub mod extract;
pub mod i18n;
pub mod logout;
pub mod return_to;
pub mod routes;
pub mod session;
pub mod templates;
pub mod tokens;
