//! `score-job`: scores a queued job and writes its result document.
//!
//! Failure rules: a job whose message names it but is invalid gets a `failed` result (no
//! retry would help); a message with no usable `jobId` has nowhere to put a result, so the
//! invocation fails and the host retries it, then moves it to `predict-jobs-poison` intact.

use std::sync::Arc;

use functions_custom_handler::bindings::{BlobInput, BlobOutput, QueueTrigger};
use functions_custom_handler::{Function, Invocation, InvocationError, Outputs, service_fn};
use house_price::jobs::{self, JobMessageError};

use crate::State;

const JOB: QueueTrigger = QueueTrigger::new("job", jobs::QUEUE);
/// Idempotence: a result already written for this job is written again unchanged.
const EXISTING: BlobInput = BlobInput::new("existing", "results/{jobId}.json").text();
/// The claim check: rows too large for the message (absent for inline jobs).
const ROWS: BlobInput = BlobInput::new("rows", "job-inputs/{jobId}.json").text();
const RESULT: BlobOutput = BlobOutput::new("result", "results/{jobId}.json");

/// The function's declaration.
pub fn function(state: Arc<State>) -> Function {
    Function::new("score-job")
        .trigger(JOB)
        .input(EXISTING)
        .input(ROWS)
        .output(RESULT)
        .handler(service_fn(move |inv| handle(state.clone(), inv)))
}

async fn handle(state: Arc<State>, mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let message = inv.trigger(&JOB)?;
    let text = message.text()?;
    if state.faults {
        inject_fault(text, message.dequeue_count.unwrap_or(1))?;
    }
    if let Some(existing) = inv.input(&EXISTING)? {
        inv.log(log::Level::Info, "result already written; keeping it");
        return Ok(Outputs::new().set(&RESULT, existing));
    }
    let rows = inv.input(&ROWS)?;
    let started = std::time::Instant::now();
    match jobs::score(&state.model, text, rows.as_deref()) {
        Ok(result) => {
            inv.log(
                log::Level::Info,
                format!(
                    "job {} {:?}: {} rows, read, scored and written out in {:.1} ms",
                    result.job_id,
                    result.status,
                    result.rows,
                    started.elapsed().as_secs_f64() * 1e3
                ),
            );
            Ok(Outputs::new().set(&RESULT, result.to_json()))
        }
        // Not 2xx: the host retries, then moves the message to the poison queue intact.
        Err(e @ JobMessageError::NoJobId(_)) => Err(InvocationError::transient(e.to_string())),
        Err(e) => Err(InvocationError::permanent(e.to_string())),
    }
}

/// Test-only: with the fault switch on, a message's `testFault` field makes scoring fail
/// transiently: `"always"`, or `"first-N"` for the first N deliveries.
fn inject_fault(text: &str, dequeue_count: u32) -> Result<(), InvocationError> {
    let fault = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| {
            v.get("testFault")
                .and_then(|f| f.as_str())
                .map(str::to_owned)
        });
    let fail = match fault.as_deref() {
        Some("always") => true,
        Some(f) => f
            .strip_prefix("first-")
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| dequeue_count <= n),
        None => false,
    };
    if fail {
        Err(InvocationError::transient(format!(
            "injected test fault {fault:?} on delivery {dequeue_count}"
        )))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fault_switch_fails_only_the_deliveries_it_names() {
        assert!(inject_fault(r#"{"testFault":"always"}"#, 9).is_err());
        assert!(inject_fault(r#"{"testFault":"first-2"}"#, 2).is_err());
        assert!(inject_fault(r#"{"testFault":"first-2"}"#, 3).is_ok());
        assert!(inject_fault(r#"{"jobId":"x"}"#, 1).is_ok());
        assert!(inject_fault("not json", 1).is_ok());
    }
}
