//! [`Storage`]: the queue and blob operations the web app and the local Functions host need,
//! over the official `azure_storage_queue` / `azure_storage_blob` clients.

use crate::error::StorageError;
use crate::sas::{AccountKey, AccountSas, STORAGE_SERVICE_VERSION, SasProtocol, SasToken};
use crate::settings::{IdentityCredential, StorageAuth, StorageSettings};
use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::http::headers::HeaderName;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{
    ClientOptions, Context, ExponentialRetryOptions, Request, RequestContent, RetryOptions, Url,
};
use azure_identity::{
    DeveloperToolsCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId,
};
use azure_storage_blob::models::{
    BlobClientAcquireLeaseResultHeaders, BlobClientDownloadOptions,
    BlobClientGetPropertiesResultHeaders, BlobClientSetMetadataOptions, BlobClientUploadOptions,
    BlobContainerClientListBlobsOptions, BlockBlobClientCommitBlockListOptions, BlockLookupList,
    StorageErrorCode,
};
use azure_storage_blob::{BlobServiceClient, BlobServiceClientOptions};
use azure_storage_queue::models::{
    QueueClientGetPropertiesResultHeaders, QueueClientPeekMessagesOptions,
    QueueClientReceiveMessagesOptions, QueueMessage,
};
use azure_storage_queue::{QueueClient, QueueServiceClient, QueueServiceClientOptions};
use futures::{StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Most messages one receive or peek may return (service limit).
pub const MAX_MESSAGES_PER_CALL: u8 = 32;
/// Longest visibility timeout the service accepts (7 days).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// A blob as a listing describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// The name within its container.
    pub name: String,
    /// When it was last written.
    pub last_modified: OffsetDateTime,
    /// Its version: changes with every write.
    pub etag: String,
    /// Its length in bytes.
    pub size: u64,
    /// Its `Content-Type`, as written.
    pub content_type: Option<String>,
}

/// How much of a blob [`Storage::open_blob`] fetches per request.
const READ_PARTITION: usize = 4 << 20;

/// A blob being read as a stream ([`Storage::open_blob`]).
pub struct BlobReader {
    /// The version read.
    pub etag: String,
    /// Its metadata.
    pub metadata: HashMap<String, String>,
    body: azure_core::http::AsyncResponseBody,
    operation: String,
}

impl std::fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobReader")
            .field("etag", &self.etag)
            .finish_non_exhaustive()
    }
}

impl BlobReader {
    /// The next chunk of the content; `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<azure_core::Bytes>, StorageError> {
        match self.body.next().await {
            None => Ok(None),
            Some(Ok(bytes)) => Ok(Some(bytes)),
            Some(Err(e)) => Err(StorageError::from_azure(self.operation.clone(), e)),
        }
    }
}

/// What [`Storage::blob_properties`] reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobProperties {
    /// The current version.
    pub etag: String,
    /// The length in bytes.
    pub size: u64,
    /// User-defined metadata (`x-ms-meta-*`).
    pub metadata: HashMap<String, String>,
}

/// A block blob written in blocks ([`Storage::block_writer`]).
pub struct BlockWriter {
    client: azure_storage_blob::BlockBlobClient,
    writer_id: String,
    blocks: Vec<Vec<u8>>,
    operation: String,
}

impl std::fmt::Debug for BlockWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockWriter")
            .field("operation", &self.operation)
            .field("blocks", &self.blocks.len())
            .finish_non_exhaustive()
    }
}

impl BlockWriter {
    /// Uploads one block (up to 4,000 MiB; at most 50,000 blocks per blob).
    pub async fn stage(&mut self, bytes: azure_core::Bytes) -> Result<(), StorageError> {
        // Every id of a blob must have the same length, and be this writer's alone: two
        // writers of one blob (a retried delivery) must not commit each other's blocks.
        let id = format!("{}-{:08}", self.writer_id, self.blocks.len()).into_bytes();
        let length = bytes.len() as u64;
        self.client
            .stage_block(&id, length, bytes.into(), None)
            .await
            .map_err(|e| StorageError::from_azure(self.operation.clone(), e))?;
        self.blocks.push(id);
        Ok(())
    }

    /// Makes the staged blocks the blob's content, with `content_type` and `metadata`.
    pub async fn commit(
        self,
        content_type: &str,
        metadata: HashMap<String, String>,
    ) -> Result<(), StorageError> {
        let list = BlockLookupList {
            latest: Some(self.blocks),
            ..Default::default()
        };
        let options = BlockBlobClientCommitBlockListOptions {
            blob_content_type: Some(content_type.to_owned()),
            metadata: Some(metadata),
            ..Default::default()
        };
        let content = list
            .try_into()
            .map_err(|e| StorageError::from_azure(self.operation.clone(), e))?;
        self.client
            .commit_block_list(content, Some(options))
            .await
            .map_err(|e| StorageError::from_azure(self.operation.clone(), e))?;
        Ok(())
    }
}

/// A message taken from a queue; it stays invisible until `next_visible_time` unless deleted
/// with `id` + `pop_receipt`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The message id.
    pub id: String,
    /// Proof of this receive, needed to delete or update the message.
    pub pop_receipt: String,
    /// The text as stored (still encoded; see [`crate::decode_message`]).
    pub text: String,
    /// How many times the message has been received, this time included.
    pub dequeue_count: u32,
    /// When the message was enqueued.
    pub insertion_time: OffsetDateTime,
    /// When the message expires.
    pub expiration_time: OffsetDateTime,
    /// When the message becomes visible again if not deleted.
    pub next_visible_time: OffsetDateTime,
}

/// A message looked at without taking it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeekedMessage {
    /// The message id.
    pub id: String,
    /// The text as stored (still encoded).
    pub text: String,
    /// How many times the message has been received so far.
    pub dequeue_count: u32,
    /// When the message was enqueued.
    pub insertion_time: OffsetDateTime,
    /// When the message expires.
    pub expiration_time: OffsetDateTime,
}

/// A message just enqueued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentMessage {
    /// The message id.
    pub id: String,
    /// When the message was enqueued.
    pub insertion_time: OffsetDateTime,
    /// When the message expires.
    pub expiration_time: OffsetDateTime,
}

/// The result of changing a message's visibility: the old pop receipt is no longer valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdatedMessage {
    /// The new pop receipt, needed for the next delete or update.
    pub pop_receipt: String,
    /// When the message becomes visible again.
    pub next_visible_time: OffsetDateTime,
}

/// A blob location `container/name`, as written in Functions blob binding paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobPath {
    /// The container, the part before the first `/`.
    pub container: String,
    /// The blob name, everything after the first `/` (may hold more `/`).
    pub name: String,
}

impl BlobPath {
    /// Splits `results/abc.json` into container `results` and name `abc.json`.
    pub fn parse(path: &str) -> Result<Self, StorageError> {
        let trimmed = path.trim().trim_start_matches('/');
        match trimmed.split_once('/') {
            Some((container, name)) if !container.is_empty() && !name.is_empty() => {
                check_container_name(container)?;
                check_blob_name(name)?;
                Ok(BlobPath {
                    container: container.to_owned(),
                    name: name.to_owned(),
                })
            }
            _ => Err(StorageError::InvalidArgument(format!(
                "blob path '{path}' has no container: write it as container/name, e.g. results/abc.json"
            ))),
        }
    }
}

/// Queue and blob access for one storage account. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

struct Inner {
    queues: QueueServiceClient,
    blobs: BlobServiceClient,
    settings: StorageSettings,
}

impl Storage {
    /// Reads the connection named `prefix` (e.g. `AzureWebJobsStorage`) from the environment
    /// and builds the clients.
    pub fn from_env(prefix: &str) -> Result<Self, StorageError> {
        Self::new(&StorageSettings::from_env(prefix)?)
    }

    /// Builds the clients. Sends nothing: a wrong key or an absent service shows up on the
    /// first operation.
    pub fn new(settings: &StorageSettings) -> Result<Self, StorageError> {
        let (credential, sas): (Option<Arc<dyn TokenCredential>>, Option<SasPolicy>) =
            match &settings.auth {
                StorageAuth::SharedKey { account, key } => {
                    let all_https = settings.queue_endpoint.scheme() == "https"
                        && settings.blob_endpoint.scheme() == "https";
                    let policy = SasPolicy::Signed {
                        account: account.clone(),
                        key: key.clone(),
                        protocol: if all_https {
                            SasProtocol::Https
                        } else {
                            SasProtocol::HttpsAndHttp
                        },
                    };
                    (None, Some(policy))
                }
                StorageAuth::Sas(token) => (None, Some(SasPolicy::Fixed(token.clone()))),
                StorageAuth::Identity(identity) => (Some(token_credential(identity)?), None),
            };
        let client_options = ClientOptions {
            per_call_policies: sas
                .map(|policy| Arc::new(policy) as Arc<dyn Policy>)
                .into_iter()
                .collect(),
            // Fail within seconds rather than the SDK's minute: callers are request handlers
            // and a host loop that retries on its own schedule.
            retry: RetryOptions::exponential(ExponentialRetryOptions {
                max_retries: 3,
                max_total_elapsed: azure_core::time::Duration::seconds(10),
                max_delay: azure_core::time::Duration::seconds(2),
                ..Default::default()
            }),
            ..Default::default()
        };

        let build =
            |what: &str, e| StorageError::from_azure(format!("create the {what} client"), e);
        let queue_options = QueueServiceClientOptions {
            client_options: client_options.clone(),
            version: STORAGE_SERVICE_VERSION.to_owned(),
        };
        let queues = QueueServiceClient::new(
            settings.queue_endpoint.clone(),
            credential.clone(),
            Some(queue_options),
        )
        .map_err(|e| build("queue", e))?;
        let blob_options = BlobServiceClientOptions {
            client_options,
            version: STORAGE_SERVICE_VERSION.to_owned(),
        };
        let blobs = BlobServiceClient::new(
            settings.blob_endpoint.clone(),
            credential,
            Some(blob_options),
        )
        .map_err(|e| build("blob", e))?;
        Ok(Storage {
            inner: Arc::new(Inner {
                queues,
                blobs,
                settings: settings.clone(),
            }),
        })
    }

    /// The settings this client was built from (endpoints, auth kind) for logs.
    pub fn settings(&self) -> &StorageSettings {
        &self.inner.settings
    }

    fn queue(&self, name: &str) -> Result<QueueClient, StorageError> {
        check_queue_name(name)?;
        self.inner
            .queues
            .queue_client(name)
            .map_err(|e| StorageError::from_azure(format!("address queue '{name}'"), e))
    }

    // ---- queues -------------------------------------------------------------------------

    /// Creates the queue unless it exists.
    pub async fn ensure_queue(&self, queue: &str) -> Result<(), StorageError> {
        match self.queue(queue)?.create(None).await {
            Ok(_) => Ok(()),
            // Exists with other metadata: still the queue we want.
            Err(e) if e.http_status().is_some_and(|s| s == 409) => Ok(()),
            Err(e) => Err(StorageError::from_azure(
                format!("create queue '{queue}'"),
                e,
            )),
        }
    }

    /// Deletes the queue and its messages; a missing queue is not an error.
    pub async fn delete_queue(&self, queue: &str) -> Result<(), StorageError> {
        match self.queue(queue)?.delete(None).await {
            Ok(_) => Ok(()),
            Err(e) if e.http_status().is_some_and(|s| s == 404) => Ok(()),
            Err(e) => Err(StorageError::from_azure(
                format!("delete queue '{queue}'"),
                e,
            )),
        }
    }

    /// Enqueues `text` as is: encode it first with [`crate::encode_message`] when the consumer
    /// is a Functions queue trigger (base64 by default).
    pub async fn send_message(&self, queue: &str, text: &str) -> Result<SentMessage, StorageError> {
        let operation = || format!("send a message to queue '{queue}'");
        let message = QueueMessage {
            message_text: Some(text.to_owned()),
        };
        let content: RequestContent<QueueMessage, _> = message
            .try_into()
            .map_err(|e| StorageError::from_azure(operation(), e))?;
        let sent = self
            .queue(queue)?
            .send_message(content, None)
            .await
            .map_err(|e| StorageError::from_azure(operation(), e))?
            .into_model()
            .and_then(|list| list.into_message())
            .map_err(|e| StorageError::from_azure(operation(), e))?;
        Ok(SentMessage {
            id: required(sent.message_id, "MessageId", &operation)?,
            insertion_time: required(sent.insertion_time, "InsertionTime", &operation)?,
            expiration_time: required(sent.expiration_time, "ExpirationTime", &operation)?,
        })
    }

    /// Takes up to `max` (1–32) messages, hiding them for `visibility` (1 s–7 days, rounded up
    /// to whole seconds). Returns an empty list when none is visible.
    pub async fn receive_messages(
        &self,
        queue: &str,
        max: u8,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, StorageError> {
        check_count(max)?;
        let seconds = visibility_seconds(visibility, 1)?;
        let operation = || format!("receive messages from queue '{queue}'");
        let options = QueueClientReceiveMessagesOptions {
            number_of_messages: Some(i32::from(max)),
            visibility_timeout: Some(seconds),
            ..Default::default()
        };
        let messages = self
            .queue(queue)?
            .receive_messages(Some(options))
            .await
            .map_err(|e| StorageError::from_azure(operation(), e))?
            .into_model()
            .map_err(|e| StorageError::from_azure(operation(), e))?;
        messages
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                Ok(ReceivedMessage {
                    id: required(m.message_id, "MessageId", &operation)?,
                    pop_receipt: required(m.pop_receipt, "PopReceipt", &operation)?,
                    text: m.message_text.unwrap_or_default(),
                    dequeue_count: count(m.dequeue_count, &operation)?,
                    insertion_time: required(m.insertion_time, "InsertionTime", &operation)?,
                    expiration_time: required(m.expiration_time, "ExpirationTime", &operation)?,
                    next_visible_time: required(
                        m.time_next_visible,
                        "TimeNextVisible",
                        &operation,
                    )?,
                })
            })
            .collect()
    }

    /// Looks at up to `max` (1–32) visible messages without taking them.
    pub async fn peek_messages(
        &self,
        queue: &str,
        max: u8,
    ) -> Result<Vec<PeekedMessage>, StorageError> {
        check_count(max)?;
        let operation = || format!("peek at queue '{queue}'");
        let options = QueueClientPeekMessagesOptions {
            number_of_messages: Some(i32::from(max)),
            ..Default::default()
        };
        let messages = self
            .queue(queue)?
            .peek_messages(Some(options))
            .await
            .map_err(|e| StorageError::from_azure(operation(), e))?
            .into_model()
            .map_err(|e| StorageError::from_azure(operation(), e))?;
        messages
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                Ok(PeekedMessage {
                    id: required(m.message_id, "MessageId", &operation)?,
                    text: m.message_text.unwrap_or_default(),
                    dequeue_count: count(m.dequeue_count, &operation)?,
                    insertion_time: required(m.insertion_time, "InsertionTime", &operation)?,
                    expiration_time: required(m.expiration_time, "ExpirationTime", &operation)?,
                })
            })
            .collect()
    }

    /// Deletes a received message. Fails with 400 `PopReceiptMismatch` when the receipt is
    /// stale (the message became visible and was received again) and 404 `MessageNotFound`
    /// when the message is gone.
    pub async fn delete_message(
        &self,
        queue: &str,
        id: &str,
        pop_receipt: &str,
    ) -> Result<(), StorageError> {
        let operation = || format!("delete message {id} from queue '{queue}'");
        check_message_id(id)?;
        self.queue(queue)?
            .delete_message(id, pop_receipt, None)
            .await
            .map_err(|e| StorageError::from_azure(operation(), e))?;
        Ok(())
    }

    /// Hides a received message for `visibility` (0 s–7 days) from now: how the Functions
    /// host delays the retry of a failed message. Returns the new pop receipt.
    pub async fn update_visibility(
        &self,
        queue: &str,
        id: &str,
        pop_receipt: &str,
        visibility: Duration,
    ) -> Result<UpdatedMessage, StorageError> {
        let operation = || format!("update message {id} in queue '{queue}'");
        check_message_id(id)?;
        let seconds = visibility_seconds(visibility, 0)?;
        let response = self
            .queue(queue)?
            .update_message(id, pop_receipt, seconds, None)
            .await
            .map_err(|e| StorageError::from_azure(operation(), e))?;
        let headers = response.headers();
        let pop_receipt = headers
            .get_optional_string(&HeaderName::from_static("x-ms-popreceipt"))
            .ok_or_else(|| missing("x-ms-popreceipt", &operation))?;
        let next_visible_time = headers
            .get_optional_str(&HeaderName::from_static("x-ms-time-next-visible"))
            .ok_or_else(|| missing("x-ms-time-next-visible", &operation))
            .and_then(|t| {
                azure_core::time::parse_rfc7231(t)
                    .map_err(|e| StorageError::from_azure(operation(), e))
            })?;
        Ok(UpdatedMessage {
            pop_receipt,
            next_visible_time,
        })
    }

    /// The service's approximate message count (visible and invisible).
    pub async fn queue_length(&self, queue: &str) -> Result<u64, StorageError> {
        let operation = || format!("read the length of queue '{queue}'");
        let response = self
            .queue(queue)?
            .get_properties(None)
            .await
            .map_err(|e| StorageError::from_azure(operation(), e))?;
        let count = response
            .approximate_messages_count()
            .map_err(|e| StorageError::from_azure(operation(), e))?
            .ok_or_else(|| missing("x-ms-approximate-messages-count", &operation))?;
        u64::try_from(count).map_err(|_| StorageError::Other {
            operation: operation(),
            detail: format!("the service reported a negative count {count}"),
        })
    }

    // ---- blobs --------------------------------------------------------------------------

    /// Creates the container (private) unless it exists.
    pub async fn ensure_container(&self, container: &str) -> Result<(), StorageError> {
        check_container_name(container)?;
        let client = self.inner.blobs.blob_container_client(container);
        match client.create(None).await {
            Ok(_) => Ok(()),
            Err(e) if e.http_status().is_some_and(|s| s == 409) => Ok(()),
            Err(e) => Err(StorageError::from_azure(
                format!("create container '{container}'"),
                e,
            )),
        }
    }

    /// Deletes the container and its blobs; a missing container is not an error.
    pub async fn delete_container(&self, container: &str) -> Result<(), StorageError> {
        check_container_name(container)?;
        let client = self.inner.blobs.blob_container_client(container);
        match client.delete(None).await {
            Ok(_) => Ok(()),
            Err(e) if e.http_status().is_some_and(|s| s == 404) => Ok(()),
            Err(e) => Err(StorageError::from_azure(
                format!("delete container '{container}'"),
                e,
            )),
        }
    }

    /// Writes (or overwrites) a block blob. The container must exist.
    pub async fn put_blob(
        &self,
        container: &str,
        name: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StorageError> {
        check_container_name(container)?;
        check_blob_name(name)?;
        let options = BlobClientUploadOptions {
            blob_content_type: Some(content_type.to_owned()),
            ..Default::default()
        };
        self.inner
            .blobs
            .blob_client(container, name)
            .upload(RequestContent::from(bytes), Some(options))
            .await
            .map_err(|e| StorageError::from_azure(format!("write blob '{container}/{name}'"), e))?;
        Ok(())
    }

    /// Reads a whole blob; `None` when the blob or its container does not exist.
    pub async fn get_blob(
        &self,
        container: &str,
        name: &str,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        check_container_name(container)?;
        check_blob_name(name)?;
        let operation = || format!("read blob '{container}/{name}'");
        let result = self
            .inner
            .blobs
            .blob_client(container, name)
            .download(None)
            .await;
        let download = match result {
            Ok(download) => download,
            Err(e) if is_blob_or_container_not_found(&e) => return Ok(None),
            Err(e) => return Err(StorageError::from_azure(operation(), e)),
        };
        let bytes = download
            .body
            .collect()
            .await
            .map_err(|e| StorageError::from_azure(operation(), e))?;
        Ok(Some(bytes.to_vec()))
    }

    /// Names of the blobs in `container` starting with `prefix` (all when `None`), in the
    /// service's (lexicographic) order.
    pub async fn list_blobs(
        &self,
        container: &str,
        prefix: Option<&str>,
    ) -> Result<Vec<String>, StorageError> {
        let blobs = self.list_blob_infos(container, prefix).await?;
        Ok(blobs.into_iter().map(|b| b.name).collect())
    }

    /// The blobs in `container` starting with `prefix` (all when `None`), with their times and
    /// versions, in the service's (lexicographic) order.
    pub async fn list_blob_infos(
        &self,
        container: &str,
        prefix: Option<&str>,
    ) -> Result<Vec<BlobInfo>, StorageError> {
        check_container_name(container)?;
        let operation = || format!("list blobs in container '{container}'");
        let options = BlobContainerClientListBlobsOptions {
            prefix: prefix.map(str::to_owned),
            ..Default::default()
        };
        let mut pager = self
            .inner
            .blobs
            .blob_container_client(container)
            .list_blobs(Some(options))
            .map_err(|e| StorageError::from_azure(operation(), e))?;
        let mut blobs = Vec::new();
        while let Some(item) = pager
            .try_next()
            .await
            .map_err(|e| StorageError::from_azure(operation(), e))?
        {
            let properties = required(item.properties, "Properties", &operation)?;
            blobs.push(BlobInfo {
                name: required(item.name, "Name", &operation)?,
                last_modified: required(properties.last_modified, "Last-Modified", &operation)?,
                etag: required(properties.etag, "Etag", &operation)?.to_string(),
                size: properties.content_length.unwrap_or(0),
                content_type: properties.content_type,
            });
        }
        Ok(blobs)
    }

    /// Deletes a blob (and its snapshots); `false` when it (or its container) was not there.
    pub async fn delete_blob(&self, container: &str, name: &str) -> Result<bool, StorageError> {
        check_container_name(container)?;
        check_blob_name(name)?;
        match self
            .inner
            .blobs
            .blob_client(container, name)
            .delete(None)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_blob_or_container_not_found(&e) => Ok(false),
            Err(e) => Err(StorageError::from_azure(
                format!("delete blob '{container}/{name}'"),
                e,
            )),
        }
    }

    /// Opens a blob to read as a stream of chunks, without holding it; `None` when the blob
    /// or its container does not exist. Ranges are fetched one at a time, so memory stays a
    /// few MiB whatever the blob's size.
    pub async fn open_blob(
        &self,
        container: &str,
        name: &str,
    ) -> Result<Option<BlobReader>, StorageError> {
        check_container_name(container)?;
        check_blob_name(name)?;
        let operation = format!("read blob '{container}/{name}'");
        let options = BlobClientDownloadOptions {
            parallel: std::num::NonZero::new(1),
            partition_size: std::num::NonZero::new(READ_PARTITION),
            ..Default::default()
        };
        let download = match self
            .inner
            .blobs
            .blob_client(container, name)
            .download(Some(options))
            .await
        {
            Ok(download) => download,
            Err(e) if is_blob_or_container_not_found(&e) => return Ok(None),
            Err(e) => return Err(StorageError::from_azure(operation, e)),
        };
        Ok(Some(BlobReader {
            etag: download
                .properties
                .etag
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            metadata: download.properties.metadata.clone(),
            body: download.body,
            operation,
        }))
    }

    /// The version, size and metadata of a blob; `None` when it (or its container) does not
    /// exist.
    pub async fn blob_properties(
        &self,
        container: &str,
        name: &str,
    ) -> Result<Option<BlobProperties>, StorageError> {
        check_container_name(container)?;
        check_blob_name(name)?;
        let operation = || format!("read the properties of blob '{container}/{name}'");
        let response = match self
            .inner
            .blobs
            .blob_client(container, name)
            .get_properties(None)
            .await
        {
            Ok(response) => response,
            // A HEAD answer has no body to carry an error code: a 404 is "not there".
            Err(e) if e.http_status().is_some_and(|s| s == 404) => return Ok(None),
            Err(e) => return Err(StorageError::from_azure(operation(), e)),
        };
        let header = |e| StorageError::from_azure(operation(), e);
        Ok(Some(BlobProperties {
            etag: response
                .etag()
                .map_err(header)?
                .map(|e| e.to_string())
                .unwrap_or_default(),
            size: response.content_length().map_err(header)?.unwrap_or(0),
            metadata: response.metadata().map_err(header)?,
        }))
    }

    /// A writer that builds block blob `container/name` from blocks: nothing is visible until
    /// [`BlockWriter::commit`], so a write abandoned half way leaves no blob (and an existing
    /// one unchanged).
    pub fn block_writer(&self, container: &str, name: &str) -> Result<BlockWriter, StorageError> {
        check_container_name(container)?;
        check_blob_name(name)?;
        Ok(BlockWriter {
            client: self
                .inner
                .blobs
                .blob_client(container, name)
                .block_blob_client(),
            writer_id: uuid::Uuid::new_v4().simple().to_string(),
            blocks: Vec::new(),
            operation: format!("write blob '{container}/{name}'"),
        })
    }

    /// [`put_blob`](Self::put_blob) at a `container/name` path.
    pub async fn put_blob_path(
        &self,
        path: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let path = BlobPath::parse(path)?;
        self.put_blob(&path.container, &path.name, bytes, content_type)
            .await
    }

    /// [`get_blob`](Self::get_blob) at a `container/name` path.
    pub async fn get_blob_path(&self, path: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let path = BlobPath::parse(path)?;
        self.get_blob(&path.container, &path.name).await
    }

    /// Takes the lease on `container/name` for `duration` (15 to 60 s), creating the blob
    /// (empty) when it does not exist: a lock that many processes can contend for. `None`
    /// when another holder has it. A holder that dies loses it when the duration runs out,
    /// so the holder must [`BlobLease::renew`] it before then.
    pub async fn try_lease(
        &self,
        container: &str,
        name: &str,
        duration: Duration,
    ) -> Result<Option<BlobLease>, StorageError> {
        check_container_name(container)?;
        check_blob_name(name)?;
        let client = self.inner.blobs.blob_client(container, name);
        let operation = || format!("lease blob '{container}/{name}'");
        let create = BlobClientUploadOptions::default().if_not_exists();
        match client
            .upload(RequestContent::from(Vec::new()), Some(create))
            .await
        {
            Ok(_) => {}
            // 409 BlobAlreadyExists, or 412 when it exists under a lease.
            Err(e) if e.http_status().is_some_and(|s| s == 409 || s == 412) => {}
            Err(e) => return Err(StorageError::from_azure(operation(), e)),
        }
        let seconds = i32::try_from(duration.as_secs())
            .unwrap_or(60)
            .clamp(15, 60);
        match client.acquire_lease(seconds, None).await {
            Ok(response) => {
                let id = response
                    .lease_id()
                    .map_err(|e| StorageError::from_azure(operation(), e))?
                    .ok_or_else(|| missing("x-ms-lease-id", &operation))?;
                Ok(Some(BlobLease {
                    client,
                    id,
                    operation: operation(),
                }))
            }
            Err(e) if e.http_status().is_some_and(|s| s == 409) => Ok(None),
            Err(e) => Err(StorageError::from_azure(operation(), e)),
        }
    }
}

/// A lease held on a blob ([`Storage::try_lease`]).
pub struct BlobLease {
    client: azure_storage_blob::BlobClient,
    id: String,
    operation: String,
}

impl std::fmt::Debug for BlobLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobLease")
            .field("operation", &self.operation)
            .finish_non_exhaustive()
    }
}

impl BlobLease {
    /// Keeps the lease for another full duration. Fails when it was lost (it ran out and
    /// another holder took it).
    pub async fn renew(&self) -> Result<(), StorageError> {
        self.client
            .renew_lease(self.id.clone(), None)
            .await
            .map_err(|e| StorageError::from_azure(format!("renew the {}", self.operation), e))?;
        Ok(())
    }

    /// Replaces the leased blob's metadata.
    pub async fn set_metadata(
        &self,
        metadata: &HashMap<String, String>,
    ) -> Result<(), StorageError> {
        let options = BlobClientSetMetadataOptions {
            lease_id: Some(self.id.clone()),
            ..Default::default()
        };
        self.client
            .set_metadata(metadata, Some(options))
            .await
            .map_err(|e| {
                StorageError::from_azure(format!("set metadata under the {}", self.operation), e)
            })?;
        Ok(())
    }

    /// Gives the lease up, so the next contender need not wait for it to run out.
    pub async fn release(self) -> Result<(), StorageError> {
        self.client
            .release_lease(self.id.clone(), None)
            .await
            .map_err(|e| StorageError::from_azure(format!("release the {}", self.operation), e))?;
        Ok(())
    }
}

/// Adds a SAS to every request: a fresh account SAS signed with the key, or a fixed one.
#[derive(Debug)]
enum SasPolicy {
    Signed {
        account: String,
        key: AccountKey,
        protocol: SasProtocol,
    },
    Fixed(SasToken),
}

impl SasPolicy {
    fn query(&self) -> String {
        match self {
            SasPolicy::Signed {
                account,
                key,
                protocol,
            } => {
                let now = OffsetDateTime::now_utc();
                // Signed per call (an HMAC is microseconds) so a long-running process never
                // holds an expired SAS; the start is back-dated for clock skew.
                let sas = AccountSas::blobs_and_queues(
                    Some(now - time::Duration::minutes(15)),
                    now + time::Duration::hours(1),
                    *protocol,
                );
                sas.to_query(account, key)
            }
            SasPolicy::Fixed(token) => token.as_query().to_owned(),
        }
    }
}

#[async_trait]
impl Policy for SasPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let sas = self.query();
        let url: &mut Url = request.url_mut();
        let query = match url.query() {
            Some(existing) if !existing.is_empty() => format!("{existing}&{sas}"),
            _ => sas,
        };
        url.set_query(Some(&query));
        match next.split_first() {
            Some((policy, rest)) => policy.send(ctx, request, rest).await,
            None => Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Other,
                "the SAS policy must not be the last in the pipeline",
            )),
        }
    }
}

fn token_credential(
    identity: &IdentityCredential,
) -> Result<Arc<dyn TokenCredential>, StorageError> {
    let failed = |e| StorageError::from_azure("create the storage token credential", e);
    let managed = |client_id: Option<String>| -> Result<Arc<dyn TokenCredential>, StorageError> {
        let options = ManagedIdentityCredentialOptions {
            user_assigned_id: client_id.map(UserAssignedId::ClientId),
            ..Default::default()
        };
        Ok(ManagedIdentityCredential::new(Some(options)).map_err(failed)?)
    };
    match identity {
        IdentityCredential::ManagedIdentity { client_id } => managed(client_id.clone()),
        // App Service and Functions expose their managed identity through IDENTITY_ENDPOINT.
        IdentityCredential::Default if std::env::var_os("IDENTITY_ENDPOINT").is_some() => {
            managed(None)
        }
        IdentityCredential::Default => Ok(DeveloperToolsCredential::new(None).map_err(failed)?),
    }
}

fn is_blob_or_container_not_found(e: &azure_core::Error) -> bool {
    match e.kind() {
        azure_core::error::ErrorKind::HttpResponse {
            status,
            error_code: Some(code),
            ..
        } if *status == 404 => {
            code == StorageErrorCode::BlobNotFound.as_ref()
                || code == StorageErrorCode::ContainerNotFound.as_ref()
        }
        _ => false,
    }
}

fn missing(what: &str, operation: &dyn Fn() -> String) -> StorageError {
    StorageError::Other {
        operation: operation(),
        detail: format!("the response lacks {what}"),
    }
}

fn required<T>(
    value: Option<T>,
    what: &str,
    operation: &dyn Fn() -> String,
) -> Result<T, StorageError> {
    value.ok_or_else(|| missing(what, operation))
}

fn count(value: Option<i64>, operation: &dyn Fn() -> String) -> Result<u32, StorageError> {
    let value = required(value, "DequeueCount", operation)?;
    u32::try_from(value).map_err(|_| StorageError::Other {
        operation: operation(),
        detail: format!("the response has an impossible DequeueCount {value}"),
    })
}

fn check_count(max: u8) -> Result<(), StorageError> {
    if max == 0 || max > MAX_MESSAGES_PER_CALL {
        return Err(StorageError::InvalidArgument(format!(
            "a receive or peek takes 1 to {MAX_MESSAGES_PER_CALL} messages, not {max}"
        )));
    }
    Ok(())
}

fn visibility_seconds(visibility: Duration, min_seconds: u64) -> Result<i32, StorageError> {
    let seconds = visibility.as_secs() + u64::from(visibility.subsec_nanos() > 0);
    if seconds < min_seconds || visibility > MAX_VISIBILITY {
        return Err(StorageError::InvalidArgument(format!(
            "a visibility timeout must be {min_seconds} s to 7 days, not {visibility:?}"
        )));
    }
    // Bounded by MAX_VISIBILITY above, so it fits.
    i32::try_from(seconds).map_err(|_| {
        StorageError::InvalidArgument(format!("visibility {visibility:?} is too long"))
    })
}

fn check_message_id(id: &str) -> Result<(), StorageError> {
    // The id becomes a path segment unescaped; service ids are GUIDs.
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(StorageError::InvalidArgument(format!(
            "'{id}' is not a queue message id"
        )));
    }
    Ok(())
}

/// Queue and container names: 3–63 of `a-z0-9-`, starting and ending with a letter or digit,
/// no `--`. Checked here so a bad name is a clear error, not a 400 from the service.
fn check_resource_name(kind: &str, name: &str) -> Result<(), StorageError> {
    let valid = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if !valid {
        return Err(StorageError::InvalidArgument(format!(
            "'{name}' is not a valid {kind} name: use 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit"
        )));
    }
    Ok(())
}

fn check_queue_name(name: &str) -> Result<(), StorageError> {
    check_resource_name("queue", name)
}

fn check_container_name(name: &str) -> Result<(), StorageError> {
    check_resource_name("container", name)
}

/// The longest blob name the service takes, in bytes.
pub const MAX_BLOB_NAME: usize = 1024;

fn check_blob_name(name: &str) -> Result<(), StorageError> {
    // "." and ".." would be dropped as URL path segments and address the container instead.
    if name.is_empty() || name.len() > MAX_BLOB_NAME || name == "." || name == ".." {
        return Err(StorageError::InvalidArgument(format!(
            "'{name}' is not a valid blob name: use 1 to 1024 characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_paths_split_at_the_first_slash() {
        assert_eq!(
            BlobPath::parse("results/abc.json").unwrap(),
            BlobPath {
                container: "results".into(),
                name: "abc.json".into()
            }
        );
        assert_eq!(
            BlobPath::parse("/results/2025/01/a.json").unwrap().name,
            "2025/01/a.json"
        );
    }

    #[test]
    fn blob_paths_without_a_container_are_rejected_clearly() {
        for bad in ["abc.json", "/abc.json", "results/", "", "/"] {
            let e = BlobPath::parse(bad).unwrap_err().to_string();
            assert_eq!(
                e,
                format!(
                    "blob path '{bad}' has no container: write it as container/name, e.g. results/abc.json"
                )
            );
        }
        assert!(
            BlobPath::parse("Results/a.json")
                .unwrap_err()
                .to_string()
                .starts_with("'Results' is not a valid container name")
        );
    }

    #[test]
    fn resource_names_follow_the_service_rules() {
        for good in [
            "abc",
            "predict-jobs",
            "jobs-poison",
            "a1b2",
            &"a".repeat(63),
        ] {
            assert!(check_queue_name(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "Jobs",
            "-jobs",
            "jobs-",
            "a--b",
            "a_b",
            &"a".repeat(64),
            "jobs/x",
        ] {
            assert!(check_queue_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_and_visibility_are_range_checked() {
        assert!(check_count(0).is_err());
        assert!(check_count(33).is_err());
        assert!(check_count(32).is_ok());
        assert_eq!(
            visibility_seconds(Duration::from_millis(1500), 1).unwrap(),
            2
        );
        assert_eq!(visibility_seconds(Duration::ZERO, 0).unwrap(), 0);
        assert!(visibility_seconds(Duration::ZERO, 1).is_err());
        assert!(visibility_seconds(MAX_VISIBILITY + Duration::from_secs(1), 0).is_err());
        assert_eq!(visibility_seconds(MAX_VISIBILITY, 1).unwrap(), 604_800);
    }

    #[test]
    fn message_ids_cannot_smuggle_paths() {
        assert!(check_message_id("52d5a1f0-0b7e-4a4e-9a0e-1d2c3b4a5f60").is_ok());
        assert!(check_message_id("../x").is_err());
        assert!(check_message_id("").is_err());
    }

    #[test]
    fn storage_is_cheap_to_share_across_tasks() {
        fn assert_traits<T: Clone + Send + Sync + 'static>() {}
        assert_traits::<Storage>();
    }

    #[test]
    fn queue_urls_append_to_the_account_path_and_to_bare_hosts() {
        let storage = Storage::new(&StorageSettings::development()).unwrap();
        assert_eq!(
            storage.queue("jobs").unwrap().url().as_str(),
            "http://127.0.0.1:10001/devstoreaccount1/jobs"
        );
        let settings =
            StorageSettings::parse_connection_string("C", "AccountName=acct;AccountKey=a2V5")
                .unwrap();
        let storage = Storage::new(&settings).unwrap();
        assert_eq!(
            storage.queue("jobs").unwrap().url().as_str(),
            "https://acct.queue.core.windows.net/jobs"
        );
    }

    #[test]
    fn identity_connections_build_clients_without_contacting_anything() {
        for extra in [
            ("S__credential", "managedidentity"),
            ("S__clientId", "abc"),
            ("S__unused", "x"),
        ] {
            let settings = StorageSettings::from_lookup("S", |name| match name {
                "S__accountName" => Some("acct".to_owned()),
                n if n == extra.0 => Some(extra.1.to_owned()),
                _ => None,
            })
            .unwrap();
            let storage = Storage::new(&settings).unwrap();
            assert_eq!(
                storage.queue("jobs").unwrap().url().as_str(),
                "https://acct.queue.core.windows.net/jobs"
            );
        }
    }

    #[test]
    fn signed_sas_allows_http_only_for_http_endpoints() {
        let key = AccountKey::from_base64("a2V5").unwrap();
        let policy = |protocol| SasPolicy::Signed {
            account: "a".into(),
            key: key.clone(),
            protocol,
        };
        assert!(
            policy(SasProtocol::HttpsAndHttp)
                .query()
                .contains("spr=https%2Chttp&")
        );
        assert!(policy(SasProtocol::Https).query().contains("spr=https&"));
    }
}
