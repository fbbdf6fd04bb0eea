//! The house-price Functions app: seven functions declared in code, served by the
//! `custom-handler` runtime. The domain logic all lives in `house-price`; each function
//! here only moves bytes between the host's protocol and that crate.
#![warn(missing_docs)]

use std::sync::Arc;

use functions_custom_handler::FunctionApp;

pub mod functions;
mod respond;
mod state;

pub use state::{FAULTS_VAR, State};

/// Every function of the app, with its bindings and handler.
pub fn app(state: State) -> FunctionApp {
    let limit = invocation_limit(&state);
    let state = Arc::new(state);
    FunctionApp::new()
        .error_body(respond::error_body)
        .invocation_body_limit(limit)
        .function(functions::predict::function(state.clone()))
        .function(functions::submit_job::function(state.clone()))
        .function(functions::score_job::function(state.clone()))
        .function(functions::job_status::function(state.clone()))
        .function(functions::queue_upload::function())
        .function(functions::score_upload::function(state.clone()))
        .function(functions::housekeeping::function(state))
}

/// The largest invocation to accept: one carrying the largest body a function accepts. The
/// host sends that body as a JSON string inside the invocation, where one byte can take six
/// (`\u0000`), plus the request's headers; a smaller limit turned a batch at the job limit
/// into the runtime's 413, which the host answers as a 500.
pub fn invocation_limit(state: &State) -> usize {
    let largest = state
        .job_limits
        .max_body_bytes
        .max(state.predict_limits.max_body_bytes);
    largest.saturating_mul(6).saturating_add(1 << 20)
}
