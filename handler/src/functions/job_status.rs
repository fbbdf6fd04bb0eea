//! `job-status`: `GET /api/jobs/{id}` answers a job's result document, or 404 while there
//! is none. The id must be a UUID, so nothing but `results/<uuid>.json` is ever read.
//!
//! The result is read here, after the id is checked, not through a blob input binding: the
//! host builds a binding's blob path from the raw route value before any of our code runs,
//! so a 60,000-character id failed the invocation (a 500) and an id such as `..%2Fx` reached
//! storage as a path (bad-input corpus, `bad-input/job_ids.json`).

use std::sync::Arc;

use functions_custom_handler::bindings::{AuthLevel, HttpOutput, HttpTrigger};
use functions_custom_handler::{
    Function, HttpResponse, Invocation, InvocationError, Outputs, service_fn,
};
use house_price::api::ApiError;
use house_price::jobs;

use crate::{State, respond};

/// The largest body a status request may carry: it has no use for one.
const JOB_STATUS_BODY_LIMIT: usize = 1024;

const REQ: HttpTrigger = HttpTrigger::get("req", "jobs/{id}").auth(AuthLevel::Function);
const RES: HttpOutput = HttpOutput::new("res");

/// The function's declaration.
pub fn function(state: Arc<State>) -> Function {
    Function::new("job-status")
        .trigger(REQ)
        .output(RES)
        // A GET reads no body: one sent anyway is refused from its head, unread.
        .body_limit(JOB_STATUS_BODY_LIMIT)
        .handler(service_fn(move |inv| handle(Arc::clone(&state), inv)))
}

async fn handle(state: Arc<State>, mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let req = inv.trigger(&REQ)?;
    let id = req.params.get("id").map(String::as_str).unwrap_or("");
    let id = match jobs::parse_job_id(id) {
        Ok(id) => id,
        Err(e) => return Ok(respond::error(&RES, &e)),
    };
    let Some(storage) = &state.storage else {
        let e = ApiError::Unavailable(
            "job results need storage: set AzureWebJobsStorage (a connection string) or AzureWebJobsStorage__accountName".into(),
        );
        return Ok(respond::error(&RES, &e));
    };
    Ok(match storage.get_blob_path(&jobs::result_path(&id)).await {
        Ok(Some(document)) => Outputs::new().set(
            &RES,
            HttpResponse::new(200)
                .bytes("application/json", document)
                .header("Cache-Control", "no-store"),
        ),
        Ok(None) => Outputs::new().set(
            &RES,
            respond::json(404, &serde_json::json!({"status": "pending-or-unknown"}))
                .header("Cache-Control", "no-store"),
        ),
        Err(e) => respond::storage_failure(&RES, "the job's status could not be read", &e),
    })
}
