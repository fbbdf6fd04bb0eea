//! What every request handler shares, built once before the workers start.

use house_price::Model;
use house_price::api::Limits;

/// The loaded model and the limits requests are held to.
#[derive(Debug)]
pub struct AppState {
    /// The model this deployment serves.
    pub model: Model,
    /// Body and row limits.
    pub limits: Limits,
}
