//! API errors to `http` outputs, in one place. The host must always get a 2xx, so the
//! caller's status travels inside the output (see the custom-handler runtime docs).

use custom_handler::{HttpResponse, InvocationResponse};
use house_price::api::ApiError;

/// The `http` output for an API error: the caller's status, the JSON error body.
pub fn error(output: &str, e: &ApiError) -> InvocationResponse {
    InvocationResponse::http(output, json_bytes(e.status(), e.to_json()))
}

/// A JSON response from already-serialized bytes.
pub fn json_bytes(status: u16, body: Vec<u8>) -> HttpResponse {
    // `text` sets a text/plain content type, so the real one is set after it.
    HttpResponse::new(status)
        .text(String::from_utf8(body).unwrap_or_default())
        .header("Content-Type", "application/json")
}

/// A JSON response for any serializable value.
pub fn json<T: serde::Serialize>(status: u16, value: &T) -> HttpResponse {
    json_bytes(status, serde_json::to_vec(value).unwrap_or_default())
}
