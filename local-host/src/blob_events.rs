//! `BlobCreated` events for containers Azurite cannot raise them for.
//!
//! In Azure an Event Grid subscription on the storage account delivers each new blob version
//! to the function's webhook. Here a watcher does it instead, for the containers named in
//! `LOCALHOST_BLOB_EVENTS` ([`crate::config::BLOB_EVENTS_SETTING`]): it lists the container,
//! and every blob version (name and ETag) it has no receipt for is delivered once, as an
//! Event Grid schema event shaped as Azure Storage sends it, through the same path as a
//! webhook delivery ([`crate::event_grid`]).
//!
//! Receipts are kept in storage where the real host's polling blob trigger keeps its own
//! (azure-sdk-for-net `Microsoft.Azure.WebJobs.Extensions.Storage.Blobs/src/Listeners/BlobReceiptManager.cs`):
//! an empty blob `azure-webjobs-hosts/blobreceipts/<hostId>/Host.Functions.<function>/<etag>/<container>/<blob>`.
//! So a restart neither runs a version again nor skips one written while the host was down,
//! and a blob written anew (a new ETag) is delivered again. A receipt is written once the
//! function succeeded; a failed delivery is tried again on later scans, up to
//! [`MAX_ATTEMPTS`] times per run of the host, as Event Grid retries.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use storage::{BlobInfo, Storage};
use tokio_util::sync::CancellationToken;

use crate::config::FunctionSpec;
use crate::invocation::Invoker;

/// The container of the host's own bookkeeping.
pub const HOSTS_CONTAINER: &str = "azure-webjobs-hosts";
/// How often a watched container is listed.
pub const SCAN_INTERVAL: Duration = Duration::from_secs(1);
/// Deliveries of one blob version tried per run of the host before it is left for the next.
pub const MAX_ATTEMPTS: u32 = 5;

/// Watches one container for one Event Grid function.
#[derive(Debug)]
pub struct BlobWatcher {
    /// The function the events go to.
    pub function: Arc<FunctionSpec>,
    /// The container watched.
    pub container: String,
    /// The account of the container and of the receipts.
    pub storage: Storage,
    /// The host id in receipt names.
    pub host_id: String,
    /// Runs the invocations.
    pub invoker: Arc<Invoker>,
}

impl BlobWatcher {
    /// Scans until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        log::info!(
            "delivering BlobCreated events of container `{}` to function `{}`",
            self.container,
            self.function.name
        );
        let mut done: HashSet<(String, String)> = HashSet::new();
        let mut attempts: HashMap<(String, String), u32> = HashMap::new();
        while !shutdown.is_cancelled() {
            match self.storage.list_blob_infos(&self.container, None).await {
                Ok(blobs) => {
                    for blob in blobs {
                        if shutdown.is_cancelled() {
                            break;
                        }
                        let key = (blob.name.clone(), blob.etag.clone());
                        if done.contains(&key) {
                            continue;
                        }
                        if self.receipt(&blob).len() > storage::MAX_BLOB_NAME {
                            log::error!(
                                "`{}/{}`: the name is too long for its receipt's name; it is not delivered",
                                self.container,
                                blob.name
                            );
                            done.insert(key);
                            continue;
                        }
                        match self.has_receipt(&blob).await {
                            Ok(true) => {
                                done.insert(key);
                                continue;
                            }
                            Ok(false) => {}
                            Err(e) => {
                                log::warn!("{e}");
                                continue;
                            }
                        }
                        let tried = attempts.entry(key.clone()).or_default();
                        *tried += 1;
                        if self.deliver(&blob).await {
                            done.insert(key);
                        } else if *tried >= MAX_ATTEMPTS {
                            log::error!(
                                "`{}/{}` failed {MAX_ATTEMPTS} times; it is tried again when the host restarts or the blob is written anew",
                                self.container,
                                blob.name
                            );
                            done.insert(key);
                        }
                    }
                }
                Err(e) if e.code() == Some("ContainerNotFound") => {}
                Err(e) => log::warn!("{e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(SCAN_INTERVAL) => {}
                _ = shutdown.cancelled() => break,
            }
        }
    }

    fn receipt(&self, blob: &BlobInfo) -> String {
        format!(
            "blobreceipts/{}/Host.Functions.{}/{}/{}/{}",
            self.host_id, self.function.name, blob.etag, self.container, blob.name
        )
    }

    async fn has_receipt(&self, blob: &BlobInfo) -> Result<bool, storage::StorageError> {
        Ok(self
            .storage
            .blob_properties(HOSTS_CONTAINER, &self.receipt(blob))
            .await?
            .is_some())
    }

    /// Runs the function for `blob`'s event; whether it succeeded (and its receipt is kept).
    async fn deliver(&self, blob: &BlobInfo) -> bool {
        let event = blob_created(&self.storage, &self.container, blob);
        match crate::event_grid::deliver(&self.invoker, &self.function, vec![event]).await {
            Ok(()) => {
                let written = async {
                    self.storage.ensure_container(HOSTS_CONTAINER).await?;
                    self.storage
                        .put_blob(
                            HOSTS_CONTAINER,
                            &self.receipt(blob),
                            Vec::new(),
                            "application/octet-stream",
                        )
                        .await
                };
                if let Err(e) = written.await {
                    log::warn!(
                        "`{}/{}` was delivered but its receipt could not be written ({e}); it may be delivered again",
                        self.container,
                        blob.name
                    );
                }
                true
            }
            Err(_) => false, // the invoker has logged why
        }
    }
}

/// The `Microsoft.Storage.BlobCreated` event Azure Storage sends for `blob` (Event Grid
/// schema; the fields of `local-host/events/event-grid-blob-created.json`).
pub fn blob_created(storage: &Storage, container: &str, blob: &BlobInfo) -> Value {
    let settings = storage.settings();
    let account = settings.account_name().unwrap_or("devstoreaccount1");
    let url = format!(
        "{}/{container}/{}",
        settings.blob_endpoint.as_str().trim_end_matches('/'),
        blob.name
    );
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    json!({
        "topic": format!("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/{account}"),
        "subject": format!("/blobServices/default/containers/{container}/blobs/{}", blob.name),
        "eventType": "Microsoft.Storage.BlobCreated",
        "id": uuid::Uuid::new_v4().to_string(),
        "data": {
            "api": "PutBlob",
            "eTag": blob.etag,
            "contentType": "application/octet-stream",
            "contentLength": blob.size,
            "blobType": "BlockBlob",
            "url": url,
            "sequencer": format!("{:048x}", blob.last_modified.unix_timestamp_nanos()),
        },
        "dataVersion": "",
        "metadataVersion": "1",
        "eventTime": now,
    })
}
