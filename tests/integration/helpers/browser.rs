//! Harness for browser tests: Debian's Chromium driven through `chromedriver` with fantoccini.
//!
//! [`with_browser`] starts a chromedriver on a free port and a headless Chromium with its own
//! profile, runs the test body, and always closes both, even when the body panics. At most two
//! Chromiums run at once: a Chromium spends much of a test waiting on the app and the provider,
//! so two keep the CI machine's two cores busy, where one left the browser tests (~80 s of
//! sessions) the longest path of the suite; more would only queue for the cores.
#![allow(dead_code)]

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;

/// How long to wait for a page or an element: generous, for a busy two-core CI machine.
pub const WAIT: Duration = Duration::from_secs(30);

/// Turns at the browser: two at a time (see the module's doc).
static BROWSERS: Semaphore = Semaphore::const_new(2);

/// `prefers-color-scheme` as the page sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Light.
    Light,
    /// Dark.
    Dark,
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Scheme::Light => "light",
            Scheme::Dark => "dark",
        }
    }
}

/// The window the pages are shown in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Viewport {
    /// 390×844, a phone held upright.
    Phone,
    /// 1280×900.
    Desktop,
}

impl Viewport {
    fn size(self) -> (u32, u32) {
        match self {
            Viewport::Phone => (390, 844),
            Viewport::Desktop => (1280, 900),
        }
    }
}

/// How the browser is set up: what a person's system would choose.
#[derive(Clone, Copy, Debug)]
pub struct Look {
    /// The browser's language, sent as `Accept-Language` (`"en"`, `"es"`, ...).
    pub accept_language: &'static str,
    /// Light or dark.
    pub scheme: Scheme,
    /// Phone or desktop.
    pub viewport: Viewport,
}

/// A browser session of one test.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    look: Look,
    shots: PathBuf,
    shot_seq: AtomicU32,
}

/// The screenshot folder of a test, emptied: `target/screenshots/<test>/`.
pub fn screenshot_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("screenshots")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the screenshot folder");
    dir
}

/// Runs `test` in a fresh Chromium set up as `look`, saving screenshots into `shots`, then
/// closes the browser and the driver whatever happened; a panic in `test` is re-raised after.
pub async fn with_browser<F, Fut>(look: Look, shots: &Path, test: F)
where
    F: FnOnce(Browser) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let _turn = BROWSERS.acquire().await.expect("the semaphore is never closed");
    let driver = Driver::start().await;
    let profile = std::env::temp_dir().join(format!("logto-test-chromium-{}-{}", std::process::id(), driver.port));
    let client = connect(&driver, look, &profile).await;
    let (width, height) = look.viewport.size();
    client
        .set_window_size(width, height)
        .await
        .expect("set the window size");
    let browser = Browser {
        client: client.clone(),
        look,
        shots: shots.to_owned(),
        shot_seq: AtomicU32::new(0),
    };
    // Spawned so that a failing assertion comes back here as an error, and the browser is closed.
    let outcome = tokio::spawn(test(browser)).await;
    if let Err(e) = client.close().await {
        eprintln!("closing the browser: {e}");
    }
    drop(driver);
    let _ = std::fs::remove_dir_all(&profile);
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("browser test did not finish: {e}"),
        }
    }
}

async fn connect(driver: &Driver, look: Look, profile: &Path) -> Client {
    let (width, height) = look.viewport.size();
    let mut args = vec![
        "--headless=new".to_owned(),
        // Root in CI: Chromium's sandbox refuses to run as root.
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--no-first-run".to_owned(),
        "--no-default-browser-check".to_owned(),
        "--hide-scrollbars".to_owned(),
        format!("--window-size={width},{height}"),
        format!("--user-data-dir={}", profile.display()),
        format!("--lang={}", look.accept_language),
    ];
    // Blink's own setting for `prefers-color-scheme` (0 = dark, 1 = light).
    args.push(match look.scheme {
        Scheme::Dark => "--blink-settings=preferredColorScheme=0".to_owned(),
        Scheme::Light => "--blink-settings=preferredColorScheme=1".to_owned(),
    });
    if look.scheme == Scheme::Dark {
        args.push("--force-dark-mode".to_owned());
    }
    let mut options = json!({
        "args": args,
        "prefs": { "intl.accept_languages": look.accept_language },
    });
    if Path::new("/usr/bin/chromium").exists() {
        options["binary"] = json!("/usr/bin/chromium");
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert("goog:chromeOptions".into(), options);
    let url = format!("http://127.0.0.1:{}", driver.port);
    let mut last_error = None;
    // The first session of a cold machine can be slow to start: a few tries before giving up.
    for _ in 0..3 {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return client,
            Err(e) => {
                last_error = Some(e.to_string());
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    panic!(
        "cannot start Chromium through chromedriver: {}",
        last_error.unwrap_or_default()
    )
}

/// A running chromedriver; dropping it kills the process.
struct Driver {
    _child: Child,
    port: u16,
}

impl Driver {
    async fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn `chromedriver` (install Debian's `chromium` and `chromium-driver`: see .ci/setup)");
        let status = format!("http://127.0.0.1:{port}/status");
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(response) = http.get(&status).send().await
                && response.status().is_success()
            {
                return Driver { _child: child, port };
            }
            assert!(started.elapsed() < WAIT, "chromedriver did not answer on port {port}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Browser {
    /// How this browser is set up.
    pub fn look(&self) -> Look {
        self.look
    }

    /// Opens a URL.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The URL shown in the address bar.
    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.expect("current URL")
    }

    /// Waits until the address bar shows `path` (and `query`, if given) on `origin`.
    pub async fn wait_for_path(&self, path: &str) -> url::Url {
        let started = Instant::now();
        loop {
            let url = self.url().await;
            if url.path() == path {
                return url;
            }
            assert!(started.elapsed() < WAIT, "expected to arrive at {path}, still at {url}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for an element.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no element {css:?} on {}: {e}", self.url().await),
        }
    }

    /// Whether an element is on the page now (no waiting).
    pub async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// The visible text of an element, once it is there.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    /// Waits until the page's visible text contains `expected`, and returns that text.
    pub async fn wait_for_text(&self, expected: &str) -> String {
        let started = Instant::now();
        loop {
            if let Ok(body) = self.client.find(Locator::Css("body")).await
                && let Ok(text) = body.text().await
                && text.contains(expected)
            {
                return text;
            }
            if started.elapsed() > WAIT {
                let url = self.url().await;
                let text = self.text("body").await;
                panic!("{url} never showed {expected:?}; it shows:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the link or button whose visible text is exactly `label` (a person's click).
    pub async fn click_labelled(&self, label: &str) {
        let xpath = format!(
            "//*[self::a or self::button][normalize-space(.)={}]",
            xpath_literal(label)
        );
        let element = match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(&xpath))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!("no link or button labelled {label:?} on {}: {e}", self.url().await),
        };
        element.click().await.unwrap_or_else(|e| panic!("click {label:?}: {e}"));
    }

    /// Types into the input whose `<label>` says `label`, as a person finds the field.
    pub async fn fill_labelled(&self, label: &str, value: &str) {
        let xpath = format!("//input[@id=//label[normalize-space(.)={}]/@for]", xpath_literal(label));
        let input = self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no field labelled {label:?}: {e}"));
        input.clear().await.expect("clear the field");
        input.send_keys(value).await.expect("type into the field");
    }

    /// The `lang` of the page's `<html>`.
    pub async fn page_lang(&self) -> String {
        self.find("html")
            .await
            .attr("lang")
            .await
            .expect("read lang")
            .unwrap_or_default()
    }

    /// Saves a screenshot as `<nn>-<page>-<lang>-<scheme>.png`, the language read from the page
    /// itself so that the name tells what is really shown.
    pub async fn screenshot(&self, page: &str) -> PathBuf {
        let n = self.shot_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let lang = self.page_lang().await;
        let png = self.client.screenshot().await.expect("take a screenshot");
        let path = self
            .shots
            .join(format!("{n:02}-{page}-{lang}-{}.png", self.look.scheme.name()));
        std::fs::write(&path, png).expect("save the screenshot");
        path
    }

    /// A CSS property of an element, as computed by the browser.
    pub async fn css(&self, css: &str, property: &str) -> String {
        self.find(css).await.css_value(property).await.expect("computed style")
    }

    /// Runs a script and returns its value (for checks a person makes with their eyes, such as
    /// "nothing overflows the screen").
    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.expect("run a script")
    }
}

fn xpath_literal(value: &str) -> String {
    if !value.contains('\'') {
        format!("'{value}'")
    } else {
        format!("\"{value}\"")
    }
}
