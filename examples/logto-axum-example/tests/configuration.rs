//! The binary refuses a bad configuration as the app does: before binding, exit non-zero, one line
//! per problem naming the variable; plain http only for this machine.

use std::process::Command;

/// Runs the binary with only these variables (and PATH); it must stop. Its standard error.
fn refused_with(vars: &[(&str, &str)]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_logto-axum-example"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(vars.iter().copied())
        .current_dir(std::env::temp_dir())
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn bad_configuration_stops_the_example_with_one_line_per_problem() {
    let stderr = refused_with(&[
        ("LOGTO_ENDPOINT", "ftp://logto.example"),
        ("PORT", "not-a-port"),
        ("SESSION_SECRET", "too-short"),
        ("LOGTO_HTTP_TIMEOUT_SECS", "0"),
        // Not the example's: neither used nor checked.
        ("METRICS_ADDR", "not-an-address"),
    ]);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 6, "{stderr}");
    for variable in [
        "LOGTO_ENDPOINT",
        "LOGTO_APP_ID",
        "LOGTO_APP_SECRET",
        "PORT",
        "SESSION_SECRET",
        "LOGTO_HTTP_TIMEOUT_SECS",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("configuration error: {variable}:"))),
            "{variable}: {stderr}"
        );
    }
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
}

#[test]
fn plain_http_to_a_host_other_than_this_machine_stops_the_example() {
    let stderr = refused_with(&[
        ("LOGTO_ENDPOINT", "http://logto.example.test"),
        ("LOGTO_APP_ID", "app"),
        ("LOGTO_APP_SECRET", "secret"),
        ("APP_BASE_URL", "http://app.example.test"),
    ]);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    for variable in ["LOGTO_ENDPOINT", "APP_BASE_URL"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("configuration error: {variable}:")) && l.contains("must use https")),
            "{variable}: {stderr}"
        );
    }
}

#[test]
fn redis_without_its_url_is_named() {
    let stderr = refused_with(&[
        ("LOGTO_ENDPOINT", "http://127.0.0.1:9"),
        ("LOGTO_APP_ID", "app"),
        ("LOGTO_APP_SECRET", "secret"),
        ("SESSION_STORE", "redis"),
    ]);
    assert!(stderr.starts_with("configuration error: REDIS_URL:"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
