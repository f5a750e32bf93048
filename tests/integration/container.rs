//! The container image: `deploy/build-image.sh` packages the binary under test, and the image is
//! run as the README runs it (`--env-file` from `.env.example`, `--read-only`) against `tests/op`.
//!
//! Skipped, with a message, only where podman is not installed or cannot start any container.
//! The image is built from the test build's binary (`BINARY=`): the release build is what
//! operators package, but building it here would cost CI minutes for no other difference.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use logto_test_provider::{TestProvider, complete_authorization, http_client};
use reqwest::StatusCode;

use crate::helpers::app::{DEMO, location, text_at, unescape_html};
use crate::helpers::binary::BinaryEnv;

/// Options that make a container start on a machine whose sandbox refuses the runtime's default
/// resource limits (or crun's cgroup set-up): runc with lowered limits.
const SANDBOX_RUN_OPTIONS: &[&str] = &[
    "--runtime",
    "runc",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

fn podman(args: &[&str]) -> Output {
    Command::new("podman").args(args).output().expect("podman runs")
}

fn podman_ok(args: &[&str]) -> String {
    let output = podman(args);
    assert!(
        output.status.success(),
        "podman {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A built image, removed when dropped.
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = podman(&["rmi", "--force", &self.0]);
    }
}

/// A started container, removed when dropped.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "--force", "--time", "0", &self.0]);
    }
}

/// The absolute paths of the libraries `ldd` resolves for `binary`, the dynamic loader among them.
fn linked_libraries(binary: &str) -> BTreeSet<String> {
    let output = Command::new("ldd").arg(binary).output().expect("ldd runs");
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [_, "=>", path, ..] if path.starts_with('/') => Some(path.to_string()),
                [path, ..] if path.starts_with('/') => Some(path.to_string()),
                _ => None,
            }
        })
        .collect()
}

/// Every file and symbolic link under `root` (directories left out), as absolute paths in the image.
fn files_under(root: &Path, dir: &Path, found: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            files_under(root, &path, found);
        } else {
            found.insert(format!("/{}", path.strip_prefix(root).unwrap().display()));
        }
    }
}

/// The files of the image, read from its mounted root file system.
fn image_files(image: &str) -> BTreeSet<String> {
    let root = PathBuf::from(podman_ok(&["image", "mount", image]));
    let mut found = BTreeSet::new();
    files_under(&root, &root, &mut found);
    podman_ok(&["image", "unmount", image]);
    found
}

/// An env file as an operator writes one from `.env.example`: its lines, with this test's values
/// in place of the examples. `--env-file` takes each value literally, so the example itself must
/// hold no quotes for this to run.
fn env_file_from_example(values: &[(String, String)], dir: &Path) -> PathBuf {
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".env.example")).unwrap();
    let mut lines: Vec<String> = example
        .lines()
        .map(|line| {
            let name = line.split('=').next().unwrap_or_default();
            match values.iter().find(|(n, _)| n == name) {
                Some((n, v)) => format!("{n}={v}"),
                None => line.to_owned(),
            }
        })
        .collect();
    for (name, value) in values {
        if !example.lines().any(|line| line.starts_with(&format!("{name}="))) {
            lines.push(format!("{name}={value}"));
        }
    }
    let path = dir.join("container.env");
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

/// `Uid:` and `Gid:` (real, effective, saved, file system) and `CapEff:` of a process.
fn process_identity(pid: &str) -> (Vec<u32>, Vec<u32>, String) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} in {status}"))
            .trim()
            .to_owned()
    };
    let ids = |name: &str| -> Vec<u32> { field(name).split_whitespace().map(|n| n.parse().unwrap()).collect() };
    (ids("Uid:"), ids("Gid:"), field("CapEff:"))
}

/// The mount options of the root file system as a process sees it (`/proc/PID/mountinfo`).
fn root_mount_options(pid: &str) -> Vec<String> {
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    let root = mountinfo
        .lines()
        .map(|line| line.split(' ').collect::<Vec<_>>())
        .find(|fields| fields.get(4) == Some(&"/"))
        .unwrap_or_else(|| panic!("a root mount in {mountinfo}"));
    root[5].split(',').map(str::to_owned).collect()
}

#[tokio::test]
async fn the_image_holds_only_the_app_and_signs_a_user_in_read_only_as_a_non_root_user() {
    if Command::new("podman").arg("--version").output().is_err() {
        eprintln!("SKIPPED container test: podman is not installed (apt-get install podman runc)");
        return;
    }
    let binary = env!("CARGO_BIN_EXE_logto-actix");
    let tag = format!("localhost/logto-actix-test:{}", std::process::id());
    let build = Command::new("bash")
        .arg("deploy/build-image.sh")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("IMAGE", &tag)
        .env("BINARY", binary)
        .output()
        .expect("bash runs");
    let image = Image(tag.clone());
    assert!(
        build.status.success(),
        "deploy/build-image.sh: {}",
        String::from_utf8_lossy(&build.stderr)
    );

    // Nothing but the app, its libraries and loader, the CA certificates and the user.
    let libraries = linked_libraries(binary);
    let mut expected: BTreeSet<String> = [
        "/usr/local/bin/logto-actix",
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/passwd",
        "/etc/group",
    ]
    .map(str::to_owned)
    .into();
    expected.extend(libraries.iter().cloned());
    assert_eq!(image_files(&image.0), expected);
    let loader = libraries
        .iter()
        .find(|path| path.contains("/ld-linux"))
        .expect("ldd names the loader")
        .clone();

    // Can this machine start a container at all? The image's own loader, which prints its
    // version, tells without depending on the app; some sandboxes need lowered limits and runc.
    let probe = |options: &[&str]| {
        let mut args = vec!["run", "--rm", "--network", "host", "--entrypoint", &loader];
        args.extend_from_slice(options);
        args.extend_from_slice(&[&image.0, "--version"]);
        podman(&args).status.success()
    };
    let run_options: &[&str] = if probe(&[]) {
        &[]
    } else if probe(SANDBOX_RUN_OPTIONS) {
        SANDBOX_RUN_OPTIONS
    } else {
        eprintln!("SKIPPED container test: podman cannot start a container on this machine");
        return;
    };

    let provider = TestProvider::start().await;
    let env = BinaryEnv::register(&provider, "container").await;
    let dir = std::env::temp_dir().join(format!("logto-actix-container-{}", env.port));
    std::fs::create_dir_all(&dir).unwrap();
    let env_file = env_file_from_example(&env.env, &dir);
    let name = format!("logto-actix-test-{}", env.port);
    let mut args = vec!["run", "--detach", "--name", &name, "--read-only"];
    args.extend_from_slice(run_options);
    let env_file_arg = env_file.display().to_string();
    // The host's network, so the app reaches the provider on loopback; on it, loopback is enough
    // for the app too (the README's `-e HOST=0.0.0.0` is for a container network).
    args.extend_from_slice(&[
        "--network",
        "host",
        "--env-file",
        &env_file_arg,
        "-e",
        "HOST=127.0.0.1",
        &image.0,
    ]);
    podman_ok(&args);
    let container = Container(name);

    let http = http_client();
    let mut healthy = false;
    for _ in 0..100 {
        let running = podman_ok(&["inspect", "--format", "{{.State.Running}}", &container.0]);
        if running != "true" {
            break;
        }
        if http
            .get(format!("{}/healthz", env.base_url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        healthy,
        "the container answers on {}: {}",
        env.base_url,
        String::from_utf8_lossy(&podman(&["logs", &container.0]).stderr)
    );

    // A user signs in through the container.
    let start = http.get(format!("{}/sign-in", env.base_url)).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let callback = complete_authorization(&http, &location(&start), DEMO).await;
    let finished = http.get(callback).send().await.unwrap();
    assert_eq!(finished.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&finished), "/");
    let home = unescape_html(&text_at(&http, &env.base_url).await);
    assert!(home.contains("Signed in as Demo User"), "{home}");

    // As a non-root user without capabilities, on a read-only root file system.
    let pid = podman_ok(&["inspect", "--format", "{{.State.Pid}}", &container.0]);
    let (uids, gids, capabilities) = process_identity(&pid);
    assert!(uids.iter().all(|&uid| uid == 10001), "Uid: {uids:?}");
    assert!(gids.iter().all(|&gid| gid == 10001), "Gid: {gids:?}");
    assert_eq!(capabilities, "0000000000000000");
    let options = root_mount_options(&pid);
    assert!(options.contains(&"ro".to_owned()), "root mounted {options:?}");

    // `podman stop` sends SIGTERM to PID 1, the app, which stops by itself and exits 0.
    podman_ok(&["stop", "--time", "20", &container.0]);
    let exit_code = podman_ok(&["inspect", "--format", "{{.State.ExitCode}}", &container.0]);
    assert_eq!(
        exit_code,
        "0",
        "{}",
        String::from_utf8_lossy(&podman(&["logs", &container.0]).stderr)
    );

    drop(container);
    drop(image);
    std::fs::remove_dir_all(&dir).unwrap();
}
