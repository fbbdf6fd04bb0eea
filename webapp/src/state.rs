//! What every request handler shares, built once before the workers start.

use std::time::Duration;

use house_price::Model;
use house_price::api::Limits;
use storage::Storage;
use tokio::sync::OnceCell;

/// The loaded model, the limits requests are held to, and the storage jobs go through.
#[derive(Debug)]
pub struct AppState {
    /// The model this deployment serves.
    pub model: Model,
    /// Body and row limits of `/predict`.
    pub limits: Limits,
    /// Body and row limits of `POST /jobs`.
    pub job_limits: Limits,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// The account background jobs are queued on and read back from; `None` when no
    /// storage is configured, which turns the `/jobs` routes off.
    pub storage: Option<Storage>,
    /// Set once the job queue and containers are known to exist: they are created at the
    /// first submission rather than at start-up, so an unreachable account never stops the
    /// app from starting.
    pub jobs_ready: OnceCell<()>,
}
