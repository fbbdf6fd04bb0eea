//! Event Grid events, in either schema, and the storage `BlobCreated` payload.

use crate::protocol::DecodeError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One event in the Event Grid schema (`eventGridTrigger`).
///
/// The extension binds the event as a `JObject` and the host sends it as an object
/// (azure-sdk-for-net `Microsoft.Azure.WebJobs.Extensions.EventGrid`,
/// `TriggerBinding/EventGridTriggerAttributeBindingProvider.cs`; azure-functions-host
/// `ScriptInvocationContextExtensions.cs`). Fixture: `conformance/requests/event_grid_blob_created.json`.
///
/// ```
/// use functions_custom_handler::events::{BlobCreated, EventGridEvent};
/// let event: EventGridEvent = serde_json::from_value(serde_json::json!({
///     "id": "1", "subject": "/blobServices/default/containers/in/blobs/a.csv",
///     "eventType": "Microsoft.Storage.BlobCreated", "eventTime": "2026-12-01T12:00:00Z",
///     "data": {"api": "PutBlob", "url": "https://acct.blob.core.windows.net/in/a.csv", "contentLength": 12}
/// })).unwrap();
/// let created: BlobCreated = event.data_as().unwrap();
/// assert_eq!(created.content_length, Some(12));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EventGridEvent {
    /// The event's id, unique per source.
    pub id: String,
    /// The resource the event came from.
    #[serde(default)]
    pub topic: Option<String>,
    /// The subject within the topic, such as `/blobServices/default/containers/x/blobs/y`.
    pub subject: String,
    /// What happened, such as `Microsoft.Storage.BlobCreated`.
    pub event_type: String,
    /// When it happened, as sent.
    pub event_time: String,
    /// The event's payload.
    #[serde(default)]
    pub data: Value,
    /// The payload's schema version.
    #[serde(default)]
    pub data_version: Option<String>,
    /// The envelope's schema version.
    #[serde(default)]
    pub metadata_version: Option<String>,
}

impl EventGridEvent {
    /// The payload parsed into `T`, such as [`BlobCreated`].
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        super::data_as(&self.data, &self.event_type, &self.id)
    }

    pub(crate) fn decode(name: &str, value: &Value) -> Result<Self, DecodeError> {
        super::event(name, value, "an Event Grid schema event")
    }
}

/// One event in the CloudEvents 1.0 schema, as an Event Grid subscription with
/// `eventDeliverySchema: CloudEventSchemaV1_0` delivers it (`eventGridTrigger`).
///
/// The extension accepts both schemas on the same webhook and binds each event as the
/// `JObject` it received (`HttpRequestProcessor.cs`). Fixture:
/// `conformance/requests/event_grid_cloud_event.json`.
///
/// ```
/// use functions_custom_handler::events::CloudEvent;
/// let event: CloudEvent = serde_json::from_value(serde_json::json!({
///     "id": "1", "source": "/subscriptions/x", "specversion": "1.0",
///     "type": "Microsoft.Storage.BlobCreated", "data": {"url": "u"}
/// })).unwrap();
/// assert_eq!(event.event_type, "Microsoft.Storage.BlobCreated");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CloudEvent {
    /// The event's id, unique per source.
    pub id: String,
    /// The resource the event came from.
    pub source: String,
    /// The CloudEvents version, `1.0`.
    #[serde(rename = "specversion")]
    pub spec_version: String,
    /// What happened, such as `Microsoft.Storage.BlobCreated`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The subject within the source.
    #[serde(default)]
    pub subject: Option<String>,
    /// When it happened, as sent.
    #[serde(default)]
    pub time: Option<String>,
    /// The payload's media type.
    #[serde(default, rename = "datacontenttype")]
    pub data_content_type: Option<String>,
    /// The event's payload.
    #[serde(default)]
    pub data: Value,
}

impl CloudEvent {
    /// The payload parsed into `T`, such as [`BlobCreated`].
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        super::data_as(&self.data, &self.event_type, &self.id)
    }

    pub(crate) fn decode(name: &str, value: &Value) -> Result<Self, DecodeError> {
        super::event(name, value, "a CloudEvents 1.0 event")
    }
}

/// The payload of a `Microsoft.Storage.BlobCreated` event.
///
/// Fields as Azure Storage sends them (learn.microsoft.com, "Azure Blob Storage as an Event
/// Grid source"); fixture: `conformance/requests/event_grid_blob_created.json`.
///
/// ```
/// use functions_custom_handler::events::BlobCreated;
/// let created: BlobCreated = serde_json::from_value(serde_json::json!(
///     {"api": "PutBlockList", "url": "https://acct.blob.core.windows.net/in/a.csv", "eTag": "0x1"}
/// )).unwrap();
/// assert_eq!(created.e_tag.as_deref(), Some("0x1"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BlobCreated {
    /// The operation that created the blob, such as `PutBlob` or `PutBlockList`.
    pub api: String,
    /// The client's request id.
    #[serde(default)]
    pub client_request_id: Option<String>,
    /// The service's request id.
    #[serde(default)]
    pub request_id: Option<String>,
    /// The blob version's ETag.
    #[serde(default)]
    pub e_tag: Option<String>,
    /// The blob's content type.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The blob's size in bytes.
    #[serde(default)]
    pub content_length: Option<u64>,
    /// `BlockBlob`, `AppendBlob` or `PageBlob`.
    #[serde(default)]
    pub blob_type: Option<String>,
    /// The blob's URL.
    pub url: String,
    /// An opaque value that orders the events of one blob.
    #[serde(default)]
    pub sequencer: Option<String>,
}
