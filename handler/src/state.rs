//! What every invocation shares: the model, the limits, and the optional storage client.

use house_price::Model;
use house_price::api::Limits;
use house_price::jobs::MAX_JOB_ROWS;
use std::time::Duration;

use functions_custom_handler_protocol::host_json::TimeSpan;
use storage::Storage;

/// Enables the test-only fault switch of `score-job` when set to `1`. Never set in Azure.
pub const FAULTS_VAR: &str = "HANDLER_TEST_FAULTS";

/// Shared, read-only state of the app.
#[derive(Debug)]
pub struct State {
    /// The model, loaded once at start-up.
    pub model: Model,
    /// Limits of `predict`: the same as the web app's `/predict`.
    pub predict_limits: Limits,
    /// Limits of `submit-job`.
    pub job_limits: Limits,
    /// Storage for rows too large for one queue message (the claim check). `None` when
    /// `AzureWebJobsStorage` is not configured; large jobs are then refused.
    pub storage: Option<Storage>,
    /// Whether `score-job` honours a message's `testFault` field.
    pub faults: bool,
    /// How old a blob `housekeeping` deletes is.
    pub housekeeping_retention: Duration,
}

/// Why the app cannot start.
#[derive(Debug)]
pub struct StateError(String);

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StateError {}

impl State {
    /// State for the given model, with the default limits and no storage or faults.
    pub fn new(model: Model) -> State {
        State {
            model,
            predict_limits: Limits::default(),
            job_limits: Limits {
                // 100,000 rows of pandas JSON are about 10 MiB.
                max_body_bytes: 16 << 20,
                max_rows: MAX_JOB_ROWS,
            },
            storage: None,
            faults: false,
            housekeeping_retention: crate::functions::housekeeping::DEFAULT_RETENTION,
        }
    }

    /// State from the environment: `MODEL_PATH`, `AzureWebJobsStorage*`, [`FAULTS_VAR`],
    /// `HOUSEKEEPING_RETENTION`.
    pub fn from_env() -> Result<State, StateError> {
        let model = Model::from_env().map_err(|e| StateError(e.to_string()))?;
        let mut state = State::new(model);
        state.storage = match Storage::from_env("AzureWebJobsStorage") {
            Ok(s) => Some(s),
            Err(storage::StorageError::Settings(storage::SettingsError::NoConnection {
                ..
            })) => None,
            Err(e) => return Err(StateError(e.to_string())),
        };
        state.faults = std::env::var(FAULTS_VAR).is_ok_and(|v| v == "1");
        let retention = crate::functions::housekeeping::RETENTION_SETTING;
        if let Ok(text) = std::env::var(retention) {
            let span: TimeSpan = text
                .parse()
                .map_err(|e| StateError(format!("{retention}: {e}")))?;
            state.housekeeping_retention = span.as_duration();
        }
        Ok(state)
    }
}
