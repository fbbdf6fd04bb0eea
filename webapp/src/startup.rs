//! Builds the server: the same code path for the binary and for the tests.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, web};
use drain::Drain;
use house_price::model::ModelError;
use storage::{Storage, StorageError};
use tokio::signal::unix::{SignalKind, signal};

use crate::access_log::AccessLog;
use crate::configuration::{ConfigError, STORAGE_PREFIX, Settings};
use crate::errors;
use crate::openapi::OpenApiJson;
use crate::rate_limit::RateLimiter;
use crate::routes::{self, page::Page};
use crate::state::AppState;

/// How long connections stay open after SIGTERM for a last request, answered with
/// `Connection: close` (see the `drain` crate).
pub const DRAIN_WINDOW: Duration = Duration::from_secs(1);

/// How long in-flight requests get to finish once the drain window is over. App Service waits
/// `WEBSITES_CONTAINER_STOP_TIME_LIMIT` (5 s by default) before killing the process, and
/// `DRAIN_WINDOW` plus this stays under it.
pub const SHUTDOWN_TIMEOUT_SECS: u64 = 3;

/// The Content-Security-Policy of every response: the page loads only its own script and
/// stylesheet and talks only to this server.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Why the server cannot start. `Display` is one sentence for stderr.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// An environment variable is set to something unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The model artifact cannot be loaded.
    #[error("cannot load the model ({which}): {source}")]
    Model {
        /// `MODEL_PATH=...` or `embedded`.
        which: String,
        /// Why.
        source: ModelError,
    },
    /// The storage clients cannot be built from the settings (nothing is sent at start-up,
    /// so an unreachable account does not stop the app: `/jobs` answers 503 until it is back).
    #[error("cannot set up storage for background jobs: {0}")]
    Storage(#[from] StorageError),
    /// The OpenAPI document cannot be rendered.
    #[error("cannot render the OpenAPI document: {0}")]
    OpenApi(#[from] serde_json::Error),
    /// The address cannot be listened on.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("the server failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// A server bound to its port, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    drain: Arc<Drain>,
}

impl Application {
    /// Loads the model, binds the listener and builds the server; nothing is served until
    /// [`Application::run_until_stopped`] is awaited.
    pub fn build(settings: Settings) -> Result<Application, StartupError> {
        let model = settings
            .load_model()
            .map_err(|source| StartupError::Model {
                which: match &settings.model_path {
                    Some(p) => format!("MODEL_PATH={}", p.display()),
                    None => "embedded".to_owned(),
                },
                source,
            })?;
        let page = web::Data::new(Page::render(&model, settings.max_upload_bytes));
        let openapi = web::Data::new(OpenApiJson::render()?);
        let limits = settings.limits;
        let storage = settings.storage.as_ref().map(Storage::new).transpose()?;
        match &storage {
            Some(s) => log::info!(
                "background jobs go through queue {} at {}",
                house_price::jobs::QUEUE,
                s.settings().queue_endpoint
            ),
            None => log::info!(
                "background jobs are off: no storage is configured (set {STORAGE_PREFIX})"
            ),
        }
        let state = web::Data::new(AppState {
            model,
            limits,
            job_limits: settings.job_limits,
            max_upload_bytes: settings.max_upload_bytes,
            body_timeout: settings.body_timeout,
            submit_limit: limiter(settings.job_submissions_per_minute),
            status_limit: limiter(settings.job_status_checks_per_minute),
            forwarded_for_hops: settings.forwarded_for_hops,
            storage,
            jobs_ready: Default::default(),
        });

        let address = SocketAddr::new(settings.bind_address, settings.port);
        let listener =
            TcpListener::bind(address).map_err(|source| StartupError::Bind { address, source })?;
        let port = listener.local_addr()?.port();
        let options = serve::Options {
            workers: settings.workers,
            shutdown_timeout: Duration::from_secs(SHUTDOWN_TIMEOUT_SECS),
            ..serve::Options::default()
        };
        let serve::Serving { server, drain } = serve::serve(listener, &options, move || {
            App::new()
                .wrap(drain::CloseWhenDraining)
                // Innermost: compressed bodies are refused before any route reads them.
                .wrap(errors::RefuseEncoded)
                .wrap(security_headers())
                // Outermost: every answer gets its line, with the client address App Service's
                // front end forwards, not the front end's own.
                .wrap(AccessLog)
                .app_data(state.clone())
                .app_data(page.clone())
                .app_data(openapi.clone())
                .configure(routes::configure)
                .default_service(web::to(errors::not_found))
        })
        .map_err(|source| StartupError::Bind { address, source })?;
        Ok(Application {
            port,
            server,
            drain,
        })
    }

    /// The port actually bound (useful when the settings asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server from elsewhere.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// On SIGTERM (App Service stopping the app) or SIGINT (Ctrl-C): refuse new connections,
    /// answer what arrives on open ones within [`DRAIN_WINDOW`], let in-flight requests finish
    /// within [`SHUTDOWN_TIMEOUT_SECS`], then let [`Application::run_until_stopped`] return.
    /// Must be called inside the runtime.
    pub fn stop_on_signals(&self) -> std::io::Result<()> {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let handle = self.handle();
        let drain = Arc::clone(&self.drain);
        actix_web::rt::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            log::info!("{name} received: finishing in-flight requests, then stopping");
            drain.stop(&handle, DRAIN_WINDOW).await;
        });
        Ok(())
    }

    /// Serves until the server is stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// A per-client limit of `per_minute` requests, or none for 0.
fn limiter(per_minute: u32) -> Option<RateLimiter> {
    (per_minute > 0).then(|| RateLimiter::per_minute(per_minute))
}

/// Headers every response carries, whatever route or error produced it.
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
}
