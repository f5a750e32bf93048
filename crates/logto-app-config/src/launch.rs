//! What both binaries do alike before they serve and after they stop: read `.env` and the
//! environment, start the log, report every configuration problem, and turn the server's end into
//! an exit code.

use std::fmt::Display;
use std::process::ExitCode;

use crate::Config;

/// The exit code of a configuration that cannot be used (a bad variable, an unreadable `.env`),
/// as distinct from a server that failed (1).
pub const CONFIGURATION_ERROR: u8 = 2;

/// Reads `.env` (it fills in only what the environment lacks; a file that exists but cannot be
/// read is an error), starts the log (`RUST_LOG`, `info` by default), reads the configuration
/// through `lookup` and logs its warnings. On a problem, prints one line per problem to stderr and
/// returns the exit code to end with.
pub fn configure(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ExitCode> {
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("configuration error: .env: {e}");
        return Err(ExitCode::from(CONFIGURATION_ERROR));
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let config = Config::from_lookup(lookup).map_err(|errors| {
        for error in &errors.0 {
            eprintln!("configuration error: {error}");
        }
        ExitCode::from(CONFIGURATION_ERROR)
    })?;
    for warning in config.warnings() {
        log::warn!("{warning}");
    }
    Ok(config)
}

/// The exit code of a server that has stopped: success, or the reason on stderr and failure.
pub fn exit_code<E: Display>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server stopped: {e}");
            ExitCode::FAILURE
        }
    }
}
