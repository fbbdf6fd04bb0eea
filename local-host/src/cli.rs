//! The command line: a thin clap dispatcher; each subcommand is an `Args` struct with `run()`.

use crate::settings::Settings;
use crate::{DEFAULT_PORT, Host, HostOptions, MASTER_KEY_SETTING};
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
    /// Run one function of a running host now, through its admin API, with an input or the
    /// example for the function's trigger (`local-host/events/`).
    Invoke(InvokeArgs),
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

/// `local-host invoke`.
#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The function to run.
    pub function: String,
    /// The trigger input: a queue message's text, an Event Grid event's JSON (a timer ignores it).
    #[arg(long, conflicts_with = "file")]
    pub input: Option<String>,
    /// A file holding the trigger input.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// The app directory, for the function's trigger, the port and the master key.
    #[arg(long, default_value = ".")]
    pub app_dir: PathBuf,
    /// The settings file (default: APP_DIR/local.settings.json, if present).
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// The host (default: http://127.0.0.1:PORT, the port from the settings, else 7071).
    #[arg(long)]
    pub url: Option<String>,
    /// The master key (default: the FUNCTIONS_MASTER_KEY setting).
    #[arg(long)]
    pub key: Option<String>,
}

/// The example input for each trigger, the same files the tests send.
pub const QUEUE_EXAMPLE: &str = include_str!("../events/queue-message.json");
/// An Event Grid event: a blob written to `uploads/`.
pub const EVENT_GRID_EXAMPLE: &str = include_str!("../events/event-grid-blob-created.json");
/// The timer's (ignored) input.
pub const TIMER_EXAMPLE: &str = include_str!("../events/timer-tick.json");

impl InvokeArgs {
    /// Posts `{"input": ...}` to the admin API; the error is one sentence for stderr.
    pub async fn run(self) -> Result<(), String> {
        let settings_path = self
            .settings
            .clone()
            .unwrap_or_else(|| self.app_dir.join("local.settings.json"));
        let settings = if settings_path.exists() {
            Some(Settings::load(&settings_path).map_err(|e| e.to_string())?)
        } else {
            None
        };
        let input = match (&self.input, &self.file) {
            (Some(input), _) => input.clone(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?,
            (None, None) => self.example()?.to_string(),
        };
        let url = match &self.url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => {
                let port = settings
                    .as_ref()
                    .and_then(|s| s.local_http_port)
                    .unwrap_or(DEFAULT_PORT);
                format!("http://127.0.0.1:{port}")
            }
        };
        let key = self
            .key
            .clone()
            .or_else(|| {
                settings
                    .as_ref()?
                    .get(MASTER_KEY_SETTING)
                    .map(str::to_owned)
            })
            .ok_or_else(|| {
                format!(
                    "no master key: pass --key, or set {MASTER_KEY_SETTING} in {}",
                    settings_path.display()
                )
            })?;
        let endpoint = format!("{url}/admin/functions/{}", self.function);
        let answer = reqwest::Client::new()
            .post(&endpoint)
            .header("x-functions-key", key)
            .json(&serde_json::json!({ "input": input }))
            .send()
            .await
            .map_err(|e| {
                format!("no host answered at {url} ({e}): start one with `local-host start`")
            })?;
        match answer.status().as_u16() {
            202 => {
                println!(
                    "{}: accepted; it runs now (its outcome is in the host's log)",
                    self.function
                );
                Ok(())
            }
            401 => Err(format!("the host at {url} refused the master key")),
            404 => Err(format!(
                "the host at {url} has no function `{}`",
                self.function
            )),
            status => Err(format!("the host at {url} answered {status} to {endpoint}")),
        }
    }

    /// The example input for the function's trigger, read from its function.json.
    fn example(&self) -> Result<&'static str, String> {
        let file = self.app_dir.join(&self.function).join("function.json");
        let text = std::fs::read_to_string(&file).map_err(|e| {
            format!(
                "cannot read {} ({e}): pass --input or --file, or --app-dir",
                file.display()
            )
        })?;
        let json: functions_custom_handler_protocol::function_json::FunctionJson =
            serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a function.json: {e}", file.display()))?;
        match json.trigger() {
            Some(functions_custom_handler_protocol::function_json::Binding::QueueTrigger(_)) => {
                Ok(QUEUE_EXAMPLE)
            }
            Some(functions_custom_handler_protocol::function_json::Binding::TimerTrigger(_)) => {
                Ok(TIMER_EXAMPLE)
            }
            Some(functions_custom_handler_protocol::function_json::Binding::EventGridTrigger(
                _,
            )) => Ok(EVENT_GRID_EXAMPLE),
            Some(other) => Err(format!(
                "`{}` has a {} trigger, which has no example input: pass --input or --file",
                self.function,
                other.type_name()
            )),
            None => Err(format!("{} declares no trigger", file.display())),
        }
    }
}

impl Cli {
    /// Dispatches to the subcommand.
    pub async fn run(self) -> Result<(), String> {
        match self.command {
            Command::Start(args) => args.run().await,
            Command::Invoke(args) => args.run().await,
        }
    }
}
