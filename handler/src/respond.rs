//! API errors to `http` outputs, in one place. An error the caller must see (a 400, a 503
//! with `Retry-After`) travels inside the output of a completed invocation: a non-2xx answer
//! would fail it, and the host would answer the caller an empty 500.

use functions_custom_handler::bindings::HttpOutput;
use functions_custom_handler::{HttpError, HttpResponse, Outputs};
use house_price::api::ApiError;

/// The `http` output for an API error: the caller's status, the JSON error body, and
/// `Retry-After` for a 503 or 429, as the web app answers.
pub fn error(output: &HttpOutput, e: &ApiError) -> Outputs {
    let mut response = json_bytes(e.status(), e.to_json());
    if let Some(seconds) = e.retry_after() {
        response = response.header("Retry-After", seconds.to_string());
    }
    Outputs::new().set(output, response)
}

/// The app's error body for what the runtime answers itself: the same JSON error contract
/// as every other answer, `{"error": {"code", "message"}}`.
pub fn error_body(e: &HttpError) -> HttpResponse {
    let body = serde_json::json!({"error": {"code": e.code, "message": e.message}});
    json(e.status, &body)
}

/// The `http` output for a storage failure that stopped `what`: a 503 with `Retry-After`,
/// never a failed invocation (the host would answer 500). The cause goes to the log only.
pub fn storage_failure(output: &HttpOutput, what: &str, e: &storage::StorageError) -> Outputs {
    log::warn!("answering 503: {what}: {e}");
    error(output, &ApiError::storage(what, e.is_transient()))
}

/// A JSON response from already-serialized bytes.
pub fn json_bytes(status: u16, body: Vec<u8>) -> HttpResponse {
    HttpResponse::new(status).bytes("application/json", body)
}

/// A JSON response for any serializable value.
pub fn json<T: serde::Serialize>(status: u16, value: &T) -> HttpResponse {
    json_bytes(status, serde_json::to_vec(value).unwrap_or_default())
}
