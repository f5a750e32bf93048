//! The smallest actix-web app that signs in with Logto, on `logto-client` and `logto-actix-web`.
//!
//! In Logto, register `http://localhost:3000/callback` (redirect URI) and `http://localhost:3000/`
//! (post sign-out redirect URI) for a "Traditional web" application, then:
//!
//! ```sh
//! LOGTO_ENDPOINT=https://abc123.logto.app LOGTO_APP_ID=... LOGTO_APP_SECRET=... cargo run --example minimal
//! ```

use std::net::TcpListener;

use actix_web::{App, HttpResponse, HttpServer, cookie::Key, dev::Server, web};
use logto_actix_web::{ClientSecret, LogtoAuth, LogtoClient, LogtoConfig, OptionalUser, SignedInUser, Url};

async fn home(user: OptionalUser) -> HttpResponse {
    let body = match user.0 {
        Some(signed_in) => format!(
            r#"<p>Signed in as {}. <a href="/profile">Profile</a></p>
<form method="post" action="/sign-out"><input type="hidden" name="csrf_token" value="{}"><button>Sign out</button></form>"#,
            escape(signed_in.user.display_name()),
            signed_in.csrf_token
        ),
        None => r#"<p><a href="/sign-in">Sign in</a></p>"#.to_owned(),
    };
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body)
}

/// Signed-out visitors are sent to sign in, and come back here afterwards.
async fn profile(signed_in: SignedInUser) -> HttpResponse {
    let body = format!("<p>Your Logto user id is {}.</p>", escape(&signed_in.user.sub));
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body)
}

/// Serves the app on `listener` for the Logto application `config`.
pub fn serve(listener: TcpListener, config: LogtoConfig, key: Key) -> std::io::Result<Server> {
    let secure = config.redirect_uri().scheme() == "https";
    let auth = LogtoAuth::builder(LogtoClient::new(config).map_err(std::io::Error::other)?).build();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(auth.session_middleware(key.clone(), secure))
            .configure(auth.configure())
            .route("/", web::get().to(home))
            .route("/profile", web::get().to(profile))
    });
    Ok(server.listen(listener)?.run())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let var = |name: &str| std::env::var(name).map_err(|_| std::io::Error::other(format!("set {name}")));
    let url = |text: &str| Url::parse(text).map_err(std::io::Error::other);
    let config = LogtoConfig::builder(
        url(&var("LOGTO_ENDPOINT")?)?,
        var("LOGTO_APP_ID")?,
        ClientSecret::new(var("LOGTO_APP_SECRET")?),
        url("http://localhost:3000/callback")?,
    )
    .post_sign_out_redirect_uri(url("http://localhost:3000/")?)
    .scopes(["email"])
    .build();
    println!("Open http://localhost:3000");
    // A random key: sessions end when the example stops. An app keeps one secret key instead.
    serve(TcpListener::bind("127.0.0.1:3000")?, config, Key::generate())?.await
}
