//! Service Bus messages.

use super::{content, meta_number, meta_object, meta_text};
use crate::protocol::DecodeError;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A Service Bus message and its metadata (`serviceBusTrigger`, one message per invocation).
///
/// Binding data from `ServiceBusTriggerBindingStrategy` (azure-sdk-for-net
/// `Microsoft.Azure.WebJobs.Extensions.ServiceBus`); keys whose value is null are not sent.
/// A handler cannot settle the message itself: the host completes it after a 2xx answer and
/// abandons it after any other, and the broker dead-letters it at `maxDeliveryCount`.
/// Fixture: `conformance/requests/service_bus_message.json`; a handler gets one with a
/// [`crate::bindings::ServiceBusTrigger`].
///
/// ```
/// use functions_custom_handler::events::ServiceBusMessage;
/// let message = ServiceBusMessage::default();
/// assert!(message.json::<serde_json::Value>().is_err()); // an empty body is not JSON
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ServiceBusMessage {
    /// The message body: its text's bytes, or its bytes with `dataType: binary`.
    pub body: Bytes,
    /// The message id.
    pub message_id: Option<String>,
    /// How many times the message has been delivered, this time included.
    pub delivery_count: Option<u32>,
    /// The broker's sequence number.
    pub sequence_number: Option<i64>,
    /// When the message was enqueued, as the host formats it.
    pub enqueued_time: Option<String>,
    /// When the message expires.
    pub expires_at: Option<String>,
    /// The lock token of this delivery.
    pub lock_token: Option<String>,
    /// The sender's content type.
    pub content_type: Option<String>,
    /// The sender's correlation id.
    pub correlation_id: Option<String>,
    /// The session, for session-enabled entities.
    pub session_id: Option<String>,
    /// The sender's subject (formerly `Label`).
    pub subject: Option<String>,
    /// Where replies go.
    pub reply_to: Option<String>,
    /// The sender's application properties.
    pub application_properties: Map<String, Value>,
}

impl ServiceBusMessage {
    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, DecodeError> {
        super::text(&self.body, "the message body")
    }

    /// The body parsed as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            DecodeError::new(format!("the message body is not the expected JSON ({e})"))
        })
    }

    pub(crate) fn decode(
        name: &str,
        value: &Value,
        binary: bool,
        metadata: &Map<String, Value>,
    ) -> Result<Self, DecodeError> {
        let mut application_properties = meta_object(metadata, "ApplicationProperties");
        if application_properties.is_empty() {
            application_properties = meta_object(metadata, "UserProperties");
        }
        Ok(Self {
            body: content(name, value, binary)?,
            message_id: meta_text(metadata, "MessageId"),
            delivery_count: meta_number(metadata, "DeliveryCount"),
            sequence_number: meta_number(metadata, "SequenceNumber"),
            enqueued_time: meta_text(metadata, "EnqueuedTimeUtc"),
            expires_at: meta_text(metadata, "ExpiresAtUtc"),
            lock_token: meta_text(metadata, "LockToken"),
            content_type: meta_text(metadata, "ContentType"),
            correlation_id: meta_text(metadata, "CorrelationId"),
            session_id: meta_text(metadata, "SessionId"),
            subject: meta_text(metadata, "Subject").or_else(|| meta_text(metadata, "Label")),
            reply_to: meta_text(metadata, "ReplyTo"),
            application_properties,
        })
    }
}
