//! Mounting the handlers on an app.

use actix_web::{HttpRequest, Route, guard, web};

use crate::auth::LogtoAuth;
use crate::handlers;

impl LogtoAuth {
    /// Mounts the routes (and this value, for the handlers and extractors) on an app or scope:
    /// `App::new().configure(auth.configure())`. Each path is one resource: a method it does not
    /// take answers 405 with an `Allow` header, and pages answer `HEAD` as they answer `GET`.
    pub fn configure(&self) -> impl FnOnce(&mut web::ServiceConfig) + 'static {
        let auth = self.clone();
        move |cfg| {
            let core = auth.web();
            for (path, options) in core.sign_in_routes() {
                let way_in = path.clone();
                cfg.service(
                    web::resource(path).route(get_or_head().to(move |req: HttpRequest, auth: LogtoAuth| {
                        handlers::sign_in(req, auth, options.clone(), way_in.clone())
                    })),
                );
            }
            // GET only: a HEAD would spend the one-time sign-in without finishing it.
            cfg.service(web::resource(core.callback_path().to_owned()).route(web::get().to(handlers::callback)));
            let mut sign_out = web::resource(core.sign_out_path().to_owned()).route(web::post().to(handlers::sign_out));
            if let Some(page) = &auth.0.sign_out_page {
                sign_out = sign_out.route(page().guard(get_or_head_guard()));
            }
            cfg.service(sign_out);
            if let Some(path) = core.organization_path() {
                cfg.service(web::resource(path.to_owned()).route(web::post().to(handlers::choose_organization)));
            }
            if let Some(path) = core.backchannel_logout_path() {
                cfg.service(web::resource(path.to_owned()).route(web::post().to(handlers::backchannel_logout)));
            }
            cfg.app_data(auth.clone());
        }
    }
}

/// A route for `GET` and `HEAD`: monitors check pages with `HEAD`, whose answer is the `GET`
/// answer without its body (actix leaves the body out).
pub fn get_or_head() -> Route {
    web::route().guard(get_or_head_guard())
}

fn get_or_head_guard() -> impl guard::Guard {
    guard::Any(guard::Get()).or(guard::Head())
}
