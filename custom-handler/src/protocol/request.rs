//! The invocation request body and typed, tolerant accessors for its bindings and metadata.

use super::{DecodeError, HttpRequest, as_object, get_ci, scalar_text, type_name, unquote_once};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The body the host POSTs to `/{FunctionName}`: trigger and input values, and binding metadata.
///
/// `Data` is required; a missing or `null` `Metadata` is read as empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct InvocationRequest {
    /// One entry per trigger or input binding, keyed by the binding's `name`.
    #[serde(rename = "Data")]
    pub data: Map<String, Value>,
    /// Trigger metadata (`DequeueCount`, `Id`, ...) and `sys`.
    #[serde(rename = "Metadata")]
    pub metadata: Map<String, Value>,
}

impl InvocationRequest {
    /// Parses an invocation body, with one-sentence errors for each way it can be malformed.
    pub fn from_slice(body: &[u8]) -> Result<Self, DecodeError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            DecodeError::new(format!("the invocation body is not valid JSON ({e})"))
        })?;
        Self::try_from(value)
    }

    /// The raw value of binding `name`; `null` counts as absent.
    pub fn binding(&self, name: &str) -> Option<&Value> {
        self.data.get(name).filter(|v| !v.is_null())
    }

    fn required(&self, name: &str, what: &str) -> Result<&Value, DecodeError> {
        self.binding(name).ok_or_else(|| {
            DecodeError::new(format!(
                "the invocation has no {what} named `{name}` in Data"
            ))
        })
    }

    /// The HTTP trigger named `name`.
    pub fn http_trigger(&self, name: &str) -> Result<HttpRequest, DecodeError> {
        HttpRequest::from_binding(name, self.required(name, "HTTP trigger")?)
    }

    /// The text of the queue message bound to `name`.
    ///
    /// A string is unquoted once (the host double-encodes: `"\"hello\""` gives `hello`); a message
    /// the host already parsed as JSON (an object or array) is given back as its JSON text.
    pub fn queue_message(&self, name: &str) -> Result<String, DecodeError> {
        let value = self.required(name, "queue message")?;
        Ok(match value {
            Value::String(s) => unquote_once(s).into_owned(),
            Value::Object(_) | Value::Array(_) => value.to_string(),
            other => scalar_text(other).unwrap_or_default(),
        })
    }

    /// The queue message bound to `name`, parsed as JSON into `T`.
    pub fn queue_json<T: DeserializeOwned>(&self, name: &str) -> Result<T, DecodeError> {
        let text = self.queue_message(name)?;
        serde_json::from_str(&text).map_err(|e| {
            DecodeError::new(format!(
                "the queue message `{name}` is not the expected JSON ({e})"
            ))
        })
    }

    /// Queue trigger metadata; fields the host did not send (or sent unreadable) are `None`.
    pub fn queue_metadata(&self) -> QueueMetadata {
        let text = |key: &str| get_ci(&self.metadata, key).and_then(scalar_text);
        QueueMetadata {
            id: text("Id"),
            dequeue_count: text("DequeueCount").and_then(|s| s.trim().parse().ok()),
            insertion_time: text("InsertionTime"),
            expiration_time: text("ExpirationTime"),
            next_visible_time: text("NextVisibleTime"),
            pop_receipt: text("PopReceipt"),
        }
    }

    /// The bytes of the blob input `name`; `None` when the blob does not exist.
    ///
    /// The host sends bytes as base64 and text as a (possibly double-encoded) string. A string
    /// that is a JSON string literal is text; otherwise valid base64 is decoded and anything else
    /// is taken as text. An object or array (a host that parsed JSON content) is its JSON text.
    pub fn blob_input(&self, name: &str) -> Option<Vec<u8>> {
        match self.binding(name)? {
            Value::String(s) => {
                let trimmed = s.trim();
                if trimmed.starts_with('"') {
                    return Some(unquote_once(s).into_owned().into_bytes());
                }
                match STANDARD.decode(trimmed) {
                    Ok(bytes) if !trimmed.is_empty() => Some(bytes),
                    _ => Some(s.clone().into_bytes()),
                }
            }
            other => Some(other.to_string().into_bytes()),
        }
    }

    /// The timer trigger named `name`.
    pub fn timer(&self, name: &str) -> Result<TimerInfo, DecodeError> {
        let value = self.required(name, "timer trigger")?;
        let Some(map) = as_object(value) else {
            return Err(DecodeError::new(format!(
                "the timer trigger `{name}` is {} where an object was expected",
                type_name(value)
            )));
        };
        serde_json::from_value(Value::Object(map.into_owned())).map_err(|e| {
            DecodeError::new(format!(
                "the timer trigger `{name}` does not have the expected shape ({e})"
            ))
        })
    }

    /// The `sys` metadata the host adds to every invocation.
    pub fn sys(&self) -> Sys {
        let sys = get_ci(&self.metadata, "sys").and_then(as_object);
        let text = |key: &str| {
            sys.as_ref()
                .and_then(|m| get_ci(m, key))
                .and_then(scalar_text)
        };
        Sys {
            method_name: text("MethodName"),
            utc_now: text("UtcNow"),
            rand_guid: text("RandGuid"),
        }
    }
}

impl TryFrom<Value> for InvocationRequest {
    type Error = DecodeError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        let Value::Object(mut body) = value else {
            return Err(DecodeError::new(format!(
                "the invocation body is {} where an object with Data and Metadata was expected",
                type_name(&value)
            )));
        };
        let data = match body.remove("Data") {
            Some(Value::Object(data)) => data,
            Some(other) => {
                return Err(DecodeError::new(format!(
                    "the invocation body's Data is {} where an object was expected",
                    type_name(&other)
                )));
            }
            None => {
                return Err(DecodeError::new("the invocation body has no Data object"));
            }
        };
        let metadata = match body.remove("Metadata") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(metadata)) => metadata,
            Some(other) => {
                return Err(DecodeError::new(format!(
                    "the invocation body's Metadata is {} where an object was expected",
                    type_name(&other)
                )));
            }
        };
        Ok(Self { data, metadata })
    }
}

/// Metadata of a queue-triggered invocation.
///
/// Serializes in the documented shape (PascalCase, plain values) for hosts that build invocations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueMetadata {
    /// The message id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// How many times the message has been dequeued, this time included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dequeue_count: Option<u32>,
    /// When the message was added, as the host formats it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insertion_time: Option<String>,
    /// When the message expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<String>,
    /// When the message becomes visible again if this invocation fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_visible_time: Option<String>,
    /// The receipt needed to delete or update the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pop_receipt: Option<String>,
}

/// The `sys` metadata: which trigger ran, when, and a GUID for binding expressions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Sys {
    /// The function's method name as the host knows it.
    pub method_name: Option<String>,
    /// The invocation time, as the host formats it.
    pub utc_now: Option<String>,
    /// A GUID the host generated for this invocation.
    pub rand_guid: Option<String>,
}

/// A timer trigger value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimerInfo {
    /// The schedule's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<TimerSchedule>,
    /// When the timer last fired and will next fire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_status: Option<ScheduleStatus>,
    /// Whether this invocation is later than scheduled (for example after downtime).
    #[serde(default)]
    pub is_past_due: bool,
}

/// The `Schedule` part of a timer trigger value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerSchedule {
    /// Whether the schedule follows daylight saving time changes.
    #[serde(rename = "AdjustForDST", default)]
    pub adjust_for_dst: bool,
}

/// The `ScheduleStatus` part of a timer trigger value; times as the host formats them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleStatus {
    /// The previous occurrence.
    #[serde(default)]
    pub last: Option<String>,
    /// The next occurrence.
    #[serde(default)]
    pub next: Option<String>,
    /// When the status was last written.
    #[serde(default)]
    pub last_updated: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(body: Value) -> InvocationRequest {
        InvocationRequest::try_from(body).unwrap()
    }

    #[test]
    fn missing_data_is_an_error_and_missing_metadata_is_empty() {
        let err = InvocationRequest::from_slice(br#"{"Metadata": {}}"#).unwrap_err();
        assert_eq!(err.message(), "the invocation body has no Data object");
        let req = InvocationRequest::from_slice(br#"{"Data": {}}"#).unwrap();
        assert!(req.metadata.is_empty());
        let req = InvocationRequest::from_slice(br#"{"Data": {}, "Metadata": null}"#).unwrap();
        assert!(req.metadata.is_empty());
    }

    #[test]
    fn wrong_envelope_types_are_named() {
        for (body, expected) in [
            (&b"[]"[..], "the invocation body is an array"),
            (br#"{"Data": 1}"#, "the invocation body's Data is a number"),
            (
                br#"{"Data": {}, "Metadata": "x"}"#,
                "the invocation body's Metadata is a string",
            ),
            (b"not json", "the invocation body is not valid JSON"),
        ] {
            let err = InvocationRequest::from_slice(body).unwrap_err();
            assert!(err.message().starts_with(expected), "{err}");
        }
    }

    #[test]
    fn queue_messages_are_unquoted_once_and_json_objects_become_text() {
        let req = request(json!({"Data": {
            "double": "\"hello\"",
            "plain": "hello",
            "json_text": "{\"jobId\":\"a\"}",
            "json_object": {"jobId": "a"},
            "number": 7
        }}));
        assert_eq!(req.queue_message("double").unwrap(), "hello");
        assert_eq!(req.queue_message("plain").unwrap(), "hello");
        assert_eq!(req.queue_message("json_text").unwrap(), "{\"jobId\":\"a\"}");
        assert_eq!(
            req.queue_message("json_object").unwrap(),
            "{\"jobId\":\"a\"}"
        );
        assert_eq!(req.queue_message("number").unwrap(), "7");
        let err = req.queue_message("absent").unwrap_err();
        assert_eq!(
            err.message(),
            "the invocation has no queue message named `absent` in Data"
        );
    }

    #[test]
    fn queue_json_parses_both_encodings_and_names_the_binding_on_error() {
        #[derive(Deserialize)]
        struct Job {
            #[serde(rename = "jobId")]
            job_id: String,
        }
        let req = request(json!({"Data": {
            "a": "\"{\\\"jobId\\\":\\\"x\\\"}\"",
            "b": {"jobId": "y"},
            "bad": "\"not json\""
        }}));
        assert_eq!(req.queue_json::<Job>("a").unwrap().job_id, "x");
        assert_eq!(req.queue_json::<Job>("b").unwrap().job_id, "y");
        let err = req.queue_json::<Job>("bad").err().unwrap();
        assert!(
            err.message()
                .starts_with("the queue message `bad` is not the expected JSON")
        );
    }

    #[test]
    fn blob_input_distinguishes_base64_text_and_absence() {
        let req = request(json!({"Data": {
            "bytes": "aGVsbG8=",
            "quoted": "\"aGVsbG8=\"",
            "json": "{\"a\":1}",
            "object": {"a": 1},
            "null": null
        }}));
        assert_eq!(req.blob_input("bytes").unwrap(), b"hello");
        assert_eq!(req.blob_input("quoted").unwrap(), b"aGVsbG8=");
        assert_eq!(req.blob_input("json").unwrap(), b"{\"a\":1}");
        assert_eq!(req.blob_input("object").unwrap(), b"{\"a\":1}");
        assert_eq!(req.blob_input("null"), None);
        assert_eq!(req.blob_input("absent"), None);
    }

    #[test]
    fn unreadable_metadata_fields_are_none_not_errors() {
        let req = request(json!({"Data": {}, "Metadata": {"DequeueCount": "many", "Id": [1]}}));
        assert_eq!(req.queue_metadata(), QueueMetadata::default());
        assert_eq!(req.sys(), Sys::default());
    }

    #[test]
    fn a_timer_that_is_not_an_object_is_an_error() {
        let req = request(json!({"Data": {"t": 3}}));
        let err = req.timer("t").unwrap_err();
        assert_eq!(
            err.message(),
            "the timer trigger `t` is a number where an object was expected"
        );
    }
}
