//! Supervising the custom handler process as the host does: start it on a loopback port chosen
//! once per host start, wait until it answers `GET /`, restart it when it dies, stop the host
//! when it keeps dying, and stop it on shutdown.
//!
//! Rules, azure-functions-host v4.1037.0:
//! - environment (`Workers/Http/HttpWorkerProcess.cs`): `FUNCTIONS_CUSTOMHANDLER_PORT`,
//!   `FUNCTIONS_CUSTOMHANDLER_WORKER_ID`, `FUNCTIONS_HTTPWORKER_PORT`, `FUNCTIONS_HTTPWORKER_ID`,
//!   `FUNCTIONS_APP_ROOT_PATH`;
//! - exit (`Workers/ProcessManagement/WorkerProcess.cs`, `OnProcessExited`): code 0 is not
//!   restarted; code 200 is an intentional restart; any other end is a worker error;
//! - errors (`Workers/Http/HttpFunctionInvocationDispatcher.cs`): the handler is restarted while
//!   fewer than 3 errors have been seen, each within 30 minutes of the one before; the third
//!   stops the whole host.

use crate::config::WorkerSpec;
use functions_custom_handler_protocol::{APP_ROOT_VAR, LEGACY_PORT_VAR, PORT_VAR};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The variable carrying the worker id the host assigns.
pub const WORKER_ID_VAR: &str = "FUNCTIONS_CUSTOMHANDLER_WORKER_ID";
/// The same id under the older name, which the host still sets.
pub const LEGACY_WORKER_ID_VAR: &str = "FUNCTIONS_HTTPWORKER_ID";
/// How often readiness is polled (the host's interval).
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// The exit code with which a handler asks to be restarted (`IntentionalRestartExitCode`).
pub const RESTART_EXIT_CODE: i32 = 200;
/// Errors that stop the host (`ErrorEventsThreshold`).
const ERROR_THRESHOLD: usize = 3;
/// Errors further apart than this start the count again (`WorkerRestartErrorIntervalThresholdInMinutes`).
const ERROR_WINDOW: Duration = Duration::from_secs(30 * 60);

/// Where the handler is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerState {
    /// Starting or restarting; invocations wait.
    Starting,
    /// Answering at `url` (`http://127.0.0.1:PORT`).
    Ready {
        /// The base URL.
        url: String,
        /// The process id.
        pid: Option<u32>,
    },
    /// Exited with code 0, which the host does not restart; invocations fail.
    Exited,
    /// Kept dying: the host stops, for the reason given.
    Failed(String),
    /// Shut down for good.
    Stopped,
}

/// A cheap handle on the handler's state, for invokers and tests.
#[derive(Debug, Clone)]
pub struct WorkerHandle {
    rx: watch::Receiver<WorkerState>,
}

impl WorkerHandle {
    /// The base URL once the handler is ready, waiting up to `timeout` while it (re)starts.
    pub async fn ready_url(&self, timeout: Duration) -> Result<String, String> {
        let mut rx = self.rx.clone();
        let waited = tokio::time::timeout(
            timeout,
            rx.wait_for(|s| !matches!(s, WorkerState::Starting)),
        )
        .await;
        match waited {
            Ok(Ok(state)) => match &*state {
                WorkerState::Ready { url, .. } => Ok(url.clone()),
                WorkerState::Exited => Err(
                    "the custom handler exited with code 0, and the host does not restart a handler that exits cleanly".to_string(),
                ),
                WorkerState::Failed(why) => Err(why.clone()),
                _ => Err("the custom handler is stopped".to_string()),
            },
            Ok(Err(_)) => Err("the custom handler is stopped".to_string()),
            Err(_) => Err(format!(
                "the custom handler was not ready within {} s (it is restarting)",
                timeout.as_secs()
            )),
        }
    }

    /// The current state.
    pub fn state(&self) -> WorkerState {
        self.rx.borrow().clone()
    }

    /// Waits until the handler has failed for good, and says why.
    pub async fn failed(&self) -> String {
        let mut rx = self.rx.clone();
        match rx.wait_for(|s| matches!(s, WorkerState::Failed(_))).await {
            Ok(state) => match &*state {
                WorkerState::Failed(why) => why.clone(),
                _ => String::new(),
            },
            // The supervisor is gone without failing: never resolve.
            Err(_) => std::future::pending().await,
        }
    }

    /// The handler's process id while it is ready.
    pub fn pid(&self) -> Option<u32> {
        match &*self.rx.borrow() {
            WorkerState::Ready { pid, .. } => *pid,
            _ => None,
        }
    }
}

/// What the handler process needs besides its [`WorkerSpec`].
#[derive(Debug, Clone)]
pub struct Launch {
    /// How to start it.
    pub spec: WorkerSpec,
    /// App settings, passed as environment variables.
    pub env: Vec<(String, String)>,
    /// The app root, passed as `FUNCTIONS_APP_ROOT_PATH`.
    pub app_root: String,
    /// How long to wait for `GET /` to answer.
    pub startup_timeout: Duration,
}

struct Running {
    child: Child,
    url: String,
}

/// The worker errors seen lately, counted as the dispatcher counts them.
#[derive(Debug, Default)]
pub struct ErrorCount {
    last: Option<Instant>,
    count: usize,
}

impl ErrorCount {
    /// Records an error at `now`; true when the host must stop rather than restart.
    pub fn record(&mut self, now: Instant) -> bool {
        if self
            .last
            .is_some_and(|last| now.duration_since(last) > ERROR_WINDOW)
        {
            self.count = 0;
        }
        self.last = Some(now);
        self.count += 1;
        self.count >= ERROR_THRESHOLD
    }
}

/// Starts the handler and waits until it is ready; then keeps it running until `shutdown`.
///
/// The returned task ends after the process has been stopped and reaped.
pub async fn start(
    launch: Launch,
    shutdown: CancellationToken,
) -> Result<(WorkerHandle, JoinHandle<()>), String> {
    // One port for the host's lifetime, as `HttpWorkerOptions.Port` is chosen once.
    let port = free_port()?;
    let first = start_once(&launch, port, &shutdown).await?;
    let pid = first.child.id();
    log::info!(
        "custom handler ready at {} (pid {})",
        first.url,
        pid.unwrap_or(0)
    );
    let (tx, rx) = watch::channel(WorkerState::Ready {
        url: first.url.clone(),
        pid,
    });
    let task = tokio::spawn(supervise(first, launch, port, tx, shutdown));
    Ok((WorkerHandle { rx }, task))
}

async fn supervise(
    mut running: Running,
    launch: Launch,
    port: u16,
    tx: watch::Sender<WorkerState>,
    shutdown: CancellationToken,
) {
    let mut errors = ErrorCount::default();
    loop {
        let _ = tx.send(WorkerState::Ready {
            url: running.url.clone(),
            pid: running.child.id(),
        });
        let status = tokio::select! {
            status = running.child.wait() => status,
            _ = shutdown.cancelled() => {
                kill(&mut running.child).await;
                let _ = tx.send(WorkerState::Stopped);
                return;
            }
        };
        let _ = tx.send(WorkerState::Starting);
        let code = status.as_ref().ok().and_then(|s| s.code());
        let described = status
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        match code {
            Some(0) => {
                log::warn!(
                    "the custom handler exited with code 0; the host does not restart a handler that exits cleanly, so invocations fail until the host restarts"
                );
                let _ = tx.send(WorkerState::Exited);
                shutdown.cancelled().await;
                let _ = tx.send(WorkerState::Stopped);
                return;
            }
            Some(RESTART_EXIT_CODE) => {
                log::info!("the custom handler exited with code 200, asking to be restarted");
            }
            _ => {
                if errors.record(Instant::now()) {
                    let why = format!(
                        "the custom handler failed {ERROR_THRESHOLD} times, each within 30 minutes of the last (most recently: {described}), so the host stops, as Azure's does"
                    );
                    log::error!("{why}");
                    let _ = tx.send(WorkerState::Failed(why));
                    return;
                }
                log::error!(
                    "the custom handler exited ({described}); invocations in flight failed; restarting it"
                );
            }
        }
        loop {
            match start_once(&launch, port, &shutdown).await {
                Ok(next) => {
                    log::info!(
                        "custom handler restarted at {} (pid {})",
                        next.url,
                        next.child.id().unwrap_or(0)
                    );
                    running = next;
                    break;
                }
                Err(e) if shutdown.is_cancelled() => {
                    log::debug!("{e}");
                    let _ = tx.send(WorkerState::Stopped);
                    return;
                }
                // A start that fails is a worker error too.
                Err(e) if errors.record(Instant::now()) => {
                    let why = format!(
                        "the custom handler failed {ERROR_THRESHOLD} times, each within 30 minutes of the last (most recently: {e}), so the host stops, as Azure's does"
                    );
                    log::error!("{why}");
                    let _ = tx.send(WorkerState::Failed(why));
                    return;
                }
                Err(e) => log::error!("{e}; trying again"),
            }
        }
    }
}

/// How long a stopping handler gets to finish its in-flight invocations after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Stops the handler as a platform would: SIGTERM, so it finishes what it is doing, then
/// SIGKILL if it is still there after [`STOP_GRACE`].
async fn kill(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        use nix::sys::signal::{Signal, kill as send};
        if send(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM).is_ok()
            && let Ok(Ok(status)) = tokio::time::timeout(STOP_GRACE, child.wait()).await
        {
            log::info!("custom handler stopped ({status})");
            return;
        }
    }
    if let Err(e) = child.start_kill() {
        log::debug!("killing the custom handler: {e}");
    }
    match child.wait().await {
        Ok(status) => log::info!("custom handler stopped ({status})"),
        Err(e) => log::warn!("could not reap the custom handler: {e}"),
    }
}

fn free_port() -> Result<u16, String> {
    // The port is free when read; the handler binds it a moment later, as the host does.
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free loopback port for the custom handler ({e})"))
}

async fn start_once(
    launch: &Launch,
    port: u16,
    shutdown: &CancellationToken,
) -> Result<Running, String> {
    let spec = &launch.spec;
    let worker_id = uuid::Uuid::new_v4().to_string();
    let mut command = Command::new(&spec.executable);
    command
        .args(&spec.arguments)
        .current_dir(&spec.working_dir)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .env(PORT_VAR, port.to_string())
        .env(LEGACY_PORT_VAR, port.to_string())
        .env(WORKER_ID_VAR, &worker_id)
        .env(LEGACY_WORKER_ID_VAR, &worker_id)
        .env(APP_ROOT_VAR, &launch.app_root)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| {
        format!(
            "cannot start the custom handler {}: {e}",
            display(&spec.executable)
        )
    })?;
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .map_err(|e| format!("cannot build an HTTP client ({e})"))?;
    let deadline = Instant::now() + launch.startup_timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "the custom handler {} exited ({status}) before it answered on port {port}",
                display(&spec.executable)
            ));
        }
        // Any HTTP response at all means ready, as on the host.
        if client.get(format!("{url}/")).send().await.is_ok() {
            return Ok(Running { child, url });
        }
        if Instant::now() >= deadline {
            kill(&mut child).await;
            return Err(format!(
                "the custom handler {} did not answer GET {url}/ within {} s; it must listen on 127.0.0.1 at the port in {PORT_VAR}",
                display(&spec.executable),
                launch.startup_timeout.as_secs_f32()
            ));
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = shutdown.cancelled() => {
                kill(&mut child).await;
                return Err("shutting down while the custom handler was starting".to_string());
            }
        }
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    // HttpFunctionInvocationDispatcher.AddOrUpdateErrorBucket / RestartWorkerChannel.
    #[test]
    fn the_third_error_within_the_window_stops_and_a_quiet_half_hour_resets() {
        let t0 = Instant::now();
        let mut errors = ErrorCount::default();
        assert!(!errors.record(t0));
        assert!(!errors.record(t0 + Duration::from_secs(60)));
        assert!(errors.record(t0 + Duration::from_secs(120)));

        let mut errors = ErrorCount::default();
        assert!(!errors.record(t0));
        assert!(!errors.record(t0 + Duration::from_secs(60)));
        assert!(
            !errors.record(t0 + Duration::from_secs(60) + ERROR_WINDOW + Duration::from_secs(1))
        );
        assert!(!errors.record(t0 + 2 * ERROR_WINDOW));
    }
}
