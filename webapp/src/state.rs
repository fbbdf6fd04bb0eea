//! What every request handler shares, built once before the workers start.

use std::time::Duration;

use house_price::Model;
use house_price::api::Limits;
use storage::Storage;

use crate::rate_limit::RateLimiter;
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
    /// The largest file `POST /uploads` takes.
    pub max_upload_bytes: usize,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// Per-client limits of `POST /jobs` and `GET /jobs/{id}`; `None` is no limit.
    pub submit_limit: Option<RateLimiter>,
    /// See `submit_limit`.
    pub status_limit: Option<RateLimiter>,
    /// Proxies in front of the app that append to `X-Forwarded-For`.
    pub forwarded_for_hops: usize,
    /// The account background jobs are queued on and read back from; `None` when no
    /// storage is configured, which turns the `/jobs` routes off.
    pub storage: Option<Storage>,
    /// Set once the job queue and containers are known to exist: they are created at the
    /// first submission rather than at start-up, so an unreachable account never stops the
    /// app from starting.
    pub jobs_ready: OnceCell<()>,
}
