//! A real `redis-server` per test, on a free loopback port, stopped when dropped.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A running `redis-server` with nothing persisted to disk.
pub struct TestRedis {
    /// `redis://127.0.0.1:PORT`.
    pub url: String,
    _child: Child,
}

impl TestRedis {
    /// Starts `redis-server` (installed by `.ci/setup`) and waits until it accepts connections.
    pub async fn start() -> TestRedis {
        let port = {
            let probe = TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server runs (installed by `bash .ci/setup`)");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return TestRedis {
                    url: format!("redis://127.0.0.1:{port}"),
                    _child: child,
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on port {port}");
    }
}
