//! The sign-in routes as an axum [`Router`].

use axum::Router;
use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};

use crate::error::{AuthRejection, see_other};
use crate::logto::LogtoAxum;
use crate::session::AxumSession;

impl LogtoAxum {
    /// The sign-in routes: every sign-in route (`GET`, `HEAD`), the callback (`GET` only: a
    /// `HEAD` would spend the one-time sign-in), `POST` sign-out, `POST` back-channel logout.
    /// Merge it into the app's router, then add the [session layer](LogtoAxum::session_layer)
    /// around everything: `app.merge(logto.router()).layer(logto.session_layer())`. A method a
    /// path does not take answers 405 with `Allow`.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        self.router_with_sign_out_page(None)
    }

    /// The same, with a page of the app's at the sign-out path for `GET` and `HEAD` (e.g. one
    /// that asks before signing out): a sign-out form whose CSRF token is stale is sent there.
    /// The [`LogtoWeb`](logto_web::LogtoWeb) must have been built with `sign_out_page(true)`.
    pub fn router_with_sign_out_page<S: Clone + Send + Sync + 'static>(
        &self,
        sign_out_page: Option<MethodRouter<S>>,
    ) -> Router<S> {
        let web = self.web();
        let mut router = Router::new();
        for (path, options) in web.sign_in_routes() {
            let logto = self.clone();
            let way_in = path.clone();
            router = router.route(
                &path,
                get(move |parts: Parts, session: AxumSession| async move {
                    let ui_locales = logto.ui_locales(&parts);
                    let query = parts.uri.query().unwrap_or_default();
                    let redirect = logto
                        .web()
                        .start_sign_in(session, query, options.clone(), &way_in, ui_locales)
                        .await
                        .map_err(AuthRejection)?;
                    Ok::<Response, AuthRejection>(see_other(&redirect.location))
                }),
            );
        }
        let logto = self.clone();
        router = router.route(
            web.callback_path(),
            get(move |session: AxumSession, RawQuery(query): RawQuery| async move {
                let redirect = logto
                    .web()
                    .finish_sign_in(session, query.as_deref().unwrap_or_default())
                    .await
                    .map_err(AuthRejection)?;
                Ok::<Response, AuthRejection>(see_other(&redirect.location))
            })
            .head(|| async { method_not_allowed("GET") })
            // Every other method too: axum's own 405 would list `HEAD`, which the callback refuses.
            .fallback(|| async { method_not_allowed("GET") }),
        );
        let logto = self.clone();
        let sign_out = post(move |session: AxumSession, body: Bytes| async move {
            let redirect = logto.web().sign_out(session, &body).await.map_err(AuthRejection)?;
            Ok::<Response, AuthRejection>(see_other(&redirect.location))
        });
        let sign_out = match sign_out_page {
            Some(page) => sign_out.merge(page),
            None => sign_out,
        };
        router = router.route(web.sign_out_path(), sign_out);
        if let Some(path) = web.organization_path() {
            let logto = self.clone();
            router = router.route(
                path,
                post(move |session: AxumSession, body: Bytes| async move {
                    let redirect = logto
                        .web()
                        .choose_organization(session, &body)
                        .await
                        .map_err(AuthRejection)?;
                    Ok::<Response, AuthRejection>(see_other(&redirect.location))
                }),
            );
        }
        if let Some(path) = web.backchannel_logout_path() {
            let logto = self.clone();
            router = router.route(
                path,
                post(move |body: Bytes| async move {
                    logto.web().backchannel_logout(&body).await.map_err(AuthRejection)?;
                    Ok::<StatusCode, AuthRejection>(StatusCode::OK)
                }),
            );
        }
        router
    }
}

/// A 405 naming the methods the path takes.
fn method_not_allowed(allow: &'static str) -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, HeaderValue::from_static(allow))],
    )
        .into_response()
}
