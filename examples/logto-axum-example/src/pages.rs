//! The app's own pages: home, profile, the sign-out question, health, and what no route matched.
//! Sign-in, the callback and sign-out itself are `logto-axum`'s.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use logto_app_config::site::without_trailing_slash;
use logto_axum::logto_client::{AccessTokenClaims, Audience};
use logto_axum::logto_web::util::first_param;
use logto_axum::{AuthRejection, OptionalUser, SessionUser, SignedInUser, see_other};

/// The Logto connector target of Hugging Face.
const HUGGING_FACE: &str = "huggingface";

/// `GET /`: who is signed in, or the three ways in; a notice after a cancelled sign-in or a
/// sign-out that could not reach Logto.
pub async fn home(user: OptionalUser, req: Request) -> Html<String> {
    let mut body = String::new();
    // Notices speak to a signed-out visitor: a reload after signing in must not contradict the page.
    if user.0.is_none() {
        match first_param(req.uri().query().unwrap_or_default().as_bytes(), "notice").as_deref() {
            Some("cancelled") => body.push_str(
                "<div role=\"status\"><p><strong>Sign-in cancelled</strong></p>\
                 <p>You cancelled signing in, so you are still signed out.</p></div>\n",
            ),
            Some("signed_out_locally") => body.push_str(
                "<div role=\"status\"><p><strong>Signed out of this app</strong></p>\
                 <p>The sign-in service could not be reached, so you may still be signed in there. \
                 Sign out there too when it is back, or close the browser.</p></div>\n",
            ),
            _ => {}
        }
    }
    match &user.0 {
        Some(signed_in) => {
            body.push_str(&format!(
                "<h1>Signed in as {}</h1>\n",
                escape(signed_in.user.display_name())
            ));
            body.push_str(&who(&signed_in.user));
            body.push_str("<p><a href=\"/profile\">View profile</a></p>\n");
            body.push_str(&sign_out_form(&signed_in.csrf_token));
        }
        None => body.push_str(
            "<h1>Welcome</h1>\n<p>Sign in to see your profile.</p>\n<ul>\n\
             <li><a href=\"/sign-in\">Sign in</a></li>\n\
             <li><a href=\"/sign-up\">Create account</a></li>\n\
             <li><a href=\"/sign-in/huggingface\">Continue with Hugging Face</a></li>\n</ul>\n",
        ),
    }
    Html(page("Home", &body))
}

/// `GET /sign-out`: the question before signing out, with the form that posts this session's
/// CSRF token. Nobody signed in: home.
pub async fn sign_out_page(user: OptionalUser) -> Response {
    match user.0 {
        Some(signed_in) => {
            let body = format!(
                "<h1>Sign out?</h1>\n<p>Signed in as {}.</p>\n{}<p><a href=\"/\">Stay signed in</a></p>\n",
                escape(signed_in.user.display_name()),
                sign_out_form(&signed_in.csrf_token)
            );
            Html(page("Sign out?", &body)).into_response()
        }
        None => see_other("/"),
    }
}

/// `GET /profile`: the user as Logto knows them (userinfo at most `LOGTO_USERINFO_MAX_AGE_SECS`
/// old), their Hugging Face identity, and the access tokens of `LOGTO_RESOURCES` (never a token
/// itself). Signed out: to sign in, and back here.
pub async fn profile(mut signed_in: SignedInUser) -> Result<Html<String>, AuthRejection> {
    signed_in.revalidate_user().await?;
    let user = &signed_in.user;
    let mut body = format!(
        "<h1>Your profile</h1>\n<dl>\n<dt>Name</dt><dd>{}</dd>\n",
        escape(user.display_name())
    );
    if let Some(email) = &user.email {
        body.push_str(&format!("<dt>Email</dt><dd>{}</dd>\n", escape(email)));
    }
    if let Some(username) = &user.username {
        body.push_str(&format!("<dt>Username</dt><dd>{}</dd>\n", escape(username)));
    }
    body.push_str(&format!("<dt>User ID</dt><dd>{}</dd>\n</dl>\n", escape(&user.sub)));
    body.push_str("<h2>Hugging Face</h2>\n");
    match user.identity(HUGGING_FACE) {
        Some(hf) => {
            if let Some(username) = &hf.username {
                body.push_str(&format!(
                    "<p><a href=\"https://huggingface.co/{}\">@{}</a></p>\n",
                    escape(username),
                    escape(username)
                ));
            }
            if let Some(name) = &hf.name {
                body.push_str(&format!("<p>{}</p>\n", escape(name)));
            }
        }
        None => body.push_str("<p>No Hugging Face account is linked.</p>\n"),
    }
    let resources = signed_in.client().config().resources().to_vec();
    if !resources.is_empty() {
        body.push_str("<h2>API access</h2>\n<ul>\n");
        let now = signed_in.client().now();
        for resource in resources {
            let token = signed_in.access_token(&Audience::Resource(resource.clone())).await?;
            let claims = AccessTokenClaims::read_unverified(&token);
            let scopes = claims.as_ref().map(|c| c.scopes.join(" ")).unwrap_or_default();
            let expires = claims
                .and_then(|c| c.expires_at)
                .map(|at| format!(", expires in {} s", at.saturating_sub(now)))
                .unwrap_or_default();
            body.push_str(&format!(
                "<li>{}: scopes {}{}</li>\n",
                escape(&resource),
                escape(&scopes),
                expires
            ));
        }
        body.push_str("</ul>\n");
    }
    body.push_str(&sign_out_form(&signed_in.csrf_token));
    Ok(Html(page("Your profile", &body)))
}

/// `GET /healthz`: the process serves.
pub async fn healthz() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok")
}

/// No route matched: a page asked for with a trailing slash (`/profile/`) moves to the path
/// without it; anything else is 404 (the error page says so).
pub async fn no_such_page(req: Request) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD)
        && let Some(target) = without_trailing_slash(req.uri().path(), req.uri().query().unwrap_or_default())
        && let Ok(location) = HeaderValue::try_from(target)
    {
        return (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, location)]).into_response();
    }
    StatusCode::NOT_FOUND.into_response()
}

/// Email and Hugging Face account, under the greeting.
fn who(user: &SessionUser) -> String {
    let mut html = String::new();
    if let Some(email) = &user.email {
        html.push_str(&format!("<p>{}</p>\n", escape(email)));
    }
    if let Some(username) = user.identity(HUGGING_FACE).and_then(|hf| hf.username.as_ref()) {
        html.push_str(&format!("<p>Hugging Face: @{}</p>\n", escape(username)));
    }
    html
}

/// The sign-out button: a POST carrying this session's CSRF token.
fn sign_out_form(csrf_token: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/sign-out\"><input type=\"hidden\" name=\"csrf_token\" value=\"{}\">\
         <button type=\"submit\">Sign out</button></form>\n",
        escape(csrf_token)
    )
}

/// A whole page around `body` (HTML already escaped).
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title></head>\n\
         <body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        escape(title)
    )
}

/// `text` safe inside HTML text and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_become_markup() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"
        );
    }
}
