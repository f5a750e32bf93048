//! How both binaries stop: on SIGTERM or SIGINT, gracefully, within [`SHUTDOWN_TIMEOUT`].

use std::time::Duration;

/// On SIGTERM or SIGINT, how long requests in flight may still take before the process exits.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Resolves on SIGTERM or SIGINT. Both stop the server gracefully: on its own, actix treats SIGINT
/// as a forced stop, which would cut requests in flight when an operator presses Ctrl-C.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                log::info!(
                    "{name} received: no new connections; requests in flight get up to {}s",
                    SHUTDOWN_TIMEOUT.as_secs()
                );
            }
            (Err(e), _) | (_, Err(e)) => {
                log::error!("cannot listen for SIGTERM and SIGINT ({e}): stop the process with SIGKILL");
                std::future::pending::<()>().await;
            }
        }
    }
    #[cfg(not(unix))]
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
