//! A session cookie the app did not write, or wrote under another key, or that was cut or bloated
//! on the way, leaves the visitor signed out: never a 500, never someone else's session.

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};

use crate::helpers::app::{Adapter, AppOptions, TestApp, set_cookies};

const COOKIE_NAME: &str = "logto-session";

/// Signs the demo user in and returns the session cookie's value the app set.
async fn signed_in_cookie(app: &TestApp) -> String {
    let response = app.sign_in_as_demo().await;
    let cookie = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with(&format!("{COOKIE_NAME}=")))
        .expect("the callback sets the session cookie");
    let name_value = cookie.split(';').next().unwrap();
    name_value[COOKIE_NAME.len() + 1..].to_owned()
}

/// What a browser holding only this cookie sees: the home page's and /profile's answers.
struct Visit {
    home_status: StatusCode,
    home: String,
    profile_status: StatusCode,
    profile_location: Option<String>,
}

async fn visit_with_cookie(app: &TestApp, value: &str) -> Visit {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = format!("{COOKIE_NAME}={value}");
    let home = browser.get(app.url("/")).header(COOKIE, &cookie).send().await.unwrap();
    let home_status = home.status();
    let home = home.text().await.unwrap();
    let profile = browser
        .get(app.url("/profile"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    Visit {
        home_status,
        home,
        profile_status: profile.status(),
        profile_location: profile.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned()),
    }
}

impl Visit {
    fn signed_in(&self) -> bool {
        self.home.contains("Signed in as")
    }

    /// Signed out, and no 5xx anywhere.
    fn check_signed_out(&self) -> Result<(), String> {
        if self.home_status != StatusCode::OK || self.signed_in() || !self.home.contains("href=\"/sign-in\"") {
            return Err(format!(
                "home answered {} and is not the signed-out page",
                self.home_status
            ));
        }
        if self.profile_status != StatusCode::SEE_OTHER
            || self.profile_location.as_deref() != Some("/sign-in?return_to=%2Fprofile")
        {
            return Err(format!(
                "/profile answered {} to {:?} instead of asking to sign in",
                self.profile_status, self.profile_location
            ));
        }
        Ok(())
    }
}

for_each_adapter!(a_tampered_truncated_foreign_or_oversized_session_cookie_means_signed_out);
async fn a_tampered_truncated_foreign_or_oversized_session_cookie_means_signed_out(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    let genuine = signed_in_cookie(&app).await;
    assert!(
        visit_with_cookie(&app, &genuine).await.signed_in(),
        "the genuine cookie, sent by hand, is a signed-in session"
    );

    // The same sign-in at an app with another SESSION_SECRET.
    let other = TestApp::spawn_with(AppOptions {
        adapter,
        env: vec![("SESSION_SECRET", "another-secret-".repeat(6))],
        ..Default::default()
    })
    .await;
    let foreign = signed_in_cookie(&other).await;

    let middle = genuine.len() / 2;
    let flipped = |at: usize| {
        let mut bytes = genuine.clone().into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    };
    let cases = [
        ("one character changed in the middle", flipped(middle)),
        ("one character changed at the end", flipped(genuine.len() - 1)),
        ("cut in half", genuine[..middle].to_owned()),
        ("last characters cut", genuine[..genuine.len() - 4].to_owned()),
        ("from an app with another SESSION_SECRET", foreign),
        ("empty", String::new()),
        ("not base64", "%%%not-base64!!!".to_owned()),
        ("oversized (6 KB)", "A".repeat(6 * 1024)),
        ("far oversized (64 KB)", "A".repeat(64 * 1024)),
        ("the genuine cookie twice", format!("{genuine}{genuine}")),
    ];
    for (case, value) in cases {
        let visit = visit_with_cookie(&app, &value).await;
        if let Err(problem) = visit.check_signed_out() {
            panic!("cookie {case}: {problem}");
        }
    }

    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

/// Random cookie values, and the genuine one with a byte changed or its end cut: every one reads
/// as signed out. A bounded run (256 cases) against the running app.
#[test]
fn random_session_cookies_never_cause_a_server_error_and_never_sign_anyone_in() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(TestApp::spawn());
    let genuine = runtime.block_on(signed_in_cookie(&app));
    let len = genuine.len();

    let cookie_octets = "[!#-+\\--:<-\\[\\]-~]{0,300}";
    let base64ish = "[A-Za-z0-9+/=_-]{0,600}";
    let changed = {
        let genuine = genuine.clone();
        (0..len, "[A-Za-z0-9+/=_-]").prop_filter_map("a real change", move |(at, with)| {
            let mut value = genuine.clone();
            value.replace_range(at..at + 1, &with);
            (value != genuine).then_some(value)
        })
    };
    let cut = {
        let genuine = genuine.clone();
        (0..len).prop_map(move |at| genuine[..at].to_owned())
    };
    let strategy = prop_oneof![
        cookie_octets.prop_map(|s: String| s),
        base64ish.prop_map(|s: String| s),
        changed,
        cut
    ];

    let mut runner = TestRunner::new(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&strategy, |value| {
            let visit = runtime.block_on(visit_with_cookie(&app, &value));
            prop_assert!(visit.check_signed_out().is_ok(), "{:?}", visit.check_signed_out());
            Ok(())
        })
        .unwrap();
}

for_each_adapter!(every_character_of_the_session_secret_counts);
async fn every_character_of_the_session_secret_counts(adapter: Adapter) {
    use crate::helpers::app::TEST_SESSION_SECRET;
    assert!(TEST_SESSION_SECRET.len() > 64);
    let app = TestApp::start(adapter).await;
    let cookie = signed_in_cookie(&app).await;

    // Another instance with the same secret opens the session: the key comes from the secret alone.
    let same = TestApp::spawn_on(
        app.provider.clone(),
        AppOptions {
            adapter,
            ..AppOptions::default()
        },
    )
    .await;
    assert!(
        visit_with_cookie(&same, &cookie).await.signed_in(),
        "same SESSION_SECRET"
    );

    // So does the other framework's app: one key derivation, one cookie, on both adapters.
    let across = TestApp::spawn_on(
        app.provider.clone(),
        AppOptions {
            adapter: match adapter {
                Adapter::Actix => Adapter::Axum,
                Adapter::Axum => Adapter::Actix,
            },
            ..AppOptions::default()
        },
    )
    .await;
    assert!(
        visit_with_cookie(&across, &cookie).await.signed_in(),
        "same SESSION_SECRET on the other adapter"
    );

    // A secret that differs only after its 64th character is another key.
    let mut changed = TEST_SESSION_SECRET.to_owned();
    changed.pop();
    changed.push('!');
    let other = TestApp::spawn_on(
        app.provider.clone(),
        AppOptions {
            adapter,
            env: vec![("SESSION_SECRET", changed)],
            ..Default::default()
        },
    )
    .await;
    if let Err(problem) = visit_with_cookie(&other, &cookie).await.check_signed_out() {
        panic!("a secret differing after 64 characters opened the session: {problem}");
    }
}
