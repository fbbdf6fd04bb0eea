//! `score-job`: scores a queued job and writes its result document.
//!
//! Failure rules: a job whose message names it but is invalid gets a `failed` result (no
//! retry would help); a message with no usable `jobId` has nowhere to put a result, so the
//! invocation fails and the host retries it, then moves it to `predict-jobs-poison` intact.

use std::sync::Arc;

use custom_handler::{Function, Invocation, InvocationError, InvocationResponse, service_fn};
use house_price::jobs::{self, JobMessageError};

use crate::State;

/// The function's declaration.
pub fn function(state: Arc<State>) -> Function {
    Function::new("score-job")
        .queue_trigger("job", jobs::QUEUE)
        // Idempotence: a result already written for this job is written again unchanged.
        .blob_input("existing", "results/{jobId}.json")
        // The claim check: rows too large for the message (absent for inline jobs).
        .blob_input("rows", "job-inputs/{jobId}.json")
        .blob_output("result", "results/{jobId}.json")
        .handler(service_fn(move |inv| handle(state.clone(), inv)))
}

async fn handle(state: Arc<State>, inv: Invocation) -> Result<InvocationResponse, InvocationError> {
    let text = inv
        .queue_message("job")
        .map_err(|e| InvocationError::transient(format!("the queue message is unusable: {e}")))?;
    if state.faults {
        inject_fault(
            &text,
            inv.request().queue_metadata().dequeue_count.unwrap_or(1),
        )?;
    }
    let existing = inv
        .blob_input("existing")
        .map_err(|e| InvocationError::permanent(format!("the existing result is unusable: {e}")))?;
    if let Some(existing) = existing {
        inv.log(log::Level::Info, "result already written; keeping it");
        return Ok(InvocationResponse::new().output_bytes("result", existing));
    }
    let rows = inv
        .blob_input("rows")
        .map_err(|e| InvocationError::permanent(format!("the rows blob is unusable: {e}")))?;
    let started = std::time::Instant::now();
    match jobs::score(&state.model, &text, rows.as_deref()) {
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
            Ok(InvocationResponse::new().output_text("result", result.to_json()))
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
