//! The smallest axum app that signs in with Logto, on `logto-axum`.
//!
//! In Logto, register `http://localhost:3000/callback` (redirect URI) and `http://localhost:3000/`
//! (post sign-out redirect URI) for a "Traditional web" application, then:
//!
//! ```sh
//! LOGTO_ENDPOINT=https://abc123.logto.app LOGTO_APP_ID=... LOGTO_APP_SECRET=... cargo run --example axum_minimal
//! ```

use axum::{Router, response::Html, routing::get};
use logto_axum::{ClientSecret, Key, LogtoAxum, LogtoClient, LogtoConfig, LogtoError, LogtoWeb, SignedInUser, Url};

async fn home(user: Option<SignedInUser>) -> Html<String> {
    Html(match user {
        Some(signed_in) => format!(
            r#"<p>Signed in as {}. <a href="/profile">Profile</a></p>
<form method="post" action="/sign-out"><input type="hidden" name="csrf_token" value="{}"><button>Sign out</button></form>"#,
            escape(signed_in.user.display_name()),
            signed_in.csrf_token
        ),
        None => r#"<p><a href="/sign-in">Sign in</a></p>"#.to_owned(),
    })
}

/// Signed-out visitors are sent to sign in, and come back here afterwards.
async fn profile(signed_in: SignedInUser) -> Html<String> {
    Html(format!("<p>Your Logto user id is {}.</p>", escape(&signed_in.user.sub)))
}

/// The app for the Logto application `config`.
pub fn app(config: LogtoConfig, key: Key) -> Result<Router, LogtoError> {
    let secure = config.redirect_uri().scheme() == "https";
    let logto = LogtoAxum::new(LogtoWeb::builder(LogtoClient::new(config)?).build(), key, secure);
    Ok(Router::new()
        .route("/", get(home))
        .route("/profile", get(profile))
        .merge(logto.router())
        .layer(logto.session_layer()))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let config = LogtoConfig::builder(
        Url::parse(&var("LOGTO_ENDPOINT")?)?,
        var("LOGTO_APP_ID")?,
        ClientSecret::new(var("LOGTO_APP_SECRET")?),
        Url::parse("http://localhost:3000/callback")?,
    )
    .post_sign_out_redirect_uri(Url::parse("http://localhost:3000/")?)
    .scopes(["email"])
    .build();
    println!("Open http://localhost:3000");
    // A random key: sessions end when the example stops. An app keeps one secret key instead.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app(config, Key::generate())?).await?;
    Ok(())
}
