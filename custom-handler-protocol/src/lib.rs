//! The protocol between the Azure Functions host and a custom handler, and the files both
//! read: what [`functions-custom-handler`](https://docs.rs/functions-custom-handler) serves
//! and a local host speaks.
//!
//! - [`function_json`]: the `function.json` model, one typed value per binding;
//! - [`host_json`]: the parts of `host.json` a handler and a host act on;
//! - [`route`]: HTTP trigger route templates, matched as the host matches them;
//! - the invocation: [`InvocationRequest`] in, [`InvocationResponse`] out.
//!
//! ```
//! use functions_custom_handler_protocol::InvocationRequest;
//! let request = InvocationRequest::from_slice(br#"{"Data": {"job": "\"hi\""}, "Metadata": {}}"#).unwrap();
//! assert_eq!(request.input_text("job", None).unwrap().as_deref(), Some("hi"));
//! ```
//!
//! # The JSON invocation protocol
//!
//! The host POSTs `{"Data": {...}, "Metadata": {...}}` to `/{FunctionName}` and reads back
//! `{"Outputs": {...}, "Logs": [...], "ReturnValue": ...}`. The shapes follow the host's source
//! (azure-functions-host v4.1037.0), and `conformance/` at the repo root pins them:
//! - in (`GetHttpScriptInvocationContextValue`, `Workers/MessageExtensions/ScriptInvocationContextExtensions.cs`):
//!   bytes as base64, objects as objects, everything else JSON-serialised once more: text
//!   arrives double-encoded, numbers as strings, and null as the string `null`. So an input is
//!   decoded by its binding's declared `dataType`, never by guessing from its content
//!   ([`InvocationRequest::input_bytes`]);
//! - out (`GetBindingValue`, `Workers/Http/HttpScriptInvocationResultExtensions.cs`): unless
//!   the binding says `binary`, a string that parses as base64 is bound as the decoded bytes,
//!   and a queue string that looks like JSON is re-serialised indented (`Binding/FunctionBinding.cs`).
//!   So exact outputs travel as base64 ([`InvocationResponse::output_bytes`],
//!   [`InvocationResponse::output_text`]).
//!
//! The HTTP trigger value is read tolerantly (keys in any case, `Query` as an object or a
//! string holding one); a value of the wrong JSON type is an error naming the binding.

#![warn(missing_docs)]

mod envelope;
pub mod function_json;
pub mod host;
pub mod host_json;
mod http;
mod request;
mod response;
pub mod route;

pub use http::{HttpRequest, HttpResponse, is_binary_content_type};
pub use request::{InvocationRequest, ScheduleStatus, Sys, TimerInfo, TimerSchedule};
pub use response::InvocationResponse;

use serde_json::{Map, Value};
use std::borrow::Cow;

/// Environment variable the host uses to pass the port (`Workers/Http/HttpWorkerProcess.cs`).
pub const PORT_VAR: &str = "FUNCTIONS_CUSTOMHANDLER_PORT";
/// The port variable older hosts set instead.
pub const LEGACY_PORT_VAR: &str = "FUNCTIONS_HTTPWORKER_PORT";
/// Environment variable naming the app root, where host.json lives.
pub const APP_ROOT_VAR: &str = "FUNCTIONS_APP_ROOT_PATH";

/// A trigger, input binding or output value that does not have the shape the protocol allows,
/// or content (a request body, a message) that is not what its reader expects.
///
/// The message is one sentence that names the binding, suitable for a log line or a 400 body.
///
/// ```
/// use functions_custom_handler_protocol::{DecodeError, HttpRequest};
/// let envelope = DecodeError::new("the invocation body has no Data object");
/// assert!(!envelope.is_content());
/// let body = HttpRequest::new("POST", "u").with_body("not json").json::<serde_json::Value>();
/// assert!(body.unwrap_err().is_content());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    message: String,
    content: bool,
}

impl DecodeError {
    /// An error in what the host sent, carrying `message`, which should be one sentence.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            content: false,
        }
    }

    /// An error in the content the host carried faithfully (a caller's body, a producer's
    /// message): the sender's mistake, not the host's.
    pub fn content(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            content: true,
        }
    }

    /// Whether the content, not the host's shape, is wrong.
    pub fn is_content(&self) -> bool {
        self.content
    }

    /// The sentence describing what was wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Removes one level of JSON string encoding when `text` is itself a JSON string literal.
///
/// The host serializes string values a second time (`hello` arrives as `"hello"` with the quotes),
/// but not every host build does; text that is not a JSON string literal is returned unchanged.
pub fn unquote_once(text: &str) -> Cow<'_, str> {
    let trimmed = text.trim();
    if trimmed.len() >= 2
        && trimmed.starts_with('"')
        && trimmed.ends_with('"')
        && let Ok(inner) = serde_json::from_str::<String>(trimmed)
    {
        return Cow::Owned(inner);
    }
    Cow::Borrowed(text)
}

/// A Metadata scalar as text: strings unquoted once (the host serialises Metadata values once
/// more), numbers and booleans printed; anything else is `None`.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(unquote_once(s).into_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A scalar as the HTTP trigger carries it: the host sends its strings plain
/// (`GetRequestAsJObject`), so they are taken as they are, quotes included (`If-None-Match: "v1"`).
pub fn plain_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Looks `key` up exactly, then ignoring ASCII case (hosts and docs disagree on key case).
pub fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// An object value, or a string holding a JSON object (the double-encoded form).
pub fn as_object(value: &Value) -> Option<Cow<'_, Map<String, Value>>> {
    match value {
        Value::Object(map) => Some(Cow::Borrowed(map)),
        Value::String(s) => match serde_json::from_str::<Value>(&unquote_once(s)) {
            Ok(Value::Object(map)) => Some(Cow::Owned(map)),
            _ => None,
        },
        _ => None,
    }
}

/// The JSON type of `value` in words, for error sentences.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unquote_once_removes_exactly_one_level_of_encoding() {
        assert_eq!(unquote_once("\"hello\""), "hello");
        assert_eq!(unquote_once("\"\\\"hello\\\"\""), "\"hello\"");
        assert_eq!(unquote_once("hello"), "hello");
        assert_eq!(unquote_once("{\"a\":1}"), "{\"a\":1}");
        assert_eq!(unquote_once("\"broken"), "\"broken");
    }

    #[test]
    fn scalar_text_prints_numbers_and_unquotes_strings() {
        assert_eq!(scalar_text(&json!(1)).as_deref(), Some("1"));
        assert_eq!(scalar_text(&json!("\"1\"")).as_deref(), Some("1"));
        assert_eq!(scalar_text(&json!(true)).as_deref(), Some("true"));
        assert_eq!(scalar_text(&json!(null)), None);
        assert_eq!(scalar_text(&json!([1])), None);
    }

    #[test]
    fn get_ci_prefers_the_exact_key_and_falls_back_to_any_case() {
        let map = json!({"Body": 1, "body": 2, "URL": 3});
        let map = map.as_object().unwrap();
        assert_eq!(get_ci(map, "body"), Some(&json!(2)));
        assert_eq!(get_ci(map, "Url"), Some(&json!(3)));
        assert_eq!(get_ci(map, "missing"), None);
    }

    #[test]
    fn as_object_accepts_objects_and_strings_holding_objects() {
        assert!(as_object(&json!({"a": 1})).is_some());
        assert!(as_object(&json!("{}")).is_some());
        assert!(as_object(&json!("\"{}\"")).is_some());
        assert!(as_object(&json!("[]")).is_none());
        assert!(as_object(&json!(3)).is_none());
    }
}
