//! English and Spanish: chosen with the switcher (remembered in a cookie) or by the browser's
//! `Accept-Language`, on every page including errors, and passed on to Logto as `ui_locales`.

use reqwest::StatusCode;

use crate::helpers::app::{TestApp, location, query_of, set_cookies, unescape_html};

async fn page_with_language(app: &TestApp, path: &str, accept_language: &str) -> (StatusCode, String) {
    let response = app
        .http
        .get(app.url(path))
        .header("accept-language", accept_language)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, unescape_html(&response.text().await.unwrap()))
}

#[tokio::test]
async fn a_spanish_browser_gets_spanish_pages_and_a_spanish_logto() {
    let app = TestApp::spawn().await;
    let (status, home) = page_with_language(&app, "/", "es-ES,es;q=0.9,en;q=0.8").await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("<html lang=\"es\">"), "{home}");
    assert!(home.contains(">Iniciar sesión</a>"), "{home}");
    assert!(home.contains("Crear cuenta"));
    assert!(home.contains("Continuar con Hugging Face"));
    assert!(!home.contains("Create account"));

    let response = app
        .http
        .get(app.url("/sign-in"))
        .header("accept-language", "es-MX")
        .send()
        .await
        .unwrap();
    assert_eq!(query_of(&location(&response))["ui_locales"], vec!["es".to_owned()]);

    let (status, missing) = page_with_language(&app, "/no-such-page", "es").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(missing.contains("Página no encontrada"), "{missing}");
    assert!(missing.contains("Volver al inicio"));
}

#[tokio::test]
async fn english_is_the_default_and_is_what_logto_is_asked_for() {
    let app = TestApp::spawn().await;
    let (_, home) = page_with_language(&app, "/", "de-DE, fr;q=0.8").await;
    assert!(home.contains("<html lang=\"en\">"));
    assert!(home.contains(">Sign in</a>"));
    let authorize = app.start_sign_in("/sign-up").await;
    let params = query_of(&authorize);
    assert_eq!(params["ui_locales"], vec!["en".to_owned()]);
    // ui_locales does not disturb Logto's own parameters.
    assert_eq!(params["first_screen"], vec!["register".to_owned()]);
}

#[tokio::test]
async fn the_switcher_remembers_the_choice_over_the_browser_language_and_returns_to_the_page() {
    let app = TestApp::spawn().await;
    let (_, home) = page_with_language(&app, "/?notice=cancelled", "en").await;
    assert!(
        home.contains("href=\"/lang/es?return_to=%2F%3Fnotice%3Dcancelled\""),
        "the switcher links back to this page: {home}"
    );

    let response = app.get("/lang/es?return_to=%2F%3Fnotice%3Dcancelled").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/?notice=cancelled");
    let cookie = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("lang="))
        .expect("a lang cookie");
    for part in ["lang=es", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=31536000"] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }

    // The cookie wins over Accept-Language, on pages and on the notice alike.
    let (_, home) = page_with_language(&app, "/?notice=cancelled", "en").await;
    assert!(home.contains("<html lang=\"es\">"));
    assert!(home.contains("Inicio de sesión cancelado"), "{home}");
    assert!(home.contains("aria-current=\"true\">Español</a>"), "{home}");
    let response = app
        .http
        .get(app.url("/sign-in"))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(query_of(&location(&response))["ui_locales"], vec!["es".to_owned()]);

    // And back to English.
    let response = app.get("/lang/en?return_to=%2F").await;
    assert_eq!(location(&response), "/");
    assert!(app.page("/").await.contains(">Sign in</a>"));
}

#[tokio::test]
async fn the_switcher_stays_on_the_site_and_knows_only_its_languages() {
    let app = TestApp::spawn().await;
    for evil in ["https%3A%2F%2Fevil.example", "%2F%2Fevil.example", "%2F%5Cevil.example"] {
        let response = app.get(&format!("/lang/es?return_to={evil}")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/", "return_to={evil}");
    }
    for unknown in ["/lang/fr", "/lang/es-MX", "/lang/eng"] {
        let response = app.get(unknown).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{unknown}");
        assert!(set_cookies(&response).iter().all(|c| !c.starts_with("lang=")));
    }
}

#[tokio::test]
async fn behind_https_the_language_cookie_is_secure_and_host_prefixed() {
    let app = TestApp::spawn_with(crate::helpers::app::AppOptions {
        https: true,
        ..Default::default()
    })
    .await;
    let response = app.get("/lang/es").await;
    assert_eq!(location(&response), "/");
    let cookies = set_cookies(&response);
    assert!(cookies.iter().all(|c| !c.starts_with("lang=")), "{cookies:?}");
    let cookie = cookies
        .iter()
        .find(|c| c.starts_with("__Host-lang=es"))
        .expect("a __Host-lang cookie");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain="),
        "{cookie}"
    );
    // Read back under that name: the choice holds.
    let (_, home) = page_with_language(&app, "/", "en").await;
    assert!(home.contains("<html lang=\"es\">"), "{home}");
    // A plain `lang` cookie (which a sibling host could plant) is not read behind https.
    let planted = logto_test_provider::http_client()
        .get(app.url("/"))
        .header("cookie", "lang=en")
        .header("accept-language", "es")
        .send()
        .await
        .unwrap();
    assert!(planted.text().await.unwrap().contains("<html lang=\"es\">"));
}
