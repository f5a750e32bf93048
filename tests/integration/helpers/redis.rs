//! A real `redis-server` per test, on a free loopback port, stopped when dropped: it can be
//! hung (SIGSTOP) and woken (SIGCONT), need a password, and be restarted with what it persisted.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// How a test Redis runs.
#[derive(Clone, Debug, Default)]
pub struct RedisOptions {
    /// Clients must `AUTH` with this password.
    pub password: Option<String>,
    /// Append-only file in a temporary directory, so a restart keeps the data.
    pub persistent: bool,
}

/// A running `redis-server` (nothing persisted to disk unless asked).
pub struct TestRedis {
    /// `redis://127.0.0.1:PORT` (with the password when one is needed).
    pub url: String,
    /// The port it listens on.
    pub port: u16,
    options: RedisOptions,
    dir: PathBuf,
    child: Option<Child>,
}

impl TestRedis {
    /// Starts `redis-server` (installed by `.ci/setup`) and waits until it accepts connections.
    pub async fn start() -> TestRedis {
        Self::start_with(RedisOptions::default()).await
    }

    /// Starts `redis-server` configured by `options`.
    pub async fn start_with(options: RedisOptions) -> TestRedis {
        let port = {
            let probe = TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let dir = std::env::temp_dir().join(format!("logto-actix-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = match &options.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{port}"),
            None => format!("redis://127.0.0.1:{port}"),
        };
        let mut redis = TestRedis {
            url,
            port,
            options,
            dir,
            child: None,
        };
        redis.launch().await;
        redis
    }

    /// `redis://127.0.0.1:PORT` without any password.
    pub fn url_without_password(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn launch(&mut self) {
        let mut args: Vec<String> = vec![
            "--port".into(),
            self.port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            self.dir.display().to_string(),
            "--save".into(),
            "".into(),
        ];
        if self.options.persistent {
            args.extend([
                "--appendonly".into(),
                "yes".into(),
                "--appendfsync".into(),
                "always".into(),
            ]);
        } else {
            args.extend(["--appendonly".into(), "no".into()]);
        }
        if let Some(password) = &self.options.password {
            args.extend(["--requirepass".into(), password.clone()]);
        }
        let child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server runs (installed by `bash .ci/setup`)");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().and_then(Child::id).expect("redis-server runs");
        let status = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// Hangs Redis (SIGSTOP): connections stay open, nothing answers.
    pub fn hang(&self) {
        self.signal("-STOP");
    }

    /// Wakes a hung Redis (SIGCONT).
    pub fn wake(&self) {
        self.signal("-CONT");
    }

    /// Stops Redis (SIGTERM: it writes what it persists) and waits until it has exited.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            self.signal_child(&child, "-TERM");
            let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
            let _ = child.kill().await;
        }
    }

    fn signal_child(&self, child: &Child, signal: &str) {
        if let Some(pid) = child.id() {
            let _ = std::process::Command::new("kill")
                .args([signal, &pid.to_string()])
                .status();
        }
    }

    /// Starts Redis again on the same port and directory (after [`TestRedis::stop`]).
    pub async fn restart(&mut self) {
        self.stop().await;
        self.launch().await;
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A stopped process must be woken to die of SIGKILL promptly everywhere.
            self.signal_child(child, "-CONT");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
