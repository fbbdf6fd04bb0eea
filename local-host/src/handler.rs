//! Supervising the custom handler process: start it on a free loopback port, wait until it
//! answers `GET /`, restart it when it dies, kill it on shutdown.

use crate::config::HandlerSpec;
use custom_handler::{APP_ROOT_VAR, PORT_VAR};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The variable carrying the worker id the host assigns.
pub const WORKER_ID_VAR: &str = "FUNCTIONS_CUSTOMHANDLER_WORKER_ID";
/// How often readiness is polled (the host's interval).
const POLL_INTERVAL: Duration = Duration::from_millis(25);
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A handler that stayed up this long gets the short back-off again when it next dies.
const HEALTHY_UPTIME: Duration = Duration::from_secs(30);

/// Where the handler is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerState {
    /// Starting or restarting; invocations wait.
    Starting,
    /// Answering at `url` (`http://127.0.0.1:PORT`).
    Ready {
        /// The base URL.
        url: String,
        /// The process id.
        pid: Option<u32>,
    },
    /// Shut down for good.
    Stopped,
}

/// A cheap handle on the handler's state, for invokers and tests.
#[derive(Debug, Clone)]
pub struct HandlerHandle {
    rx: watch::Receiver<HandlerState>,
}

impl HandlerHandle {
    /// The base URL once the handler is ready, waiting up to `timeout` while it (re)starts.
    pub async fn ready_url(&self, timeout: Duration) -> Result<String, String> {
        let mut rx = self.rx.clone();
        let waited = tokio::time::timeout(
            timeout,
            rx.wait_for(|s| !matches!(s, HandlerState::Starting)),
        )
        .await;
        match waited {
            Ok(Ok(state)) => match &*state {
                HandlerState::Ready { url, .. } => Ok(url.clone()),
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
    pub fn state(&self) -> HandlerState {
        self.rx.borrow().clone()
    }

    /// The handler's process id while it is ready.
    pub fn pid(&self) -> Option<u32> {
        match &*self.rx.borrow() {
            HandlerState::Ready { pid, .. } => *pid,
            _ => None,
        }
    }
}

/// What the handler process needs besides its [`HandlerSpec`].
#[derive(Debug, Clone)]
pub struct Launch {
    /// How to start it.
    pub spec: HandlerSpec,
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

/// Starts the handler and waits until it is ready; then keeps it running until `shutdown`.
///
/// The returned task ends after the process has been killed and reaped.
pub async fn start(
    launch: Launch,
    shutdown: CancellationToken,
) -> Result<(HandlerHandle, JoinHandle<()>), String> {
    let first = start_once(&launch, &shutdown).await?;
    let pid = first.child.id();
    log::info!(
        "custom handler ready at {} (pid {})",
        first.url,
        pid.unwrap_or(0)
    );
    let (tx, rx) = watch::channel(HandlerState::Ready {
        url: first.url.clone(),
        pid,
    });
    let task = tokio::spawn(supervise(first, launch, tx, shutdown));
    Ok((HandlerHandle { rx }, task))
}

async fn supervise(
    mut running: Running,
    launch: Launch,
    tx: watch::Sender<HandlerState>,
    shutdown: CancellationToken,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let _ = tx.send(HandlerState::Ready {
            url: running.url.clone(),
            pid: running.child.id(),
        });
        let up_since = Instant::now();
        tokio::select! {
            status = running.child.wait() => {
                let _ = tx.send(HandlerState::Starting);
                let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                log::error!("the custom handler exited ({status}); invocations in flight failed; restarting it");
            }
            _ = shutdown.cancelled() => {
                kill(&mut running.child).await;
                let _ = tx.send(HandlerState::Stopped);
                return;
            }
        }
        if up_since.elapsed() > HEALTHY_UPTIME {
            backoff = FIRST_BACKOFF;
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.cancelled() => {
                    let _ = tx.send(HandlerState::Stopped);
                    return;
                }
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            match start_once(&launch, &shutdown).await {
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
                    let _ = tx.send(HandlerState::Stopped);
                    return;
                }
                Err(e) => log::error!("{e}; trying again in {} ms", backoff.as_millis()),
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

async fn start_once(launch: &Launch, shutdown: &CancellationToken) -> Result<Running, String> {
    let port = free_port()?;
    let spec = &launch.spec;
    let mut command = Command::new(&spec.executable);
    command
        .args(&spec.arguments)
        .current_dir(&spec.working_dir)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .env(PORT_VAR, port.to_string())
        .env(WORKER_ID_VAR, uuid::Uuid::new_v4().to_string())
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
