//! The command line: a thin clap dispatcher; each subcommand is an `Args` struct with `run()`.

use crate::settings::Settings;
use crate::{DEFAULT_PORT, Host, HostOptions};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// A local Azure Functions host for custom handlers.
#[derive(Debug, Parser)]
#[command(name = "local-host", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the app: start the handler, serve HTTP triggers, poll queues, fire timers.
    Start(StartArgs),
}

/// `local-host start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// The app directory: host.json, one folder per function, the handler executable.
    #[arg(long, default_value = ".")]
    pub app_dir: PathBuf,
    /// The HTTP port on 127.0.0.1 (default: local.settings.json Host.LocalHttpPort, else 7071).
    #[arg(long)]
    pub port: Option<u16>,
    /// The settings file (default: APP_DIR/local.settings.json, if present).
    #[arg(long)]
    pub settings: Option<PathBuf>,
}

impl StartArgs {
    /// Runs the host until Ctrl-C or SIGTERM. The error is one sentence for stderr.
    pub async fn run(self) -> Result<(), String> {
        let settings_path = self
            .settings
            .clone()
            .unwrap_or_else(|| self.app_dir.join("local.settings.json"));
        let port = match self.port {
            Some(port) => port,
            // The port setting lives in the file; read it once here for the default.
            None if settings_path.exists() => Settings::load(&settings_path)
                .map_err(|e| e.to_string())?
                .local_http_port
                .unwrap_or(DEFAULT_PORT),
            None => DEFAULT_PORT,
        };
        let mut options = HostOptions::new(self.app_dir).port(port);
        options.settings_file = self.settings;
        options.use_process_env = true;
        let host = Host::start(options).await.map_err(|e| e.to_string())?;
        log::info!("Host started: {}", host.url());
        host.run_until_signal().await
    }
}

impl Cli {
    /// Dispatches to the subcommand.
    pub async fn run(self) -> Result<(), String> {
        match self.command {
            Command::Start(args) => args.run().await,
        }
    }
}
