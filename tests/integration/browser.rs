//! Real browser, real people: Chromium signs in, signs up, cancels and signs out against the app
//! and the Logto-shaped provider, and checks what a person sees. Every page passed is saved
//! under `target/screenshots/<test>/`.

use crate::helpers::app::TestApp;
use crate::helpers::browser::{Browser, Look, Scheme, Viewport, screenshot_dir, with_browser};

/// What a person reads on the app's pages, in one language: the test's own words, so that a
/// wrong translation in the app fails here.
struct Words {
    lang: &'static str,
    welcome: &'static str,
    sign_in: &'static str,
    create_account: &'static str,
    continue_with_hf: &'static str,
    signed_in_as: &'static str,
    view_profile: &'static str,
    your_profile: &'static str,
    sign_out: &'static str,
    no_hf: &'static str,
    cancelled: &'static str,
    cancelled_text: &'static str,
    not_found: &'static str,
    back_home: &'static str,
    invalid_link: &'static str,
    sign_in_again: &'static str,
    skip: &'static str,
    /// The provider's pages, which follow `ui_locales`.
    op_username: &'static str,
    op_password: &'static str,
    op_name: &'static str,
    op_email: &'static str,
    op_cancel: &'static str,
}

const EN: Words = Words {
    lang: "en",
    welcome: "Welcome",
    sign_in: "Sign in",
    create_account: "Create account",
    continue_with_hf: "Continue with Hugging Face",
    signed_in_as: "Signed in as",
    view_profile: "View profile",
    your_profile: "Your profile",
    sign_out: "Sign out",
    no_hf: "No Hugging Face account is linked.",
    cancelled: "Sign-in cancelled",
    cancelled_text: "You cancelled signing in, so you are still signed out.",
    not_found: "Page not found",
    back_home: "Back to home",
    invalid_link: "This sign-in link is not valid",
    sign_in_again: "Sign in again",
    skip: "Skip to content",
    op_username: "Username",
    op_password: "Password",
    op_name: "Name",
    op_email: "Email",
    op_cancel: "Cancel and go back to the app",
};

const ES: Words = Words {
    lang: "es",
    welcome: "Te damos la bienvenida",
    sign_in: "Iniciar sesión",
    create_account: "Crear cuenta",
    continue_with_hf: "Continuar con Hugging Face",
    signed_in_as: "Sesión iniciada como",
    view_profile: "Ver perfil",
    your_profile: "Tu perfil",
    sign_out: "Cerrar sesión",
    no_hf: "No hay ninguna cuenta de Hugging Face vinculada.",
    cancelled: "Inicio de sesión cancelado",
    cancelled_text: "Cancelaste el inicio de sesión, así que sigues sin sesión iniciada.",
    not_found: "Página no encontrada",
    back_home: "Volver al inicio",
    invalid_link: "Este enlace de inicio de sesión no es válido",
    sign_in_again: "Volver a iniciar sesión",
    skip: "Saltar al contenido",
    op_username: "Nombre de usuario",
    op_password: "Contraseña",
    op_name: "Nombre",
    op_email: "Correo electrónico",
    op_cancel: "Cancelar y volver a la aplicación",
};

const ENGLISH_LIGHT_DESKTOP: Look = Look {
    accept_language: "en-US,en;q=0.9",
    scheme: Scheme::Light,
    viewport: Viewport::Desktop,
};
const SPANISH_DARK_PHONE: Look = Look {
    accept_language: "es-ES,es;q=0.9",
    scheme: Scheme::Dark,
    viewport: Viewport::Phone,
};
const ENGLISH_DARK_PHONE: Look = Look {
    accept_language: "en-GB,en;q=0.9",
    scheme: Scheme::Dark,
    viewport: Viewport::Phone,
};
const SPANISH_LIGHT_DESKTOP: Look = Look {
    accept_language: "es-MX,es;q=0.9",
    scheme: Scheme::Light,
    viewport: Viewport::Desktop,
};

/// What the seeded Hugging Face user's avatar URL is (it cannot load here: no internet).
const ADA_PICTURE: &str = "https://cdn-avatars.huggingface.co/v1/production/uploads/ada-hf.png";

/// The signed-out home page as a person sees it: the three ways in and no way out.
async fn assert_signed_out_home(b: &Browser, w: &Words) {
    b.wait_for_path("/").await;
    let text = b.wait_for_text(w.welcome).await;
    for button in [w.sign_in, w.create_account, w.continue_with_hf] {
        assert!(text.contains(button), "the home page offers {button:?}: {text}");
    }
    assert!(!text.contains(w.sign_out), "no sign-out button when signed out: {text}");
    assert_eq!(b.page_lang().await, w.lang);
}

/// Presses Tab until the focused element's text is `label`, then Enter: the keyboard-only way.
async fn keyboard_activate(b: &Browser, label: &str) {
    const TAB: &str = "\u{E004}";
    const ENTER: &str = "\u{E007}";
    for _ in 0..20 {
        let focused = b.client.active_element().await.expect("a focused element");
        focused.send_keys(TAB).await.expect("press Tab");
        let focused = b.client.active_element().await.expect("a focused element");
        if focused.text().await.unwrap_or_default().trim() == label {
            focused.send_keys(ENTER).await.expect("press Enter");
            return;
        }
    }
    panic!("{label:?} cannot be reached with the Tab key");
}

async fn hugging_face_story(b: Browser, w: &'static Words, switch_language: bool) {
    let app = TestApp::spawn().await;
    b.goto(&app.url("/")).await;
    if switch_language {
        // The browser asks for English; the person picks Spanish from the switcher.
        assert_signed_out_home(&b, &EN).await;
        b.click_labelled("Español").await;
    }
    assert_signed_out_home(&b, w).await;
    b.screenshot("home-signed-out").await;

    // Keyboard only: the first Tab shows the skip link, and Tab + Enter reaches Hugging Face.
    let first = b.client.active_element().await.expect("focus");
    first.send_keys("\u{E004}").await.expect("press Tab");
    let skip = b.client.active_element().await.expect("focus");
    assert_eq!(skip.text().await.unwrap().trim(), w.skip);
    assert!(skip.is_displayed().await.unwrap(), "the focused skip link is visible");
    b.screenshot("home-skip-link-focused").await;
    keyboard_activate(&b, w.continue_with_hf).await;

    // Back from Logto (straight through the Hugging Face connector), signed in.
    b.wait_for_path("/").await;
    let home = b.wait_for_text(&format!("{} Ada Lovelace", w.signed_in_as)).await;
    assert!(home.contains("@ada-hf"), "the Hugging Face username is shown: {home}");
    let avatar = b.find("img[data-field=avatar]").await;
    assert_eq!(avatar.attr("src").await.unwrap().as_deref(), Some(ADA_PICTURE));
    // The picture cannot load here: the initial under it is what a person sees instead.
    assert_eq!(
        b.find(".avatar").await.attr("data-initial").await.unwrap().as_deref(),
        Some("A")
    );
    assert_eq!(b.page_lang().await, w.lang);
    b.screenshot("home-signed-in").await;

    b.click_labelled(w.view_profile).await;
    b.wait_for_path("/profile").await;
    let profile = b.wait_for_text(w.your_profile).await;
    for fact in ["Ada Lovelace", "@ada-hf", "user-hf", "https://huggingface.co/ada-hf"] {
        assert!(profile.contains(fact), "the profile shows {fact:?}: {profile}");
    }
    assert!(
        b.has("img[data-field=hf-avatar]").await,
        "the Hugging Face avatar is there"
    );
    assert!(
        b.has("a[href='/profile'][aria-current=page]").await,
        "the header says which page this is"
    );
    b.screenshot("profile").await;

    // Sign out with the form's button; Logto ends its session and sends the browser home.
    b.click_labelled(w.sign_out).await;
    assert_signed_out_home(&b, w).await;
    b.screenshot("home-after-sign-out").await;
    assert!(
        app.provider.stats().await.end_sessions >= 1,
        "Logto's session ended too"
    );
    assert!(
        app.provider.stats().await.revocations >= 1,
        "the refresh token was revoked"
    );
}

#[tokio::test]
async fn continue_with_hugging_face_shows_the_username_and_avatar_then_signs_out() {
    let shots = screenshot_dir("hugging_face");
    with_browser(ENGLISH_LIGHT_DESKTOP, &shots, |b| hugging_face_story(b, &EN, false)).await;
    with_browser(ENGLISH_DARK_PHONE, &shots, |b| hugging_face_story(b, &ES, true)).await;
}

#[tokio::test]
async fn create_account_signs_in_the_new_user() {
    let shots = screenshot_dir("create_account");
    with_browser(SPANISH_DARK_PHONE, &shots, |b| async move {
        let w = &ES;
        let app = TestApp::spawn().await;
        b.goto(&app.url("/")).await;
        assert_signed_out_home(&b, w).await;
        b.screenshot("home-signed-out").await;

        b.click_labelled(w.create_account).await;
        // Logto's registration screen, in the app's language.
        b.wait_for_text(w.op_email).await;
        assert_eq!(b.text("h1").await, w.create_account);
        assert_eq!(b.page_lang().await, "es");
        b.fill_labelled(w.op_username, "grace").await;
        b.fill_labelled(w.op_password, "a-long-password-1").await;
        b.fill_labelled(w.op_name, "Grace Hopper").await;
        b.fill_labelled(w.op_email, "grace@example.com").await;
        b.screenshot("logto-registration").await;
        b.click_labelled(w.create_account).await;

        b.wait_for_path("/").await;
        let home = b.wait_for_text(&format!("{} Grace Hopper", w.signed_in_as)).await;
        assert!(home.contains("grace@example.com"), "{home}");
        // No picture: the initial stands in.
        assert!(!b.has("img[data-field=avatar]").await);
        assert_eq!(
            b.find(".avatar").await.attr("data-initial").await.unwrap().as_deref(),
            Some("G")
        );
        b.screenshot("home-signed-in").await;

        b.click_labelled(w.view_profile).await;
        b.wait_for_path("/profile").await;
        let profile = b.wait_for_text("grace@example.com").await;
        assert!(profile.contains(w.no_hf), "{profile}");
        b.screenshot("profile").await;
    })
    .await;
}

#[tokio::test]
async fn sign_in_with_the_form_and_a_deep_link_back_to_the_profile() {
    let shots = screenshot_dir("sign_in_form");
    with_browser(ENGLISH_DARK_PHONE, &shots, |b| async move {
        let w = &EN;
        let app = TestApp::spawn().await;

        // A bookmark to /profile, signed out: sign in first, then the profile.
        b.goto(&app.url("/profile")).await;
        b.wait_for_text(w.op_password).await;
        assert_eq!(b.text("h1").await, w.sign_in);
        b.fill_labelled(w.op_username, "demo").await;
        b.fill_labelled(w.op_password, "demo-password").await;
        b.screenshot("logto-sign-in").await;
        b.click_labelled(w.sign_in).await;
        b.wait_for_path("/profile").await;
        let profile = b.wait_for_text(w.your_profile).await;
        for fact in ["Demo User", "demo@example.com", "user-demo", w.no_hf] {
            assert!(profile.contains(fact), "the profile shows {fact:?}: {profile}");
        }
        b.screenshot("profile").await;

        b.click_labelled(w.sign_out).await;
        assert_signed_out_home(&b, w).await;
        b.screenshot("home-signed-out").await;

        // The plain way: "Sign in" on the home page, the form, home signed in.
        b.click_labelled(w.sign_in).await;
        b.wait_for_text(w.op_password).await;
        b.fill_labelled(w.op_username, "demo").await;
        b.fill_labelled(w.op_password, "wrong-password").await;
        b.click_labelled(w.sign_in).await;
        b.wait_for_text("Incorrect username or password.").await;
        b.screenshot("logto-wrong-password").await;
        b.fill_labelled(w.op_password, "demo-password").await;
        b.click_labelled(w.sign_in).await;
        b.wait_for_path("/").await;
        let home = b.wait_for_text(&format!("{} Demo User", w.signed_in_as)).await;
        assert!(home.contains(w.sign_out) && home.contains(w.view_profile), "{home}");
        b.screenshot("home-signed-in").await;
    })
    .await;
}

async fn cancel_story(b: Browser, w: &'static Words) {
    let app = TestApp::spawn().await;
    b.goto(&app.url("/")).await;
    assert_signed_out_home(&b, w).await;
    b.click_labelled(w.sign_in).await;
    b.wait_for_text(w.op_cancel).await;
    b.screenshot("logto-sign-in").await;
    b.click_labelled(w.op_cancel).await;

    b.wait_for_path("/").await;
    let home = b.wait_for_text(w.cancelled).await;
    assert!(home.contains(w.cancelled_text), "{home}");
    assert!(
        b.has("[role=status]").await,
        "the notice is announced to screen readers"
    );
    assert_signed_out_home(&b, w).await;
    b.screenshot("home-cancelled").await;
}

#[tokio::test]
async fn cancelling_at_logto_comes_home_signed_out_with_a_friendly_message() {
    let shots = screenshot_dir("cancel");
    with_browser(ENGLISH_LIGHT_DESKTOP, &shots, |b| cancel_story(b, &EN)).await;
    with_browser(SPANISH_DARK_PHONE, &shots, |b| cancel_story(b, &ES)).await;
}

/// Every page, in each language and color scheme, on a phone and a desktop; checks that the
/// scheme and language really apply and that nothing is wider than the screen.
async fn gallery(b: Browser, w: &'static Words) {
    let app = TestApp::spawn().await;
    let dark = b.look().scheme == Scheme::Dark;
    let check = |name: &'static str| {
        let b = &b;
        async move {
            assert_eq!(b.page_lang().await, w.lang, "language of {name}");
            let background = b.css("body", "background-color").await;
            let expected = if dark {
                "rgba(15, 17, 21, 1)"
            } else {
                "rgba(244, 245, 248, 1)"
            };
            assert_eq!(background, expected, "color scheme of {name}");
            let fits = b
                .eval("return document.documentElement.scrollWidth <= window.innerWidth")
                .await;
            assert_eq!(fits, serde_json::json!(true), "{name} fits the screen width");
            b.screenshot(name).await;
        }
    };

    b.goto(&app.url("/")).await;
    assert_signed_out_home(&b, w).await;
    check("home-signed-out").await;

    b.goto(&app.url("/?notice=cancelled")).await;
    b.wait_for_text(w.cancelled_text).await;
    check("home-cancelled").await;

    b.goto(&app.url("/no-such-page")).await;
    b.wait_for_text(w.not_found).await;
    assert!(b.wait_for_text(w.back_home).await.contains("404"));
    check("error-not-found").await;

    // A sign-in link that was never started here: what it means, and two ways on.
    b.goto(&app.url("/callback?code=stolen&state=unknown")).await;
    let text = b.wait_for_text(w.invalid_link).await;
    assert!(text.contains(w.sign_in_again) && text.contains(w.back_home), "{text}");
    check("error-invalid-link").await;

    b.goto(&app.url("/")).await;
    b.click_labelled(w.sign_in).await;
    b.wait_for_text(w.op_password).await;
    b.screenshot("logto-sign-in").await;

    b.goto(&app.url("/")).await;
    b.click_labelled(w.create_account).await;
    b.wait_for_text(w.op_email).await;
    b.screenshot("logto-registration").await;

    b.goto(&app.url("/")).await;
    b.click_labelled(w.continue_with_hf).await;
    b.wait_for_text("@ada-hf").await;
    check("home-signed-in").await;

    // On a phone the header wraps: Profile and the languages still sit on one line.
    let edges = b
        .eval(
            "const r = s => document.querySelector(s).getBoundingClientRect(); \
             const p = r('.header-links a[href=\"/profile\"]'), l = r('.languages a'); \
             return [p.top, l.top, p.bottom, l.bottom];",
        )
        .await;
    let edges: Vec<f64> = serde_json::from_value(edges).unwrap();
    assert!(
        (edges[0] - edges[1]).abs() < 0.5 && (edges[2] - edges[3]).abs() < 0.5,
        "Profile link and language links line up: {edges:?}"
    );

    b.goto(&app.url("/profile")).await;
    b.wait_for_text(w.your_profile).await;
    check("profile").await;

    b.goto(&app.url("/sign-out")).await;
    b.wait_for_text("Ada Lovelace").await;
    check("sign-out").await;
}

#[tokio::test]
async fn every_page_in_both_languages_and_both_color_schemes() {
    let shots = screenshot_dir("gallery");
    with_browser(ENGLISH_LIGHT_DESKTOP, &shots, |b| gallery(b, &EN)).await;
    with_browser(SPANISH_DARK_PHONE, &shots, |b| gallery(b, &ES)).await;
    with_browser(ENGLISH_DARK_PHONE, &shots, |b| gallery(b, &EN)).await;
    with_browser(SPANISH_LIGHT_DESKTOP, &shots, |b| gallery(b, &ES)).await;
}

#[tokio::test]
async fn a_sign_in_started_on_another_host_name_finishes_signed_in() {
    let shots = screenshot_dir("other_host_name");
    with_browser(ENGLISH_LIGHT_DESKTOP, &shots, |b| async move {
        let w = &EN;
        // APP_BASE_URL is http://127.0.0.1:PORT; the person types localhost.
        let app = TestApp::spawn().await;
        b.goto(&app.url("/").replace("127.0.0.1", "localhost")).await;
        assert_signed_out_home(&b, w).await;
        b.screenshot("home-signed-out").await;
        b.click_labelled(w.sign_in).await;
        b.wait_for_text(w.op_password).await;
        b.fill_labelled(w.op_username, "demo").await;
        b.fill_labelled(w.op_password, "demo-password").await;
        b.click_labelled(w.sign_in).await;
        b.wait_for_path("/").await;
        b.wait_for_text(&format!("{} Demo User", w.signed_in_as)).await;
        b.screenshot("home-signed-in").await;
        assert_eq!(b.url().await.host_str(), Some("127.0.0.1"), "on APP_BASE_URL's name");
    })
    .await;
}
