//! A real `redis-server` per test, on a free loopback port, stopped when dropped: it can be
//! hung (SIGSTOP) and woken (SIGCONT), need a password, have ACL users, speak only TLS with a
//! certificate from a CA made in the test, and be restarted with what it persisted.

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
    /// ACL users: (name, password); each may run every command on every key.
    pub users: Vec<(String, String)>,
    /// Only TLS, with a certificate for `localhost` signed by [`TestCa`].
    pub tls: Option<TestCa>,
    /// More arguments for `redis-server` (e.g. `--replicaof 127.0.0.1 PORT`).
    pub extra_args: Vec<String>,
}

/// A CA made with `openssl` in the test, and a certificate it signed for `localhost` (only: a
/// URL with `127.0.0.1` names another host).
#[derive(Clone, Debug)]
pub struct TestCa {
    /// The CA's certificate (PEM): what `REDIS_CA_FILE` points to.
    pub ca_file: PathBuf,
    /// The server's certificate and key.
    pub cert_file: PathBuf,
    /// The server's key.
    pub key_file: PathBuf,
}

impl TestCa {
    /// A new CA in a new temporary directory, and a server certificate for `localhost`.
    pub fn make(name: &str) -> TestCa {
        let dir = std::env::temp_dir().join(format!(
            "logto-actix-ca-{name}-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = |file: &str| dir.join(file);
        let openssl = |args: &[&str]| {
            let output = std::process::Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=Test CA {name}"),
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        std::fs::write(path("ext.cnf"), "subjectAltName=DNS:localhost\n").unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.crt",
        ]);
        TestCa {
            ca_file: path("ca.crt"),
            cert_file: path("server.crt"),
            key_file: path("server.key"),
        }
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        % 1_000_000_007
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
        let url = match (&options.password, &options.tls) {
            (_, Some(_)) => format!("rediss://localhost:{port}"),
            (Some(password), None) => format!("redis://:{password}@127.0.0.1:{port}"),
            (None, None) => format!("redis://127.0.0.1:{port}"),
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

    /// Runs `redis-cli` with `args` as the default user (its password when one is set); panics
    /// when it fails. For what a test does behind the app's back.
    pub fn admin(&self, args: &[&str]) -> String {
        let mut command = std::process::Command::new("redis-cli");
        command.args(["-p", &self.port.to_string()]);
        match &self.options.tls {
            Some(ca) => {
                command.args(["-h", "localhost", "--tls", "--cacert"]).arg(&ca.ca_file);
            }
            None => {
                command.args(["-h", "127.0.0.1"]);
            }
        }
        if let Some(password) = &self.options.password {
            command.args(["--no-auth-warning", "-a", password]);
        }
        let output = command.args(args).output().expect("redis-cli runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success() && !stdout.starts_with("ERR"),
            "redis-cli {args:?}: {stdout}"
        );
        stdout
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
        for (user, password) in &self.options.users {
            // Separate words: redis-server joins the words after `--user` into one directive.
            args.extend([
                "--user".into(),
                user.clone(),
                "on".into(),
                format!(">{password}"),
                "~*".into(),
                "&*".into(),
                "+@all".into(),
            ]);
        }
        if let Some(ca) = &self.options.tls {
            // Only TLS, on the same port; `localhost` may resolve to ::1 first.
            args[0] = "--tls-port".into();
            args[3] = "127.0.0.1 -::1".into();
            args.extend([
                "--port".into(),
                "0".into(),
                "--tls-cert-file".into(),
                ca.cert_file.display().to_string(),
                "--tls-key-file".into(),
                ca.key_file.display().to_string(),
                "--tls-ca-cert-file".into(),
                ca.ca_file.display().to_string(),
                "--tls-auth-clients".into(),
                "no".into(),
            ]);
        }
        args.extend(self.options.extra_args.iter().cloned());
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
