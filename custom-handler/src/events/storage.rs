//! Azure Storage blobs that start a function.

use super::{content, meta_object, meta_text};
use crate::protocol::DecodeError;
use bytes::Bytes;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A blob that started a function (`blobTrigger`): its content and metadata.
///
/// The storage extension's binding data (`BlobTriggerBinding.CreateBindingData`, azure-sdk-for-net
/// `Microsoft.Azure.WebJobs.Extensions.Storage.Blobs`): `Uri`, `Properties`, `Metadata`, and one
/// entry per `{name}` in the trigger's path (the host leaves `BlobTrigger` out of Metadata,
/// as every key ending in `Trigger`). The content arrives as base64 whatever `dataType` says:
/// the trigger binds to bytes first (`TriggerAdapterBindingProvider.GetDefaultType`,
/// azure-webjobs-sdk). Fixture: `conformance/requests/blob_trigger.json`.
///
/// ```
/// use functions_custom_handler::events::Blob;
/// let blob = Blob::new(&b"CHAS,RM\n0,6.5\n"[..]);
/// assert_eq!(blob.content.len(), 14);
/// assert!(blob.captures.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Blob {
    /// The blob's bytes.
    pub content: Bytes,
    /// The blob's URL.
    pub uri: Option<String>,
    /// The blob's service properties (`ContentType`, `ETag`, `LastModified`, ...), as sent.
    pub properties: Map<String, Value>,
    /// The blob's user metadata.
    pub metadata: Map<String, Value>,
    /// The values the trigger's path pattern captured, such as `name` for `uploads/{name}`.
    pub captures: BTreeMap<String, String>,
}

impl Blob {
    /// A blob holding `content`, with no metadata, for tests.
    pub fn new(content: impl Into<Bytes>) -> Self {
        Self {
            content: content.into(),
            ..Self::default()
        }
    }

    pub(crate) fn decode(
        name: &str,
        value: &Value,
        pattern: &str,
        metadata: &Map<String, Value>,
    ) -> Result<Self, DecodeError> {
        let captures = pattern
            .split('{')
            .skip(1)
            .filter_map(|part| part.split_once('}'))
            .filter_map(|(key, _)| meta_text(metadata, key).map(|v| (key.to_owned(), v)))
            .collect();
        Ok(Self {
            content: content(name, value, true)?,
            uri: meta_text(metadata, "Uri"),
            properties: meta_object(metadata, "Properties"),
            metadata: meta_object(metadata, "Metadata"),
            captures,
        })
    }
}
