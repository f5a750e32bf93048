//! The real binary (`logto-actix`), run as operators run it: for `check`, for the metrics
//! listener (its recorder is per process) and for signals.

#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use logto_test_provider::{TestClient, TestProvider, http_client};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// A free loopback port (free when asked; the binary binds it right after).
pub fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}

/// A base URL on a port where nothing listens.
pub fn closed_endpoint() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// The app's registration at the provider and the environment that configures the binary for it.
pub struct BinaryEnv {
    /// Environment variables given to the binary (nothing else of the test's environment is).
    pub env: Vec<(String, String)>,
    /// `APP_BASE_URL`.
    pub base_url: String,
    /// The public port (`PORT`).
    pub port: u16,
}

impl BinaryEnv {
    /// Registers an app at the provider and configures the binary for it on a free port.
    pub async fn register(provider: &TestProvider, name: &str) -> BinaryEnv {
        let port = free_port();
        let base_url = format!("http://127.0.0.1:{port}");
        let client = TestClient {
            client_id: format!("{name}-{port}"),
            client_secret: format!("{name}-secret-{port}-0123456789"),
            redirect_uris: vec![format!("{base_url}/callback")],
            post_logout_redirect_uris: vec![format!("{base_url}/")],
            backchannel_logout_uri: None,
        };
        provider.register_client(&client).await;
        BinaryEnv {
            env: vec![
                ("LOGTO_ENDPOINT".into(), provider.endpoint()),
                ("LOGTO_APP_ID".into(), client.client_id),
                ("LOGTO_APP_SECRET".into(), client.client_secret),
                ("APP_BASE_URL".into(), base_url.clone()),
                ("PORT".into(), port.to_string()),
                ("SESSION_SECRET".into(), crate::helpers::app::TEST_SESSION_SECRET.into()),
            ],
            base_url,
            port,
        }
    }

    /// Sets (or replaces) one variable.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_owned(), value.into()));
        self
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_logto-actix"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            // No `.env` of the developer's is read.
            .current_dir(std::env::temp_dir())
            .kill_on_drop(true);
        command
    }

    /// Runs `logto-actix check`; its exit status, its standard output, and how long it took.
    pub async fn check(&self) -> (std::process::ExitStatus, String, Duration) {
        let started = std::time::Instant::now();
        let output = tokio::time::timeout(
            Duration::from_secs(60),
            self.command().arg("check").stdin(Stdio::null()).output(),
        )
        .await
        .expect("check ends")
        .expect("the binary runs");
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(!stderr.contains("panicked"), "{stderr}");
        (output.status, format!("{stdout}{stderr}"), started.elapsed())
    }

    /// Starts the server and waits until `/healthz` answers.
    pub async fn serve(&self) -> RunningBinary {
        let mut child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let http = http_client();
        for _ in 0..200 {
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                child
                    .stderr
                    .as_mut()
                    .unwrap()
                    .read_to_string(&mut stderr)
                    .await
                    .unwrap();
                panic!("the app stopped ({status}):\n{stderr}");
            }
            let healthz = format!("{}/healthz", self.base_url);
            if http.get(&healthz).send().await.is_ok_and(|r| r.status().is_success()) {
                return RunningBinary {
                    child,
                    address: self.base_url.clone(),
                };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the app did not answer on {}", self.base_url);
    }
}

/// A running `logto-actix` server, killed when dropped.
pub struct RunningBinary {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
}

impl RunningBinary {
    /// The absolute URL of a path of the app.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Sends a signal (e.g. `TERM`) to the process.
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().expect("the process runs").to_string();
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} {pid}");
    }

    /// Waits (at most `bound`) for the process to exit; its status and what it wrote to stderr.
    pub async fn wait(&mut self, bound: Duration) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(bound, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the process exits within {bound:?}"))
            .unwrap();
        let mut stderr = String::new();
        self.child
            .stderr
            .as_mut()
            .unwrap()
            .read_to_string(&mut stderr)
            .await
            .unwrap();
        (status, stderr)
    }
}
