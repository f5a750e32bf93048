//! Starts the app: configuration from the environment (and `.env`), then the server.

use std::process::ExitCode;

use logto_actix::config::Config;
use logto_actix::startup::Application;

#[actix_web::main]
async fn main() -> ExitCode {
    // `.env` fills in only what the environment lacks; a file that exists but cannot be read is an error.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("configuration error: .env: {e}");
        return ExitCode::from(2);
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();

    let config = match Config::from_env() {
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
    let base_url = config.app_base_url.clone();
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    log::info!("listening on port {}; open {base_url}", app.port());
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server stopped: {e}");
            ExitCode::FAILURE
        }
    }
}
