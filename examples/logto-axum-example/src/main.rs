//! Starts the axum example: configuration from the environment (and `.env`), then the server.

use std::process::ExitCode;

use logto_app_config::{Config, SessionStoreKind};
use logto_axum_example::Application;

#[tokio::main]
async fn main() -> ExitCode {
    // `.env` fills in only what the environment lacks; a file that exists but cannot be read is an error.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("configuration error: .env: {e}");
        return ExitCode::from(2);
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    // Everything the app reads but METRICS_ADDR: the example serves no metrics, so that variable is
    // neither used nor checked here.
    let config = match Config::from_lookup(|name| match name {
        "METRICS_ADDR" => None,
        _ => std::env::var(name).ok(),
    }) {
        Ok(config) => config,
        Err(errors) => {
            for error in &errors.0 {
                eprintln!("configuration error: {error}");
            }
            return ExitCode::from(2);
        }
    };
    for warning in config.warnings() {
        log::warn!("{warning}");
    }
    let base_url = config.server.base_url.clone();
    let store = match config.session.store {
        SessionStoreKind::Cookie => "cookie",
        SessionStoreKind::Redis { .. } => "redis",
    };
    let issuer = config.issuer();
    let host = config.server.listen.ip();
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listen = std::net::SocketAddr::new(host, app.port());
    log::info!(
        "logto-axum-example {} started: store {store}, issuer {issuer}, listening on {listen}; open {base_url}",
        env!("CARGO_PKG_VERSION")
    );
    let result = app.run_until_stopped().await;
    log::info!("logto-axum-example stopped");
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server stopped: {e}");
            ExitCode::FAILURE
        }
    }
}
