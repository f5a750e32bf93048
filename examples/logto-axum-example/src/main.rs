//! Starts the axum example: configuration from the environment (and `.env`), then the server.

use std::process::ExitCode;

use logto_app_config::launch;
use logto_axum_example::Application;

#[tokio::main]
async fn main() -> ExitCode {
    // Everything the app reads but METRICS_ADDR: the example serves no metrics, so that variable is
    // neither used nor checked here.
    let config = match launch::configure(|name| match name {
        "METRICS_ADDR" => None,
        _ => std::env::var(name).ok(),
    }) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let base_url = config.server.base_url.clone();
    let store = config.session.store.name();
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
    launch::exit_code(result)
}
