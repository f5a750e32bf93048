//! Starts the app: configuration from the environment (and `.env`), then the server; or, with
//! the argument `check`, checks that configuration against Logto and Redis and exits.

use std::process::ExitCode;

use logto_actix::config::launch;
use logto_actix::startup::Application;

/// What the binary was asked to do.
enum Command {
    Serve,
    Check,
}

#[actix_web::main]
async fn main() -> ExitCode {
    let command = match std::env::args().nth(1).as_deref() {
        None => Command::Serve,
        Some("check") => Command::Check,
        Some(other) => {
            eprintln!(
                "unknown argument `{}`: run without arguments to serve, or with `check` to check the configuration",
                other.escape_debug()
            );
            return ExitCode::from(2);
        }
    };
    let config = match launch::configure(|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(code) => return code,
    };
    if let Command::Check = command {
        return if logto_actix::check::run(&config).await {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let base_url = config.server.base_url.clone();
    let store = config.session.store.name();
    let issuer = config.issuer();
    // PORT=0 binds any free port: the address logged is the one bound.
    let host = config.server.listen.ip();
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listen = std::net::SocketAddr::new(host, app.port());
    let metrics = match app.metrics_address() {
        Some(address) => format!("metrics on {address}"),
        None => "no metrics".to_owned(),
    };
    log::info!(
        "logto-actix {} started: store {store}, issuer {issuer}, listening on {listen} ({metrics}); open {base_url}",
        env!("CARGO_PKG_VERSION")
    );
    let result = app.run_until_stopped().await;
    log::info!("logto-actix stopped");
    launch::exit_code(result)
}
