//! One integration test binary: the app and the Logto-shaped provider, both real.

/// Runs each story (`async fn story(adapter: Adapter)`) on both apps: the tests
/// `story::on_actix` and `story::on_axum`, so a behaviour cannot drift between frameworks.
macro_rules! for_each_adapter {
    ($($story:ident),+ $(,)?) => {$(
        mod $story {
            use crate::helpers::app::Adapter;

            #[tokio::test]
            async fn on_actix() {
                super::$story(Adapter::Actix).await
            }

            #[tokio::test]
            async fn on_axum() {
                super::$story(Adapter::Axum).await
            }
        }
    )+};
}

mod helpers;

mod api;
mod backchannel_logout;
mod browser;
mod callback_failures;
mod container;
mod example;
mod hostile_cookies;
mod hostile_provider;
mod id_token_cookie;
mod languages;
mod many_instances;
mod no_leaks;
mod operations;
mod organizations;
mod redis_operators;
mod redis_sessions;
mod rough_edges;
mod sign_in;
mod sign_out;
mod startup;
mod tokens;
