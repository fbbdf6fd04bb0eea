//! Typed trigger events, decoded from what the host sends: the models are `lambda_events`'
//! (one type per event source, decoded from fixture files of real payloads).
//!
//! Each type is decoded from `Data.<name>` and the trigger's `Metadata` as the host builds them
//! (`GetHttpScriptInvocationContextValue`, azure-functions-host
//! `src/WebJobs.Script/Workers/MessageExtensions/ScriptInvocationContextExtensions.cs`): text
//! serialised once more, bytes as base64, objects as objects, arrays as one string holding a
//! JSON array. The conformance corpus (`conformance/requests/` at the repository root) holds
//! one fixture per shape, each naming the source file it follows, and the tests decode every
//! fixture into these types. Types Azure may add fields to are `#[non_exhaustive]`.

mod event_grid;
mod event_hubs;
mod queue;
mod service_bus;
mod storage;

pub use crate::protocol::{HttpRequest, HttpResponse, ScheduleStatus, TimerInfo, TimerSchedule};
pub use event_grid::{BlobCreated, CloudEvent, EventGridEvent};
pub use event_hubs::{EventHubBatch, EventHubEvent, PartitionContext};
pub use queue::QueueMessage;
pub use service_bus::ServiceBusMessage;
pub use storage::Blob;

use crate::protocol::{DecodeError, as_object, get_ci, scalar_text, type_name, unquote_once};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Map, Value};

/// The content of a text or bytes trigger value, by its declared `dataType`: `binary` is
/// base64; text is a JSON string literal (serialised once more) or, for a value the host
/// bound as JSON, an object or array standing for its text.
pub(crate) fn content(name: &str, value: &Value, binary: bool) -> Result<Bytes, DecodeError> {
    if binary {
        return match value {
            Value::String(s) => STANDARD.decode(s.trim()).map(Bytes::from).map_err(|e| {
                DecodeError::new(format!(
                    "the trigger `{name}` is declared binary, so the host sends base64, but it is not valid base64 ({e})"
                ))
            }),
            other => Err(DecodeError::new(format!(
                "the trigger `{name}` is declared binary, so the host sends a base64 string, but it is {}",
                type_name(other)
            ))),
        };
    }
    match value {
        Value::String(s) => serde_json::from_str::<String>(s)
            .map(Bytes::from)
            .map_err(|_| {
                DecodeError::new(format!(
                    "the trigger `{name}` is declared as text, which the host sends as a JSON string literal, but it arrived as a bare string"
                ))
            }),
        Value::Object(_) | Value::Array(_) => Ok(Bytes::from(value.to_string())),
        other => Err(DecodeError::new(format!(
            "the trigger `{name}` is declared as text, so the host sends a string, but it is {}",
            type_name(other)
        ))),
    }
}

/// `body` as UTF-8 text; `what` names it in the error ("the queue message").
pub(crate) fn text<'a>(body: &'a [u8], what: &str) -> Result<&'a str, DecodeError> {
    std::str::from_utf8(body)
        .map_err(|e| DecodeError::content(format!("{what} is not UTF-8 text ({e})")))
}

/// `body` parsed as JSON into `T`; `what` names it in the error.
pub(crate) fn json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
) -> Result<T, DecodeError> {
    serde_json::from_slice(body)
        .map_err(|e| DecodeError::content(format!("{what} is not the expected JSON ({e})")))
}

/// An event's `data` parsed into `T`.
pub(crate) fn data_as<T: serde::de::DeserializeOwned>(
    data: &Value,
    event_type: &str,
    id: &str,
) -> Result<T, DecodeError> {
    T::deserialize(data).map_err(|e| {
        DecodeError::content(format!(
            "the data of the {event_type} event `{id}` is not the expected shape ({e})"
        ))
    })
}

/// The trigger `name`'s value as one event of `schema`: an object, or a string holding one.
pub(crate) fn event<T: serde::de::DeserializeOwned>(
    name: &str,
    value: &Value,
    schema: &str,
) -> Result<T, DecodeError> {
    let map = object(name, "an event object", value)?;
    serde_json::from_value(Value::Object(map)).map_err(|e| {
        DecodeError::new(format!(
            "the Event Grid trigger `{name}` is not {schema} ({e})"
        ))
    })
}

/// A Metadata value as text (strings unquoted once, numbers printed).
pub(crate) fn meta_text(metadata: &Map<String, Value>, key: &str) -> Option<String> {
    get_ci(metadata, key).and_then(scalar_text)
}

/// A Metadata value as a number, from a number or the text of one.
pub(crate) fn meta_number<T: std::str::FromStr>(
    metadata: &Map<String, Value>,
    key: &str,
) -> Option<T> {
    meta_text(metadata, key).and_then(|t| t.trim().parse().ok())
}

/// A Metadata value as an object (an object, or a string holding one).
pub(crate) fn meta_object(metadata: &Map<String, Value>, key: &str) -> Map<String, Value> {
    get_ci(metadata, key)
        .and_then(as_object)
        .map(|m| m.into_owned())
        .unwrap_or_default()
}

/// A Metadata array: the host sends an array as one string holding it (`"[1,2]"`), and its
/// string items may themselves be serialised once more.
pub(crate) fn meta_array(metadata: &Map<String, Value>, key: &str) -> Vec<Value> {
    match get_ci(metadata, key) {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(&unquote_once(s)) {
            Ok(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// An object value, or a string holding one (the double-encoded form), as an owned map.
pub(crate) fn object(
    name: &str,
    what: &str,
    value: &Value,
) -> Result<Map<String, Value>, DecodeError> {
    as_object(value).map(|m| m.into_owned()).ok_or_else(|| {
        DecodeError::new(format!(
            "the trigger `{name}` is {} where {what} was expected",
            type_name(value)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_queue_message_is_its_unquoted_text_and_parses_as_json() {
        #[derive(Debug, serde::Deserialize)]
        struct Job {
            #[serde(rename = "jobId")]
            job_id: String,
        }
        let none = Map::new();
        let decode = |value: Value| QueueMessage::decode("job", &value, false, &none);
        let message = decode(json!("\"{\\\"jobId\\\":\\\"x\\\"}\"")).unwrap();
        assert_eq!(message.json::<Job>().unwrap().job_id, "x");
        let err = decode(json!("\"not json\""))
            .unwrap()
            .json::<Job>()
            .unwrap_err();
        assert!(
            err.message()
                .starts_with("the queue message is not the expected JSON")
        );
        assert!(err.is_content());
        assert!(decode(json!("null")).is_err());
        let err = decode(json!(7)).unwrap_err();
        assert!(err.message().ends_with("but it is a number"), "{err}");
    }

    #[test]
    fn unreadable_queue_metadata_fields_are_none_not_errors() {
        let metadata = json!({"DequeueCount": "many", "Id": [1]});
        let message =
            QueueMessage::decode("job", &json!("\"x\""), false, metadata.as_object().unwrap())
                .unwrap();
        assert_eq!((message.id, message.dequeue_count), (None, None));
    }

    /// The host binds the event as a `JObject` (azure-sdk-for-net `Microsoft.Azure.WebJobs.Extensions.EventGrid`
    /// `TriggerBinding/EventGridTriggerAttributeBindingProvider.cs`, `BindToTrigger<JToken>`) and
    /// sends it with `JObject.FromObject` (azure-functions-host `ScriptInvocationContextExtensions.cs`);
    /// a string holding one is read too, in case the value were serialised once more.
    #[test]
    fn an_event_grid_event_is_an_object_or_a_string_holding_one() {
        let event = json!({"id": "1", "subject": "s", "eventTime": "t",
            "eventType": "Microsoft.Storage.BlobCreated", "data": {"url": "u"}});
        let object = EventGridEvent::decode("e", &event).unwrap();
        let text = EventGridEvent::decode("s", &json!(event.to_string())).unwrap();
        assert_eq!(object, text);
        assert_eq!(
            serde_json::to_value(&object).unwrap()["data"],
            event["data"]
        );
        let err = EventGridEvent::decode("n", &json!(3)).unwrap_err();
        assert!(
            err.message().contains("a number where an event object"),
            "{}",
            err.message()
        );
    }
}
