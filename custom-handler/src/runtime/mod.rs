//! The server the Functions host talks to, and the entry point a handler binary calls.

pub(crate) mod routes;

use crate::function::Function;
use crate::function_json::Binding;
use crate::host_json::HostJson;
use crate::protocol::HttpResponse;
use crate::route::RouteTemplate;
use drain::Drain;
use routes::{ForwardRoute, Registered, State};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::protocol::{APP_ROOT_VAR, LEGACY_PORT_VAR, PORT_VAR};

const USAGE: &str = "usage: <handler>                    serve the functions on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT
       <handler> manifest --out DIR   write DIR/<FunctionName>/function.json for every function";

/// Why the app could not start, serve, or write its manifest. Each message is one sentence.
///
/// ```
/// use functions_custom_handler::{Function, FunctionApp};
/// let err = FunctionApp::new().function(Function::new("1st")).validate().unwrap_err();
/// assert!(err.to_string().starts_with("the function name `1st` is not valid"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Neither port variable is set.
    #[error(
        "neither {PORT_VAR} nor {LEGACY_PORT_VAR} is set; the Functions host sets it when it starts the handler, so run it through the host or set {PORT_VAR} yourself"
    )]
    NoPort,
    /// A port variable holds something that is not a port.
    #[error("{var} is `{value}`, which is not a TCP port between 1 and 65535")]
    InvalidPort {
        /// The variable read.
        var: &'static str,
        /// What it held.
        value: String,
    },
    /// The listener could not be bound or configured.
    #[error("could not listen on {address} ({source})")]
    Bind {
        /// The address tried.
        address: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A declared function is not valid.
    #[error("{0}")]
    InvalidFunction(String),
    /// host.json could not be read or parsed.
    #[error("could not use {path}: {message}")]
    HostJson {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A function.json could not be written.
    #[error("could not write {path} ({source})")]
    Manifest {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The command line was not understood.
    #[error("{0}")]
    Usage(String),
    /// The server stopped with an error.
    #[error("the server stopped with an error ({0})")]
    Serve(std::io::Error),
}

/// How long open connections get after SIGTERM for a last request: the host's HTTP client
/// keeps connections alive, and one it sends on must be answered, not reset.
pub const DRAIN_WINDOW: Duration = Duration::from_secs(1);

/// How long a body may take to arrive unless configured: the host sends on loopback at once,
/// so only a stuck or hostile client is this slow.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(20);

/// The largest invocation body accepted unless configured: a batch of many rows travels inside
/// the JSON envelope, so this is generous.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// An error the runtime answers for the function (see [`FunctionApp::error_body`] for an
/// example): to the HTTP caller (a 400 or 503 the
/// function returned as an error, a body refused from its head, a forwarded function's
/// fault) or to the host (a failed invocation).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpError {
    /// The HTTP status.
    pub status: u16,
    /// A short, stable code for programs, such as `bad_request` or `body_too_large`.
    pub code: &'static str,
    /// One sentence for people.
    pub message: String,
}

/// How the app renders an [`HttpError`]; see [`FunctionApp::error_body`].
pub(crate) type ErrorBody = Arc<dyn Fn(&HttpError) -> HttpResponse + Send + Sync>;

/// The runtime's default error body: the status and the message as plain text.
pub(crate) fn plain_error_body(error: &HttpError) -> HttpResponse {
    HttpResponse::new(error.status).text(error.message.clone())
}

/// A set of functions served to the Functions host.
///
/// ```no_run
/// use functions_custom_handler::bindings::{AuthLevel, HttpOutput, HttpTrigger};
/// use functions_custom_handler::{Function, FunctionApp, HttpResponse, Outputs, service_fn};
///
/// const REQ: HttpTrigger = HttpTrigger::get("req", "ping").auth(AuthLevel::Anonymous);
/// const RES: HttpOutput = HttpOutput::new("res");
///
/// fn main() -> std::process::ExitCode {
///     FunctionApp::new()
///         .function(Function::new("ping").trigger(REQ).output(RES).handler(service_fn(
///             |_| async { Ok(Outputs::new().set(&RES, HttpResponse::new(200).text("pong"))) },
///         )))
///         .main() // serves; `manifest --out DIR` writes the function.json files
/// }
/// ```
#[derive(Clone)]
pub struct FunctionApp {
    functions: Vec<Function>,
    forwarding: Option<bool>,
    route_prefix: Option<String>,
    body_limit: usize,
    body_timeout: Duration,
    shutdown_timeout: Duration,
    workers: Option<usize>,
    error_body: ErrorBody,
}

impl std::fmt::Debug for FunctionApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionApp")
            .field("functions", &self.functions)
            .field("forwarding", &self.forwarding)
            .field("route_prefix", &self.route_prefix)
            .finish_non_exhaustive()
    }
}

impl Default for FunctionApp {
    fn default() -> Self {
        Self::new()
    }
}

impl FunctionApp {
    /// An app with no functions, forwarding off, route prefix `api`.
    pub fn new() -> Self {
        Self {
            functions: Vec::new(),
            forwarding: None,
            route_prefix: None,
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            // Long enough for an in-flight batch to finish, short of the host's kill.
            shutdown_timeout: Duration::from_secs(25),
            workers: None,
            error_body: Arc::new(plain_error_body),
        }
    }

    /// Sets the body of every error the runtime answers for the app (see [`HttpError`]); the
    /// default is the message as plain text.
    ///
    /// ```
    /// use functions_custom_handler::{FunctionApp, HttpResponse};
    /// let app = FunctionApp::new().error_body(|e| {
    ///     HttpResponse::new(e.status)
    ///         .json(&serde_json::json!({"error": {"code": e.code, "message": e.message}}))
    ///         .unwrap_or_else(|_| HttpResponse::new(e.status))
    /// });
    /// # let _ = app;
    /// ```
    pub fn error_body(
        mut self,
        render: impl Fn(&HttpError) -> HttpResponse + Send + Sync + 'static,
    ) -> Self {
        self.error_body = Arc::new(render);
        self
    }

    /// Adds a function.
    pub fn function(mut self, function: Function) -> Self {
        self.functions.push(function);
        self
    }

    /// The declared functions, in declaration order.
    pub fn functions(&self) -> &[Function] {
        &self.functions
    }

    /// Serves forwardable functions at `/<prefix>/<route>` too, as the host expects when
    /// host.json sets `customHandler.enableForwardingHttpRequest`.
    pub fn forward_http_requests(mut self, enabled: bool) -> Self {
        self.forwarding = Some(enabled);
        self
    }

    /// The route prefix for forwarded requests (host.json `extensions.http.routePrefix`).
    pub fn route_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.route_prefix = Some(prefix.into().trim_matches('/').to_string());
        self
    }

    /// Takes forwarding and the route prefix from `host`, unless they were set explicitly.
    pub fn with_host_json(mut self, host: &HostJson) -> Self {
        self.forwarding.get_or_insert(host.forwards_http_requests());
        self.route_prefix.get_or_insert_with(|| {
            host.extensions
                .http
                .route_prefix
                .trim_matches('/')
                .to_string()
        });
        self
    }

    /// The largest invocation or forwarded body accepted; larger ones get a 413.
    pub fn invocation_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How long an invocation or forwarded body may take to arrive once its headers have;
    /// a slower one gets a JSON 408 and its connection is closed.
    pub fn invocation_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// How long in-flight invocations may run after SIGTERM/SIGINT before being dropped.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The number of worker threads; the default is one per CPU.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers.max(1));
        self
    }

    /// Checks every function and the app as a whole.
    pub fn validate(&self) -> Result<(), StartError> {
        for (i, function) in self.functions.iter().enumerate() {
            function.validate().map_err(StartError::InvalidFunction)?;
            if self.functions[..i]
                .iter()
                .any(|f| f.name().eq_ignore_ascii_case(function.name()))
            {
                return Err(StartError::InvalidFunction(format!(
                    "the function name `{}` is declared twice",
                    function.name()
                )));
            }
            for binding in &function.function_json().bindings {
                if let Binding::HttpTrigger(trigger) = binding {
                    let route = trigger.route.as_deref().unwrap_or(function.name());
                    RouteTemplate::parse(route).map_err(StartError::InvalidFunction)?;
                }
            }
        }
        if self.forwarding == Some(true) && self.route_prefix.as_deref() == Some("") {
            return Err(StartError::InvalidFunction(
                "forwarding with an empty route prefix would put forwarded routes where the host posts invocations; keep a route prefix such as `api`".to_string(),
            ));
        }
        Ok(())
    }

    /// Writes `dir/<FunctionName>/function.json` (pretty JSON, declaration order) for every
    /// function and returns the files written.
    pub fn write_manifest(&self, dir: &Path) -> Result<Vec<PathBuf>, StartError> {
        self.validate()?;
        let mut written = Vec::new();
        for function in &self.functions {
            let folder = dir.join(function.name());
            std::fs::create_dir_all(&folder).map_err(|source| StartError::Manifest {
                path: folder.clone(),
                source,
            })?;
            let path = folder.join("function.json");
            let mut text =
                serde_json::to_string_pretty(&function.function_json()).map_err(|e| {
                    StartError::Manifest {
                        path: path.clone(),
                        source: std::io::Error::other(e),
                    }
                })?;
            text.push('\n');
            std::fs::write(&path, text).map_err(|source| StartError::Manifest {
                path: path.clone(),
                source,
            })?;
            written.push(path);
        }
        Ok(written)
    }

    /// Builds the server on `listener` (bind port 0 in tests). Call inside an async runtime.
    pub fn bind(self, listener: TcpListener) -> Result<Server, StartError> {
        self.validate()?;
        let address = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| "the given listener".to_string());
        let bind_error = |source| StartError::Bind {
            address: address.clone(),
            source,
        };
        let port = listener.local_addr().map_err(bind_error)?.port();
        let state = actix_web::web::Data::new(self.state());
        let options = serve::Options {
            workers: self.workers,
            shutdown_timeout: self.shutdown_timeout,
            ..serve::Options::default()
        };
        let serve::Serving { server, drain } = serve::serve(listener, &options, move || {
            actix_web::App::new()
                .wrap(drain::CloseWhenDraining)
                .app_data(state.clone())
                .configure(routes::configure)
        })
        .map_err(bind_error)?;
        Ok(Server {
            port,
            server,
            drain,
        })
    }

    /// Binds `127.0.0.1` at the port the host passes in the environment.
    pub fn bind_from_env(self) -> Result<Server, StartError> {
        let port = port_from_env(|name| std::env::var(name).ok())?;
        let address = format!("127.0.0.1:{port}");
        let listener = TcpListener::bind(&address).map_err(|source| StartError::Bind {
            address: address.clone(),
            source,
        })?;
        self.bind(listener)
    }

    pub(crate) fn state(&self) -> State {
        let mut functions = Vec::new();
        let mut forward_routes = Vec::new();
        let forwarding = self.forwarding.unwrap_or(false);
        for function in &self.functions {
            let Some(handler) = function.handler_ref() else {
                continue; // validate() refuses functions without a handler
            };
            let json = function.function_json();
            let registered = Arc::new(Registered {
                name: function.name().to_string(),
                handler: Arc::clone(handler),
                http_outputs: json
                    .bindings
                    .iter()
                    .filter(|b| matches!(b, Binding::Http(_)))
                    .map(|b| b.name().to_string())
                    .collect(),
                bindings: Arc::from(json.bindings.clone()),
                http_triggered: json.http_trigger().is_some(),
            });
            if forwarding
                && json.is_forwardable()
                && let (Some(trigger), Some(output)) = (json.http_trigger(), json.http_output())
                && let Ok(template) =
                    RouteTemplate::parse(trigger.route.as_deref().unwrap_or(function.name()))
            {
                forward_routes.push(ForwardRoute {
                    function: Arc::clone(&registered),
                    template,
                    trigger: trigger.clone(),
                    output: output.name.to_string(),
                    body_limit: function.body_limit_bytes().unwrap_or(self.body_limit),
                });
            }
            functions.push(registered);
        }
        State {
            functions,
            forward_routes,
            forward_prefix: forwarding.then(|| {
                self.route_prefix
                    .clone()
                    .unwrap_or_else(|| "api".to_string())
            }),
            body_limit: self.body_limit,
            body_timeout: self.body_timeout,
            error_body: Arc::clone(&self.error_body),
        }
    }

    /// The whole program for a handler binary: `fn main() -> ExitCode { app().main() }`.
    ///
    /// With no arguments it serves; `manifest --out DIR` writes the function.json files. Any
    /// error is printed as one sentence on stderr and the exit code is non-zero. It installs
    /// no logger: the runtime logs through the `log` facade, and the app chooses where that
    /// goes (the host collects stdout and stderr).
    pub fn main(self) -> ExitCode {
        match self.run_cli(std::env::args().skip(1)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        }
    }

    /// Runs the command line `args` (without the program name); [`FunctionApp::main`] calls this.
    pub fn run_cli<I, S>(self, args: I) -> Result<(), StartError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let args: Vec<String> = args.into_iter().map(Into::into).collect();
        match args.first().map(String::as_str) {
            None => self.serve_from_env(),
            Some("manifest") => {
                let dir = manifest_out(&args[1..])?;
                let written = self.write_manifest(&dir)?;
                println!(
                    "wrote {} function.json file(s) under {}",
                    written.len(),
                    dir.display()
                );
                Ok(())
            }
            Some("-h" | "--help" | "help") => {
                println!("{USAGE}");
                Ok(())
            }
            Some(other) => Err(StartError::Usage(format!(
                "unknown command `{other}`; run with no arguments to serve, or `manifest --out DIR` to write function.json files"
            ))),
        }
    }

    fn serve_from_env(mut self) -> Result<(), StartError> {
        if let Some(root) = std::env::var_os(APP_ROOT_VAR) {
            let path = Path::new(&root).join("host.json");
            if path.is_file() {
                let host = read_host_json(&path)?;
                self = self.with_host_json(&host);
            }
        }
        actix_web::rt::System::new().block_on(async move {
            let server = self.bind_from_env()?;
            log::info!("custom handler listening on 127.0.0.1:{}", server.port());
            server.run().await.map_err(StartError::Serve)
        })
    }
}

fn read_host_json(path: &Path) -> Result<HostJson, StartError> {
    let fail = |message: String| StartError::HostJson {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    HostJson::from_json(&text).map_err(|e| fail(e.to_string()))
}

fn manifest_out(args: &[String]) -> Result<PathBuf, StartError> {
    let missing = || {
        StartError::Usage(
            "manifest needs --out DIR, the folder beside host.json where the function folders go"
                .to_string(),
        )
    };
    match args {
        [flag, dir] if flag == "--out" && !dir.is_empty() => Ok(PathBuf::from(dir)),
        [flag] if flag.starts_with("--out=") && flag.len() > "--out=".len() => {
            Ok(PathBuf::from(&flag["--out=".len()..]))
        }
        _ => Err(missing()),
    }
}

/// The port from `FUNCTIONS_CUSTOMHANDLER_PORT`, else `FUNCTIONS_HTTPWORKER_PORT`.
fn port_from_env(var: impl Fn(&str) -> Option<String>) -> Result<u16, StartError> {
    let (name, value) = [PORT_VAR, LEGACY_PORT_VAR]
        .into_iter()
        .find_map(|name| var(name).map(|value| (name, value)))
        .ok_or(StartError::NoPort)?;
    match value.trim().parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(StartError::InvalidPort { var: name, value }),
    }
}

/// A bound server. Await [`Server::run`] to serve until SIGTERM/SIGINT.
///
/// ```no_run
/// # async fn serve(app: functions_custom_handler::FunctionApp) -> std::io::Result<()> {
/// let server = app.bind(std::net::TcpListener::bind("127.0.0.1:0")?).unwrap();
/// println!("listening on {}", server.port());
/// server.run().await
/// # }
/// ```
pub struct Server {
    port: u16,
    server: actix_web::dev::Server,
    drain: Arc<Drain>,
}

impl Server {
    /// The port the server listens on (useful after binding port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server; `stop(true)` finishes in-flight requests first.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped. SIGTERM or SIGINT refuses new connections, answers what arrives
    /// on open ones within a one-second window (with `Connection: close`), lets in-flight
    /// invocations finish within the shutdown timeout, then returns.
    pub async fn run(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let drain = self.drain;
        let watcher = tokio::spawn(async move {
            shutdown_signal().await;
            log::info!("shutting down: finishing in-flight invocations");
            drain.stop(&handle, DRAIN_WINDOW).await;
        });
        let result = self.server.await;
        watcher.abort();
        result
    }
}

/// Resolves on SIGTERM or SIGINT; never resolves if no signal can be watched.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    () = interrupt => {}
                }
            }
            Err(e) => {
                log::warn!("cannot watch SIGTERM ({e}); only SIGINT stops the server gracefully");
                interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    interrupt.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn the_port_comes_from_the_current_variable_then_the_legacy_one() {
        assert_eq!(port_from_env(env(&[(PORT_VAR, "7071")])).unwrap(), 7071);
        assert_eq!(
            port_from_env(env(&[(LEGACY_PORT_VAR, "8080")])).unwrap(),
            8080
        );
        assert_eq!(
            port_from_env(env(&[(PORT_VAR, "1"), (LEGACY_PORT_VAR, "2")])).unwrap(),
            1
        );
    }

    #[test]
    fn a_missing_or_invalid_port_is_one_sentence() {
        let err = port_from_env(env(&[])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("neither FUNCTIONS_CUSTOMHANDLER_PORT nor")
        );
        for bad in ["", "abc", "0", "70000"] {
            let err = port_from_env(env(&[(PORT_VAR, bad)])).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "FUNCTIONS_CUSTOMHANDLER_PORT is `{bad}`, which is not a TCP port between 1 and 65535"
                )
            );
        }
    }

    #[test]
    fn manifest_needs_an_out_folder() {
        assert_eq!(
            manifest_out(&["--out".into(), "d".into()]).unwrap(),
            PathBuf::from("d")
        );
        assert_eq!(
            manifest_out(&["--out=d".into()]).unwrap(),
            PathBuf::from("d")
        );
        for bad in [
            vec![],
            vec!["--out".to_string()],
            vec!["--dir".into(), "d".into()],
        ] {
            let err = manifest_out(&bad).unwrap_err();
            assert!(err.to_string().starts_with("manifest needs --out DIR"));
        }
    }

    #[test]
    fn unknown_commands_are_refused_with_what_to_do() {
        let err = FunctionApp::new().run_cli(["serve"]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown command `serve`; run with no arguments")
        );
    }

    #[test]
    fn host_json_settings_apply_unless_set_explicitly() {
        let host = HostJson::from_json(
            r#"{"version": "2.0",
                "customHandler": {"description": {"defaultExecutablePath": "h"}, "enableForwardingHttpRequest": true},
                "extensions": {"http": {"routePrefix": "/v1/"}}}"#,
        )
        .unwrap();
        let app = FunctionApp::new().with_host_json(&host);
        assert_eq!(app.forwarding, Some(true));
        assert_eq!(app.route_prefix.as_deref(), Some("v1"));
        let app = FunctionApp::new()
            .forward_http_requests(false)
            .with_host_json(&host);
        assert_eq!(app.forwarding, Some(false));
    }

    #[test]
    fn forwarding_with_an_empty_prefix_is_refused() {
        let err = FunctionApp::new()
            .forward_http_requests(true)
            .route_prefix("")
            .validate()
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("forwarding with an empty route prefix")
        );
    }
}
