//! Azure Storage queue messages.

use super::{content, meta_number, meta_text};
use crate::protocol::DecodeError;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A queue message and its metadata (`queueTrigger`).
///
/// Metadata follows the storage extension's binding data (`QueueTriggerBindingStrategy`,
/// azure-sdk-for-net `Microsoft.Azure.WebJobs.Extensions.Storage.Queues`); a field the host
/// did not send, or sent unreadable, is `None`. Fixture: `conformance/requests/queue_message.json`.
///
/// ```
/// use functions_custom_handler::events::QueueMessage;
/// let message = QueueMessage::new(r#"{"orderId": "o-1"}"#);
/// let order: serde_json::Value = message.json().unwrap();
/// assert_eq!(order["orderId"], "o-1");
/// assert_eq!(message.dequeue_count, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueMessage {
    /// The message's content: its text's bytes, or its bytes with `dataType: binary`.
    pub body: Bytes,
    /// The message id.
    pub id: Option<String>,
    /// How many times the message has been dequeued, this time included.
    pub dequeue_count: Option<u32>,
    /// When the message was added, as the host formats it.
    pub insertion_time: Option<String>,
    /// When the message expires.
    pub expiration_time: Option<String>,
    /// When the message becomes visible again if this invocation fails.
    pub next_visible_time: Option<String>,
    /// The receipt needed to delete or update the message.
    pub pop_receipt: Option<String>,
}

impl QueueMessage {
    /// A message holding `body`, with no metadata, for tests.
    pub fn new(body: impl Into<Bytes>) -> Self {
        Self {
            body: body.into(),
            ..Self::default()
        }
    }

    /// The message as UTF-8 text.
    pub fn text(&self) -> Result<&str, DecodeError> {
        super::text(&self.body, "the queue message")
    }

    /// The message parsed as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        super::json(&self.body, "the queue message")
    }

    pub(crate) fn decode(
        name: &str,
        value: &Value,
        binary: bool,
        metadata: &Map<String, Value>,
    ) -> Result<Self, DecodeError> {
        if matches!(value, Value::String(s) if s == "null") {
            return Err(DecodeError::new(format!(
                "the queue message `{name}` is null; the host sends a message's content"
            )));
        }
        Ok(Self {
            body: content(name, value, binary)?,
            id: meta_text(metadata, "Id"),
            dequeue_count: meta_number(metadata, "DequeueCount"),
            insertion_time: meta_text(metadata, "InsertionTime"),
            expiration_time: meta_text(metadata, "ExpirationTime"),
            next_visible_time: meta_text(metadata, "NextVisibleTime"),
            pop_receipt: meta_text(metadata, "PopReceipt"),
        })
    }
}
