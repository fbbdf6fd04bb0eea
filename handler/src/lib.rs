//! The house-price Functions app: four functions declared in code, served by the
//! `custom-handler` runtime. The domain logic all lives in `house-price`; each function
//! here only moves bytes between the host's protocol and that crate.
#![warn(missing_docs)]

use std::sync::Arc;

use custom_handler::{FunctionApp, InvocationError};

pub mod functions;
mod respond;
mod state;

pub use state::{FAULTS_VAR, State};

/// Every function of the app, with its bindings and handler.
pub fn app(state: State) -> FunctionApp {
    let state = Arc::new(state);
    FunctionApp::new()
        .function(functions::predict::function(state.clone()))
        .function(functions::submit_job::function(state.clone()))
        .function(functions::score_job::function(state.clone()))
        .function(functions::job_status::function(state))
}

/// Turns a storage failure into the invocation error the host should see: transient ones
/// are retried by the host, the rest are not.
pub(crate) fn storage_failure(what: &str, e: storage::StorageError) -> InvocationError {
    let message = format!("{what}: {e}");
    if e.is_transient() {
        InvocationError::transient(message)
    } else {
        InvocationError::permanent(message)
    }
}
