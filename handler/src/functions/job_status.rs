//! `job-status`: `GET /api/jobs/{id}` answers a job's result document, or 404 while there
//! is none. The id must be a UUID, so nothing but `results/<uuid>.json` is ever answered.

use std::sync::Arc;

use custom_handler::{
    AuthLevel, Function, HttpResponse, HttpTrigger, Invocation, InvocationError,
    InvocationResponse, service_fn,
};
use house_price::jobs;

use crate::{State, respond};

/// The function's declaration.
pub fn function(_state: Arc<State>) -> Function {
    Function::new("job-status")
        .http_trigger(
            "req",
            HttpTrigger::get("jobs/{id}").auth(AuthLevel::Function),
        )
        .blob_input("result", "results/{id}.json")
        .http_output("res")
        .handler(service_fn(handle))
}

async fn handle(inv: Invocation) -> Result<InvocationResponse, InvocationError> {
    let request = inv.request();
    let req = request
        .http_trigger("req")
        .map_err(|e| super::missing("req", e))?;
    let id = req.params.get("id").map(String::as_str).unwrap_or("");
    if let Err(e) = jobs::parse_job_id(id) {
        return Ok(respond::error("res", &e));
    }
    // A result not written yet arrives as the string `null` (the storage extension binds a
    // null stream on 404), which `blob_input` reads as absent.
    let document = inv
        .blob_input("result")
        .map_err(|e| InvocationError::permanent(format!("the result blob is unusable: {e}")))?;
    Ok(match document {
        Some(document) => InvocationResponse::http(
            "res",
            HttpResponse::new(200)
                .text(String::from_utf8_lossy(&document).into_owned())
                .header("Content-Type", "application/json"),
        ),
        None => InvocationResponse::http(
            "res",
            respond::json(404, &serde_json::json!({"status": "pending-or-unknown"})),
        ),
    })
}
