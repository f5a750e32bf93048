//! With cookie sessions the ID token, which only sign-out needs (`id_token_hint`), travels in a
//! cookie of its own whose `Path` is `/sign-out`: the session cookie read on every other request
//! is ~750 bytes lighter. The hint still reaches Logto's end-session, the newest ID token after a
//! refresh, and a session cookie of the previous release (ID token inside) still signs out with it.

use std::sync::Arc;
use std::time::Duration;

use actix_web::cookie::{Cookie, CookieJar, Key};
use reqwest::StatusCode;
use reqwest::cookie::CookieStore;
use serde_json::{Value, json};

use crate::helpers::app::{
    Adapter, AppOptions, DEMO, TEST_SESSION_SECRET, TestApp, cookie_pair, hidden_input, location, query_of, set_cookies,
};
use crate::helpers::redis::TestRedis;
use logto_test_provider::{complete_authorization, complete_end_session, http_client};

const SESSION: &str = "logto-session";
const ID_TOKEN: &str = "logto-id-token";

/// A browser whose cookies the test can look at: what it would send to each path.
fn browser() -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    (client, jar)
}

/// The app with userinfo read on every `/profile` view and access tokens of a minute (refreshed
/// after 30 s on the app's clock), driven by a browser whose cookies the test sees.
async fn app_and_browser(adapter: Adapter) -> (TestApp, Arc<reqwest::cookie::Jar>) {
    let mut app = TestApp::spawn_with(AppOptions {
        adapter,
        env: vec![("LOGTO_USERINFO_MAX_AGE_SECS", "0".into())],
        ..Default::default()
    })
    .await;
    app.provider.set_ttl(Some(60), None, None).await;
    let (http, jar) = browser();
    app.http = http;
    (app, jar)
}

/// The `Cookie:` header the browser sends to `path` of the app.
fn cookies_sent_to(app: &TestApp, jar: &reqwest::cookie::Jar, path: &str) -> String {
    let url = app.url(path).parse().unwrap();
    jar.cookies(&url)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn key() -> Key {
    Key::derive_from(TEST_SESSION_SECRET.as_bytes())
}

/// Cookie `name` of a `Cookie:` header, as it travels (percent-encoded as the app wrote it).
fn raw_cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split("; ")
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// Cookie `name` of a `Cookie:` header, opened with the app's key.
fn open(header: &str, name: &str) -> Option<String> {
    let cookie = Cookie::parse_encoded(format!("{name}={}", raw_cookie(header, name)?)).ok()?;
    let mut jar = CookieJar::new();
    jar.add_original(cookie.into_owned());
    jar.private(&key()).get(name).map(|c| c.value().to_owned())
}

/// `text` sealed as the app seals cookie `name`: the value to send.
fn seal(name: &str, text: &str) -> String {
    let mut jar = CookieJar::new();
    jar.private_mut(&key())
        .add(Cookie::new(name.to_owned(), text.to_owned()));
    jar.delta().next().unwrap().value().to_owned()
}

/// The entries of the session's text (`s1;` then each name and value with its byte length).
fn entries(text: &str) -> Vec<(String, String)> {
    /// One length-prefixed part, and what follows it.
    fn part(rest: &str) -> (String, &str) {
        let (length, after) = rest.split_once(':').unwrap();
        let (part, after) = after.split_at(length.parse().unwrap());
        (part.to_owned(), after)
    }
    let mut rest = text.strip_prefix("s1;").expect("the session text");
    let mut entries = Vec::new();
    while !rest.is_empty() {
        let (name, after) = part(rest);
        let (value, after) = part(after);
        entries.push((name, value));
        rest = after;
    }
    entries
}

fn text_of(entries: &[(String, String)]) -> String {
    let mut text = "s1;".to_owned();
    for (name, value) in entries {
        text.push_str(&format!("{}:{name}{}:{value}", name.len(), value.len()));
    }
    text
}

/// The `Set-Cookie` of the ID token cookie in a response, if any.
fn id_token_set_cookie(response: &reqwest::Response) -> Option<String> {
    set_cookies(response)
        .into_iter()
        .find(|c| c.starts_with(&format!("{ID_TOKEN}=")))
}

/// What the session cookie sent to home holds: its size on the wire and its opened text,
/// checked to hold no ID token.
fn assert_home_carries_no_id_token(app: &TestApp, jar: &reqwest::cookie::Jar, id_token: &str) -> usize {
    let home = cookies_sent_to(app, jar, "/");
    assert!(
        raw_cookie(&home, ID_TOKEN).is_none(),
        "home gets no ID token cookie: {home}"
    );
    let session = raw_cookie(&home, SESSION).expect("home gets the session cookie");
    let text = open(&home, SESSION).expect("the session cookie opens");
    assert!(!text.contains(id_token), "the session cookie holds the ID token");
    assert!(!text.contains("\"id_token\""), "{text}");
    // 1,426 bytes with the ID token inside, for this user.
    let size = SESSION.len() + 1 + session.len();
    assert!(size < 1000, "session cookie of {size} bytes");
    size
}

for_each_adapter!(the_id_token_goes_to_sign_out_only_and_stays_the_newest);
async fn the_id_token_goes_to_sign_out_only_and_stays_the_newest(adapter: Adapter) {
    let (app, jar) = app_and_browser(adapter).await;
    let callback = app.sign_in_as_demo().await;
    let set = id_token_set_cookie(&callback).expect("the callback sets the ID token cookie");
    for attribute in ["Path=/sign-out", "HttpOnly", "SameSite=Lax"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains("Secure"), "plain http base URL: {set}");
    let at_sign_in = app.id_tokens().await;
    assert_eq!(at_sign_in.len(), 1);
    assert!(!cookie_pair(&set).contains("eyJ"), "encrypted: {set}");

    let size = assert_home_carries_no_id_token(&app, &jar, &at_sign_in[0]);
    eprintln!("session cookie sent to home after sign-in: {size} bytes");
    let sign_out = cookies_sent_to(&app, &jar, "/sign-out");
    assert_eq!(open(&sign_out, ID_TOKEN).as_deref(), Some(at_sign_in[0].as_str()));
    assert!(app.page("/").await.contains("Demo User"));

    // Stale after 30 s on the app's clock: the next view refreshes, and Logto sends a new ID
    // token, which the same response keeps in the ID token cookie.
    app.advance_clock(Duration::from_secs(31));
    let profile = app.get("/profile").await;
    assert_eq!(profile.status(), StatusCode::OK);
    assert!(
        id_token_set_cookie(&profile).is_some(),
        "/profile rewrites the ID token cookie"
    );
    let now = app.id_tokens().await;
    assert_eq!(now.len(), 2, "the refresh grant gave a new ID token");
    assert_home_carries_no_id_token(&app, &jar, &now[1]);
    let sign_out = cookies_sent_to(&app, &jar, "/sign-out");
    assert_eq!(open(&sign_out, ID_TOKEN).as_deref(), Some(now[1].as_str()));

    let csrf = app.csrf_token().await;
    let response = app.post_sign_out(&format!("csrf_token={csrf}")).await;
    let removal = id_token_set_cookie(&response).expect("sign-out removes the ID token cookie");
    assert!(
        removal.contains("Path=/sign-out") && removal.contains("Max-Age=0"),
        "{removal}"
    );
    assert!(raw_cookie(&cookies_sent_to(&app, &jar, "/sign-out"), ID_TOKEN).is_none());
    let end_session = location(&response);
    assert_eq!(query_of(&end_session)["id_token_hint"], vec![now[1].clone()]);
    // The provider answers 400 to a hint that is not one of its ID tokens.
    let back = complete_end_session(&app.http, &end_session).await;
    assert_eq!(back.as_str(), app.url("/"));
    assert!(app.is_signed_out().await);
}

/// A session cookie as the previous release wrote it: the same session with the ID token in its
/// tokens entry, and no ID token cookie.
fn previous_release_cookie(session_text: &str, id_token: &str) -> String {
    let mut entries = entries(session_text);
    let tokens = entries.iter_mut().find(|(name, _)| name == "tokens").unwrap();
    let mut value: Value = serde_json::from_str(&tokens.1).unwrap();
    value["id_token"] = json!(id_token);
    tokens.1 = value.to_string();
    seal(SESSION, &text_of(&entries))
}

/// Signs in, then returns a browser that holds only the previous release's form of that session.
async fn browser_of_the_previous_release(app: &mut TestApp, jar: &reqwest::cookie::Jar) -> Arc<reqwest::cookie::Jar> {
    app.sign_in_as_demo().await;
    let sign_out = cookies_sent_to(app, jar, "/sign-out");
    let id_token = open(&sign_out, ID_TOKEN).expect("the ID token cookie");
    let text = open(&sign_out, SESSION).unwrap();
    let old = previous_release_cookie(&text, &id_token);
    let (http, old_jar) = browser();
    old_jar.add_cookie_str(&format!("{SESSION}={old}; Path=/"), &app.url("/").parse().unwrap());
    app.http = http;
    old_jar
}

for_each_adapter!(a_session_cookie_of_the_previous_release_signs_out_with_its_hint);
async fn a_session_cookie_of_the_previous_release_signs_out_with_its_hint(adapter: Adapter) {
    let (mut app, jar) = app_and_browser(adapter).await;

    // Signed out straight away: the hint comes from the session cookie.
    browser_of_the_previous_release(&mut app, &jar).await;
    assert!(
        app.page("/").await.contains("Demo User"),
        "still signed in after the upgrade"
    );
    let id_token = app.id_tokens().await.pop().unwrap();
    let csrf = app.csrf_token().await;
    let end_session = location(&app.post_sign_out(&format!("csrf_token={csrf}")).await);
    assert_eq!(query_of(&end_session)["id_token_hint"], vec![id_token]);
    assert_eq!(
        complete_end_session(&app.http, &end_session).await.as_str(),
        app.url("/")
    );

    // After a refresh the new ID token moves to its own cookie, out of the session cookie.
    let (http, jar) = browser();
    app.http = http;
    let old_jar = browser_of_the_previous_release(&mut app, &jar).await;
    app.advance_clock(Duration::from_secs(31));
    let profile = app.get("/profile").await;
    assert_eq!(profile.status(), StatusCode::OK);
    let newest = app.id_tokens().await.pop().unwrap();
    assert_home_carries_no_id_token(&app, &old_jar, &newest);
    let sign_out = cookies_sent_to(&app, &old_jar, "/sign-out");
    assert_eq!(open(&sign_out, ID_TOKEN).as_deref(), Some(newest.as_str()));
    let csrf = app.csrf_token().await;
    let end_session = location(&app.post_sign_out(&format!("csrf_token={csrf}")).await);
    assert_eq!(query_of(&end_session)["id_token_hint"], vec![newest]);
}

for_each_adapter!(without_a_valid_id_token_cookie_sign_out_goes_without_the_hint);
async fn without_a_valid_id_token_cookie_sign_out_goes_without_the_hint(adapter: Adapter) {
    let (mut app, jar) = app_and_browser(adapter).await;
    app.sign_in_as_demo().await;
    // A browser that lost the ID token cookie (or never stored it) and has a forged one.
    let session = raw_cookie(&cookies_sent_to(&app, &jar, "/"), SESSION)
        .unwrap()
        .to_owned();
    let (http, only_session) = browser();
    let url = app.url("/").parse().unwrap();
    only_session.add_cookie_str(&format!("{SESSION}={session}; Path=/"), &url);
    // An ID token cookie that does not open with the key counts as none, never as a 500.
    only_session.add_cookie_str(&format!("{ID_TOKEN}={}; Path=/sign-out", seal("other", "x")), &url);
    app.http = http;

    let csrf = app.csrf_token().await;
    let response = app.post_sign_out(&format!("csrf_token={csrf}")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let end_session = location(&response);
    let params = query_of(&end_session);
    assert!(!params.contains_key("id_token_hint"), "{end_session}");
    assert_eq!(params["client_id"], vec![app.client_id.clone()]);
    assert!(app.is_signed_out().await);
}

for_each_adapter!(with_redis_there_is_no_id_token_cookie_and_sign_out_has_the_hint);
async fn with_redis_there_is_no_id_token_cookie_and_sign_out_has_the_hint(adapter: Adapter) {
    let redis = TestRedis::start().await;
    let mut app = TestApp::spawn_with(AppOptions {
        adapter,
        env: vec![("SESSION_STORE", "redis".into()), ("REDIS_URL", redis.url.clone())],
        ..Default::default()
    })
    .await;
    let (http, jar) = browser();
    app.http = http;
    let callback = app.sign_in_as_demo().await;
    assert!(id_token_set_cookie(&callback).is_none());
    assert!(raw_cookie(&cookies_sent_to(&app, &jar, "/sign-out"), ID_TOKEN).is_none());
    let csrf = app.csrf_token().await;
    let end_session = location(&app.post_sign_out(&format!("csrf_token={csrf}")).await);
    let id_token = app.id_tokens().await.pop().unwrap();
    assert_eq!(query_of(&end_session)["id_token_hint"], vec![id_token]);
}

/// Signs in with a browser whose cookies the test sees; returns that browser's cookies after
/// checking that the ID token cookie is there.
async fn signed_in_browser(app: &mut TestApp) -> Arc<reqwest::cookie::Jar> {
    let (http, jar) = browser();
    app.http = http;
    app.sign_in_as_demo().await;
    assert!(raw_cookie(&cookies_sent_to(app, &jar, "/sign-out"), ID_TOKEN).is_some());
    jar
}

/// The next page of a session that ended without sign-out removes the ID token cookie too.
async fn assert_next_page_removes_the_id_token_cookie(app: &TestApp, jar: &reqwest::cookie::Jar) {
    let home = app.get("/").await;
    let removal = id_token_set_cookie(&home).expect("the ID token cookie is removed");
    assert!(
        removal.contains("Max-Age=0") && removal.contains("Path=/sign-out"),
        "{removal}"
    );
    assert!(raw_cookie(&cookies_sent_to(app, jar, "/sign-out"), ID_TOKEN).is_none());
    assert!(app.is_signed_out().await);
}

for_each_adapter!(a_session_ended_by_logto_or_by_its_age_removes_the_id_token_cookie);
async fn a_session_ended_by_logto_or_by_its_age_removes_the_id_token_cookie(adapter: Adapter) {
    let mut app = TestApp::spawn_with(AppOptions {
        adapter,
        backchannel_logout: true,
        ..Default::default()
    })
    .await;
    let jar = signed_in_browser(&mut app).await;
    let logout = app
        .logout_token(json!({ "typ": "logout+jwt" }), "jti-id-token-cookie", "user-demo")
        .await;
    assert_eq!(app.post_logout_token(&logout).await, StatusCode::OK);
    assert_next_page_removes_the_id_token_cookie(&app, &jar).await;

    let mut app = TestApp::start(adapter).await;
    let jar = signed_in_browser(&mut app).await;
    app.advance_clock(Duration::from_secs(14 * 24 * 3600 + 1));
    assert_next_page_removes_the_id_token_cookie(&app, &jar).await;
}

/// The browser of a visitor behind https (TLS ended by a proxy in front of the app): it keeps the
/// cookies as https pages set them (`Secure` ones included) and sends each request, over the
/// loopback's plain http, with the cookies it would send to that https page.
struct HttpsBrowser<'a> {
    app: &'a TestApp,
    jar: reqwest::cookie::Jar,
    http: reqwest::Client,
}

impl<'a> HttpsBrowser<'a> {
    fn of(app: &'a TestApp) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        HttpsBrowser {
            app,
            jar: reqwest::cookie::Jar::default(),
            http,
        }
    }

    /// The page's address as the visitor sees it.
    fn https(&self, path_and_query: &str) -> url::Url {
        url::Url::parse(&self.app.url(path_and_query).replacen("http://", "https://", 1)).unwrap()
    }

    /// The `Cookie:` header the browser sends to `path`.
    fn cookies_for(&self, path: &str) -> String {
        self.jar
            .cookies(&self.https(path))
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    async fn send(&self, request: reqwest::RequestBuilder, path_and_query: &str) -> reqwest::Response {
        let path = path_and_query.split('?').next().unwrap();
        let response = request
            .header("cookie", self.cookies_for(path))
            .send()
            .await
            .expect("the app answers");
        let page = self.https(path_and_query);
        for set_cookie in set_cookies(&response) {
            self.jar.add_cookie_str(&set_cookie, &page);
        }
        response
    }

    async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.send(self.http.get(self.app.url(path_and_query)), path_and_query)
            .await
    }

    async fn post_form(&self, path: &str, body: String) -> reqwest::Response {
        let request = self
            .http
            .post(self.app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(request, path).await
    }
}

for_each_adapter!(behind_https_the_id_token_cookie_is_secure_prefixed_and_still_gives_the_hint);
async fn behind_https_the_id_token_cookie_is_secure_prefixed_and_still_gives_the_hint(adapter: Adapter) {
    let app = TestApp::spawn_with(AppOptions {
        adapter,
        https: true,
        ..Default::default()
    })
    .await;
    let browser = HttpsBrowser::of(&app);

    let sign_in = browser.get("/sign-in").await;
    assert_eq!(sign_in.status(), StatusCode::SEE_OTHER);
    // The provider's pages are plain http here: its own cookie-keeping client walks them.
    let callback = complete_authorization(&http_client(), &location(&sign_in), DEMO).await;
    assert_eq!(
        callback.scheme(),
        "https",
        "Logto sends the visitor back to the https address"
    );
    let path_and_query = &callback[url::Position::BeforePath..];
    let signed_in = browser.get(path_and_query).await;
    assert_eq!(
        signed_in.status(),
        StatusCode::SEE_OTHER,
        "the callback finishes sign-in"
    );

    let set = set_cookies(&signed_in)
        .into_iter()
        .find(|c| c.starts_with("__Secure-logto-id-token="))
        .expect("the callback sets the __Secure- ID token cookie");
    for attribute in ["Secure", "HttpOnly", "Path=/sign-out", "SameSite=Lax"] {
        assert!(set.contains(attribute), "{attribute} missing: {set}");
    }
    assert!(!set.contains("Domain="), "{set}");
    assert!(
        !browser.cookies_for("/").contains("__Secure-logto-id-token="),
        "pages other than sign-out do not get the ID token"
    );
    assert!(browser.cookies_for("/").contains("__Host-logto-session="));
    let home = browser.get("/").await.text().await.unwrap();
    assert!(home.contains("Demo User"), "signed in behind https: {home}");

    // Sign-out reads the ID token from the `__Secure-` cookie: Logto gets it as the hint.
    let question = browser.get("/sign-out").await.text().await.unwrap();
    let csrf = hidden_input(&question, "csrf_token").expect("the sign-out form");
    let signed_out = browser.post_form("/sign-out", format!("csrf_token={csrf}")).await;
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    let issued = app.id_tokens().await;
    assert_eq!(
        query_of(&location(&signed_out))["id_token_hint"],
        vec![issued.last().expect("an ID token was issued").clone()]
    );
    let removal = set_cookies(&signed_out)
        .into_iter()
        .find(|c| c.starts_with("__Secure-logto-id-token="))
        .expect("sign-out removes the ID token cookie");
    assert!(removal.contains("Max-Age=0") && removal.contains("Secure"), "{removal}");
}
