//! `submit-job`: `POST /api/jobs` validates a batch and queues it for `score-job`.

use std::sync::Arc;

use functions_custom_handler::bindings::{AuthLevel, HttpOutput, HttpTrigger, QueueOutput};
use functions_custom_handler::{Function, Invocation, InvocationError, Outputs, service_fn};
use house_price::api::{self, ApiError};
use house_price::jobs::{self, JobAccepted, JobPlan};

use crate::{State, respond};

const REQ: HttpTrigger = HttpTrigger::post("req", "jobs").auth(AuthLevel::Function);
const MSG: QueueOutput = QueueOutput::new("msg", jobs::QUEUE);
const RES: HttpOutput = HttpOutput::new("res");

/// The function's declaration.
pub fn function(state: Arc<State>) -> Function {
    Function::new("submit-job")
        .trigger(REQ)
        .output(MSG)
        .output(RES)
        .handler(service_fn(move |inv| handle(state.clone(), inv)))
}

async fn handle(state: Arc<State>, mut inv: Invocation) -> Result<Outputs, InvocationError> {
    // Taken, not copied: the body is the batch.
    let req = inv.trigger(&REQ)?;
    let planned = jobs::idempotency_key(req.header(jobs::IDEMPOTENCY_KEY).map(str::as_bytes))
        .and_then(|key| {
            let body = super::body(&req)?;
            let rows = api::parse_rows(&state.job_limits, req.content_type(), body)?;
            if rows.is_empty() {
                return Err(ApiError::BadRequest("the batch has no rows".into()));
            }
            let id = jobs::job_id(key.as_deref(), req.content_type(), body);
            Ok((rows, id))
        });
    let (rows, job_id) = match planned {
        Ok(planned) => planned,
        // Nothing is enqueued for an invalid batch: no `msg` output at all.
        Err(e) => return Ok(respond::error(&RES, &e)),
    };
    let plan = JobPlan::with_id(&rows, job_id);
    if let JobPlan::Blob {
        path, rows_json, ..
    } = &plan
    {
        let Some(storage) = &state.storage else {
            let e = ApiError::Unavailable(format!(
                "a batch of {} rows is too large for one queue message and no storage is configured to hold it; set AzureWebJobsStorage or send fewer rows",
                rows.len()
            ));
            return Ok(respond::error(&RES, &e));
        };
        // Written before the message is sent, so `score-job` always finds it.
        let put = || storage.put_blob_path(path, rows_json.clone(), "application/json");
        let stored = match put().await {
            // Bicep creates the container in Azure; a fresh Azurite has none yet.
            Err(e) if e.is_not_found() => {
                match storage.ensure_container(jobs::INPUTS_CONTAINER).await {
                    Ok(()) => put().await,
                    Err(e) => Err(e),
                }
            }
            other => other,
        };
        // A 503 with Retry-After, as the web app answers: a failed invocation would be a 500.
        if let Err(e) = stored {
            return Ok(respond::storage_failure(
                &RES,
                "the job could not be queued",
                &e,
            ));
        }
    }
    let message = plan.message();
    inv.log(
        log::Level::Info,
        format!(
            "job {} queued with {} rows",
            message.job_id, message.row_count
        ),
    );
    let accepted = JobAccepted::new(message.job_id, "/api/jobs");
    // As base64 the host enqueues exactly these bytes: the compact JSON `JobPlan` measured.
    Ok(Outputs::new()
        .set(&RES, respond::json(202, &accepted))
        .set(&MSG, plan.message_json()))
}
