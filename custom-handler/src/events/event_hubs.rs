//! Event Hubs events, one per invocation or a batch.

use super::{content, meta_array, meta_number, meta_object, meta_text};
use crate::protocol::{DecodeError, scalar_text, type_name, unquote_once};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Which partition of which hub an invocation's events came from.
///
/// Binding data `PartitionContext` (azure-sdk-for-net `Microsoft.Azure.WebJobs.Extensions.EventHubs`,
/// `EventHubTriggerBindingStrategy.cs`), sent as an object.
///
/// ```
/// use functions_custom_handler::events::PartitionContext;
/// let context: PartitionContext = serde_json::from_value(serde_json::json!(
///     {"EventHubName": "telemetry", "ConsumerGroup": "$Default", "PartitionId": "3"}
/// )).unwrap();
/// assert_eq!(context.partition_id.as_deref(), Some("3"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct PartitionContext {
    /// The namespace's host name, such as `contoso.servicebus.windows.net`.
    #[serde(default)]
    pub fully_qualified_namespace: Option<String>,
    /// The event hub.
    #[serde(default)]
    pub event_hub_name: Option<String>,
    /// The consumer group.
    #[serde(default)]
    pub consumer_group: Option<String>,
    /// The partition.
    #[serde(default)]
    pub partition_id: Option<String>,
}

impl PartitionContext {
    fn decode(metadata: &Map<String, Value>) -> Self {
        serde_json::from_value(Value::Object(meta_object(metadata, "PartitionContext")))
            .unwrap_or_default()
    }
}

/// One Event Hubs event (`eventHubTrigger`, `cardinality: one`, the host's default).
///
/// Fixture: `conformance/requests/event_hub_event.json`; a handler gets one from
/// [`crate::Invocation::trigger`] with an [`crate::bindings::EventHubTrigger`].
///
/// ```
/// use functions_custom_handler::events::EventHubEvent;
/// let event = EventHubEvent::default();
/// assert_eq!(event.text().unwrap(), "");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct EventHubEvent {
    /// The event body: its text's bytes, or its bytes with `dataType: binary`.
    pub body: Bytes,
    /// Where the event came from.
    pub partition_context: PartitionContext,
    /// The event's sequence number in its partition.
    pub sequence_number: Option<i64>,
    /// The event's offset in its partition, as sent.
    pub offset: Option<String>,
    /// When the event was enqueued, as the host formats it.
    pub enqueued_time: Option<String>,
    /// The partition key the sender chose.
    pub partition_key: Option<String>,
    /// The sender's application properties.
    pub properties: Map<String, Value>,
    /// The broker's system properties.
    pub system_properties: Map<String, Value>,
}

impl EventHubEvent {
    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, DecodeError> {
        super::text(&self.body, "the event body")
    }

    pub(crate) fn decode(
        name: &str,
        value: &Value,
        binary: bool,
        metadata: &Map<String, Value>,
    ) -> Result<Self, DecodeError> {
        Ok(Self {
            body: content(name, value, binary)?,
            partition_context: PartitionContext::decode(metadata),
            sequence_number: meta_number(metadata, "SequenceNumber"),
            offset: meta_text(metadata, "Offset"),
            enqueued_time: meta_text(metadata, "EnqueuedTimeUtc"),
            partition_key: meta_text(metadata, "PartitionKey"),
            properties: meta_object(metadata, "Properties"),
            system_properties: meta_object(metadata, "SystemProperties"),
        })
    }
}

/// A batch of Event Hubs events from one partition (`eventHubTrigger`, `cardinality: many`).
///
/// The host sends the batch as one string holding a JSON array, and each per-event field of
/// the metadata as such an array under the field's name plus `Array`
/// (`SequenceNumberArray`, ...). Fixture: `conformance/requests/event_hub_batch.json`; a
/// handler gets one with an [`crate::bindings::EventHubBatchTrigger`].
///
/// ```
/// use functions_custom_handler::events::EventHubBatch;
/// let batch = EventHubBatch::default();
/// let total: usize = batch.events.iter().map(|e| e.body.len()).sum();
/// assert_eq!(total, 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct EventHubBatch {
    /// The events, in partition order.
    pub events: Vec<EventHubEvent>,
    /// Where they came from.
    pub partition_context: PartitionContext,
}

impl EventHubBatch {
    pub(crate) fn decode(
        name: &str,
        value: &Value,
        data_type: Option<crate::function_json::DataType>,
        metadata: &Map<String, Value>,
    ) -> Result<Self, DecodeError> {
        use crate::function_json::DataType;
        let items = match value {
            Value::Array(items) => items.clone(),
            Value::String(s) => match serde_json::from_str::<Value>(s)
                .or_else(|_| serde_json::from_str::<Value>(&unquote_once(s)))
            {
                Ok(Value::Array(items)) => items,
                _ => {
                    return Err(DecodeError::new(format!(
                        "the Event Hubs trigger `{name}` is declared `cardinality: many`, so the host sends a JSON array, but it is a string holding something else"
                    )));
                }
            },
            other => {
                return Err(DecodeError::new(format!(
                    "the Event Hubs trigger `{name}` is declared `cardinality: many`, so the host sends a JSON array, but it is {}",
                    type_name(other)
                )));
            }
        };
        let context = PartitionContext::decode(metadata);
        let column = |key: &str| meta_array(metadata, key);
        let (sequence, offsets, times, keys, properties, system) = (
            column("SequenceNumberArray"),
            column("OffsetArray"),
            column("EnqueuedTimeUtcArray"),
            column("PartitionKeyArray"),
            column("PropertiesArray"),
            column("SystemPropertiesArray"),
        );
        let object_at = |items: &[Value], i: usize| match items.get(i) {
            Some(Value::Object(map)) => map.clone(),
            _ => Map::new(),
        };
        let mut events = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let body = match (data_type, item) {
                (Some(DataType::Binary), Value::String(s)) => {
                    STANDARD.decode(s.trim()).map(Bytes::from).map_err(|e| {
                        DecodeError::new(format!(
                            "event {i} of the Event Hubs trigger `{name}` is declared binary but is not valid base64 ({e})"
                        ))
                    })?
                }
                (_, Value::String(s)) => Bytes::from(s.clone()),
                (Some(DataType::Binary), other) => {
                    return Err(DecodeError::new(format!(
                        "event {i} of the Event Hubs trigger `{name}` is declared binary, so the host sends base64, but it is {}",
                        type_name(other)
                    )));
                }
                // Without a dataType the host parses each body as JSON: its text stands for it.
                (_, other) => Bytes::from(other.to_string()),
            };
            events.push(EventHubEvent {
                body,
                partition_context: context.clone(),
                sequence_number: sequence
                    .get(i)
                    .and_then(scalar_text)
                    .and_then(|t| t.parse().ok()),
                offset: offsets.get(i).and_then(scalar_text),
                enqueued_time: times.get(i).and_then(scalar_text),
                partition_key: keys.get(i).and_then(scalar_text),
                properties: object_at(&properties, i),
                system_properties: object_at(&system, i),
            });
        }
        Ok(Self {
            events,
            partition_context: context,
        })
    }
}
