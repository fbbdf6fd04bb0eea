//! A local Azure Functions host for custom handlers.
//!
//! Like `cargo lambda watch` for AWS: it runs a custom handler the way the real Functions host
//! does — the same start-up handshake, the same JSON invocation protocol and HTTP forwarding,
//! the same queue retry and poison rules — against real Azure Storage (Azurite locally, or an
//! account with the same code). It is also the harness for end-to-end tests:
//!
//! ```no_run
//! # async fn demo() -> Result<(), local_host::HostError> {
//! use local_host::{Host, HostOptions};
//! let host = Host::start(
//!     HostOptions::new("path/to/app").setting("AzureWebJobsStorage", "UseDevelopmentStorage=true"),
//! )
//! .await?;
//! let answer = reqwest::get(format!("{}/api/health", host.url())).await;
//! host.stop().await;
//! # Ok(()) }
//! ```
//!
//! Where it could differ from the real host it follows the real host; the README lists the
//! remaining differences.
#![warn(missing_docs)]

pub mod admin;
pub mod aspnet;
pub mod binding_data;
pub mod blob_events;
pub mod cli;
pub mod config;
pub mod error;
pub mod event_grid;
pub mod http;
pub mod invocation;
pub mod queue;
pub mod settings;
pub mod subscription;
pub mod timer;
pub mod worker;

#[cfg(test)]
mod conformance;

pub use config::{FUNCTION_KEY_SETTING, MASTER_KEY_SETTING};
pub use error::{HostError, LoadError};
pub use worker::{WorkerHandle, WorkerState};

use crate::config::App;
use crate::http::{FrontDoor, HttpRoute};
use crate::invocation::{Connections, Invoker};
use crate::queue::{QueueListener, QueueSettings};
use crate::timer::TimerListener;
use functions_custom_handler_protocol::function_json::Binding;
use functions_custom_handler_protocol::host_json::FunctionTimeout;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use storage::{Storage, StorageSettings};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The default HTTP port (Core Tools' port).
pub const DEFAULT_PORT: u16 = 7071;
/// How long an invocation may run when host.json sets no `functionTimeout`.
pub const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// What to run and how.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// The app directory (host.json, function folders, the handler).
    pub app_dir: PathBuf,
    /// The HTTP port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// local.settings.json; `None` reads `<app_dir>/local.settings.json` when it exists.
    pub settings_file: Option<PathBuf>,
    /// Settings that win over the file and the environment (tests use these).
    pub settings: BTreeMap<String, String>,
    /// Overlay the process environment on the file's `Values` (the CLI does; tests need not).
    pub use_process_env: bool,
    /// Use this account for every storage connection instead of reading the settings.
    pub storage: Option<StorageSettings>,
    /// How long the handler may take to answer `GET /` (the host's 30 s).
    pub startup_timeout: Duration,
    /// How long in-flight invocations may finish on shutdown.
    pub shutdown_timeout: Duration,
    /// How long a received queue message stays invisible: the host's 10 minutes
    /// ([`queue::MESSAGE_LEASE`]); tests of storage outages set less, so a message whose
    /// failure could not be recorded reappears within the test.
    pub message_lease: Duration,
}

impl HostOptions {
    /// Options for the app in `app_dir`, on a free port, hermetic (no process environment).
    pub fn new(app_dir: impl Into<PathBuf>) -> Self {
        Self {
            app_dir: app_dir.into(),
            port: 0,
            settings_file: None,
            settings: BTreeMap::new(),
            use_process_env: false,
            storage: None,
            startup_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            message_lease: queue::MESSAGE_LEASE,
        }
    }

    /// Sets app setting `name` (wins over the file and the environment).
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.insert(name.into(), value.into());
        self
    }

    /// Listens on `port` (0 for any).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Uses `storage` for every storage connection.
    pub fn storage(mut self, storage: StorageSettings) -> Self {
        self.storage = Some(storage);
        self
    }

    /// Sets how long the handler may take to become ready.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Sets [`HostOptions::message_lease`].
    pub fn message_lease(mut self, lease: Duration) -> Self {
        self.message_lease = lease;
        self
    }
}

/// Starts hosts.
#[derive(Debug)]
pub struct Host;

impl Host {
    /// Loads the app, starts the handler and waits until it is ready, then serves HTTP and
    /// starts the queue and timer listeners.
    pub async fn start(options: HostOptions) -> Result<RunningHost, HostError> {
        let app = config::load(&options)?;
        let mut clients = BTreeMap::new();
        for (name, settings) in &app.connections {
            let client = Storage::new(settings).map_err(|e| {
                LoadError::new(
                    &app.dir,
                    format!("the storage connection `{name}` cannot be used: {e}"),
                )
            })?;
            clients.insert(name.clone(), client);
        }
        let connections = Arc::new(Connections::new(clients));

        let listener =
            std::net::TcpListener::bind(("127.0.0.1", options.port)).map_err(|source| {
                HostError::Bind {
                    port: options.port,
                    source,
                }
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| HostError::Bind {
                port: options.port,
                source,
            })?
            .port();

        let handler_shutdown = CancellationToken::new();
        let launch = worker::Launch {
            spec: app.handler.clone(),
            env: app.settings.values().clone().into_iter().collect(),
            app_root: app.dir.display().to_string(),
            startup_timeout: options.startup_timeout,
        };
        let (handler, supervisor) = worker::start(launch, handler_shutdown.clone())
            .await
            .map_err(HostError::Handler)?;

        let queues = &app.host.extensions.queues;
        let timeout = match app.host.function_timeout {
            Some(FunctionTimeout::Limit(span)) => span.as_duration(),
            Some(FunctionTimeout::Unlimited) | None => DEFAULT_FUNCTION_TIMEOUT,
        };
        let mut queue_settings = QueueSettings::from_host(queues, options.shutdown_timeout);
        queue_settings.message_lease = app.message_lease.unwrap_or(options.message_lease);
        let invoker = match Invoker::new(
            handler.clone(),
            Arc::clone(&connections),
            queue_settings.encoding,
            timeout,
            options.startup_timeout + Duration::from_secs(30),
        ) {
            Ok(invoker) => Arc::new(invoker),
            Err(e) => {
                handler_shutdown.cancel();
                let _ = supervisor.await;
                return Err(HostError::Handler(e));
            }
        };

        let server = match serve(&app, listener, &invoker, options.shutdown_timeout) {
            Ok(server) => server,
            Err(source) => {
                handler_shutdown.cancel();
                let _ = supervisor.await;
                return Err(HostError::Bind {
                    port: options.port,
                    source,
                });
            }
        };
        let server_handle = server.handle();
        let server_task = tokio::spawn(server);

        let listeners_shutdown = CancellationToken::new();
        let mut listener_tasks = Vec::new();
        for function in &app.functions {
            let function = Arc::new(function.clone());
            for binding in &function.json.bindings {
                match binding {
                    Binding::QueueTrigger(trigger) => {
                        let connection =
                            config::FunctionSpec::connection_of(binding).unwrap_or_default();
                        let Ok(storage) = connections.get(connection) else {
                            continue;
                        };
                        let queue_listener = QueueListener {
                            function: Arc::clone(&function),
                            trigger: trigger.clone(),
                            storage: storage.clone(),
                            settings: queue_settings.clone(),
                            invoker: Arc::clone(&invoker),
                        };
                        listener_tasks
                            .push(tokio::spawn(queue_listener.run(listeners_shutdown.clone())));
                    }
                    Binding::TimerTrigger(trigger) => {
                        let timer = TimerListener {
                            function: Arc::clone(&function),
                            trigger: trigger.clone(),
                            invoker: Arc::clone(&invoker),
                        };
                        listener_tasks.push(tokio::spawn(timer.run(listeners_shutdown.clone())));
                    }
                    _ => {}
                }
            }
        }

        let host_id = app
            .settings
            .get("AzureFunctionsWebHost__hostid")
            .unwrap_or("local-host")
            .to_string();
        for watched in &app.blob_events {
            let (Some(function), Ok(storage)) = (
                app.functions.iter().find(|f| f.name == watched.function),
                connections
                    .get(functions_custom_handler_protocol::function_json::DEFAULT_CONNECTION),
            ) else {
                continue; // config::load checked both
            };
            let watcher = blob_events::BlobWatcher {
                subscription: subscription::Subscription {
                    name: function.name.clone(),
                    function: Arc::new(function.clone()),
                    invoker: Arc::clone(&invoker),
                    storage: storage.clone(),
                    policy: app.delivery.clone(),
                },
                container: watched.container.clone(),
                storage: storage.clone(),
                host_id: host_id.clone(),
            };
            listener_tasks.push(tokio::spawn(watcher.run(listeners_shutdown.clone())));
        }

        let url = format!("http://127.0.0.1:{port}");
        print_functions(&app, &url);
        Ok(RunningHost {
            url,
            port,
            handler,
            server_handle,
            server_task,
            listeners_shutdown,
            listener_tasks,
            handler_shutdown,
            supervisor,
        })
    }
}

fn serve(
    app: &App,
    listener: std::net::TcpListener,
    invoker: &Arc<Invoker>,
    shutdown_timeout: Duration,
) -> std::io::Result<actix_web::dev::Server> {
    let forwarding = app.host.forwards_http_requests();
    let mut routes: Vec<HttpRoute> = app
        .functions
        .iter()
        .filter_map(|f| {
            Some(HttpRoute {
                function: Arc::new(f.clone()),
                template: f.route.clone()?,
                trigger: f.json.http_trigger()?.clone(),
                forward: forwarding && f.json.is_forwardable(),
            })
        })
        .collect();
    FrontDoor::sort_routes(&mut routes);
    let door = Arc::new(FrontDoor {
        prefix: app
            .host
            .extensions
            .http
            .route_prefix
            .trim_matches('/')
            .to_string(),
        routes,
        keys: app.keys.clone(),
        invoker: Arc::clone(invoker),
        runtime: tokio::runtime::Handle::current(),
    });
    let admin = Arc::new(admin::Admin {
        functions: app.functions.iter().cloned().map(Arc::new).collect(),
        keys: app.keys.clone(),
        invoker: Arc::clone(invoker),
        runtime: tokio::runtime::Handle::current(),
    });
    let server = actix_web::HttpServer::new(move || {
        let door = Arc::clone(&door);
        let admin = Arc::clone(&admin);
        actix_web::App::new()
            .configure(move |cfg| admin::configure(cfg, admin))
            .configure(event_grid::configure)
            .configure(move |cfg| http::configure(cfg, door))
    })
    .workers(4)
    .disable_signals()
    .shutdown_timeout(shutdown_timeout.as_secs().max(1))
    .listen(listener)?
    .run();
    Ok(server)
}

fn print_functions(app: &App, url: &str) {
    let prefix = app.host.extensions.http.route_prefix.trim_matches('/');
    let mut lines = Vec::new();
    for function in &app.functions {
        let line = match (function.json.http_trigger(), &function.route) {
            (Some(trigger), Some(route)) => {
                let methods = if trigger.methods.is_empty() {
                    "ALL".to_string()
                } else {
                    trigger
                        .methods
                        .iter()
                        .map(|m| m.as_str().to_ascii_uppercase())
                        .collect::<Vec<_>>()
                        .join(",")
                };
                let path = [prefix, route.as_str()]
                    .iter()
                    .filter(|p| !p.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join("/");
                format!("  {}: [{methods}] {url}/{path}", function.name)
            }
            _ => {
                let kind = function
                    .json
                    .trigger()
                    .map(Binding::type_name)
                    .unwrap_or("?");
                format!("  {}: {kind}", function.name)
            }
        };
        lines.push(line);
    }
    log::info!("Functions:\n{}", lines.join("\n"));
}

/// A host that is serving. Stop it with [`RunningHost::stop`]; dropping it without stopping
/// still kills the handler (when the runtime shuts down), but does not wait for anything.
#[derive(Debug)]
pub struct RunningHost {
    url: String,
    port: u16,
    handler: WorkerHandle,
    server_handle: actix_web::dev::ServerHandle,
    server_task: JoinHandle<std::io::Result<()>>,
    listeners_shutdown: CancellationToken,
    listener_tasks: Vec<JoinHandle<()>>,
    handler_shutdown: CancellationToken,
    supervisor: JoinHandle<()>,
}

impl RunningHost {
    /// `http://127.0.0.1:PORT`, without the route prefix.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The HTTP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The handler, to watch its state or wait for it.
    pub fn handler(&self) -> &WorkerHandle {
        &self.handler
    }

    /// The handler's process id while it is ready.
    pub fn handler_pid(&self) -> Option<u32> {
        self.handler.pid()
    }

    /// Runs until Ctrl-C or SIGTERM, then stops gracefully; or until the handler has failed
    /// too often, then stops and says why.
    pub async fn run_until_signal(self) -> Result<(), String> {
        let handler = self.handler.clone();
        let outcome = tokio::select! {
            _ = wait_for_signal() => Ok(()),
            why = handler.failed() => Err(why),
        };
        log::info!("shutting down");
        self.stop().await;
        outcome
    }

    /// Stops gracefully: stop polling and accepting, let in-flight invocations finish (up to
    /// the shutdown timeout), then kill the handler and wait for it to be gone.
    pub async fn stop(self) {
        self.listeners_shutdown.cancel();
        self.server_handle.stop(true).await;
        for task in self.listener_tasks {
            let _ = task.await;
        }
        self.handler_shutdown.cancel();
        let _ = self.supervisor.await;
        match self.server_task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log::warn!("the HTTP server ended with an error: {e}"),
            Err(e) => log::warn!("the HTTP server task failed: {e}"),
        }
    }
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            log::warn!("cannot listen for SIGTERM ({e}); only Ctrl-C stops the host");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
