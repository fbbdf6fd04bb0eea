//! `BlobCreated` events for containers Azurite cannot raise them for.
//!
//! In Azure an Event Grid subscription on the storage account delivers each new blob version
//! to the function's webhook. Here a watcher does it instead, for the containers named in
//! `LOCALHOST_BLOB_EVENTS` ([`crate::config::BLOB_EVENTS_SETTING`]): it lists the container,
//! and every blob version (name and ETag) it has no receipt for is published once, as an
//! Event Grid schema event shaped as Azure Storage sends it, and delivered as Event Grid
//! delivers ([`crate::subscription`]: a 30 s wait for each attempt, retries on Event Grid's
//! schedule, then the dead-letter container).
//!
//! Receipts are kept in storage where the real host's polling blob trigger keeps its own
//! (azure-sdk-for-net `Microsoft.Azure.WebJobs.Extensions.Storage.Blobs/src/Listeners/BlobReceiptManager.cs`):
//! an empty blob `azure-webjobs-hosts/blobreceipts/<hostId>/Host.Functions.<function>/<etag>/<container>/<blob>`,
//! written once the delivery has ended (succeeded or dead-lettered). So a restart neither
//! publishes a version again nor skips one written while the host was down, a delivery
//! still being retried when the host stopped is published again, and a blob written anew
//! (a new ETag) is published again.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use storage::{BlobInfo, Storage};
use tokio_util::sync::CancellationToken;

use crate::subscription::{Delivered, Subscription};

/// The container of the host's own bookkeeping.
pub const HOSTS_CONTAINER: &str = "azure-webjobs-hosts";
/// How often a watched container is listed.
pub const SCAN_INTERVAL: Duration = Duration::from_secs(1);

/// Watches one container for one Event Grid function.
#[derive(Debug)]
pub struct BlobWatcher {
    /// Where the events go, and how.
    pub subscription: Subscription,
    /// The container watched.
    pub container: String,
    /// The account of the container and of the receipts.
    pub storage: Storage,
    /// The host id in receipt names.
    pub host_id: String,
}

impl BlobWatcher {
    /// Scans until `shutdown`; each new version's delivery runs on its own, so a slow one
    /// holds up no other.
    pub async fn run(self, shutdown: CancellationToken) {
        log::info!(
            "delivering BlobCreated events of container `{}` to function `{}`",
            self.container,
            self.subscription.function.name
        );
        let watcher = Arc::new(self);
        // Versions published in this run of the host (delivered, or being delivered).
        let published: Arc<Mutex<HashSet<(String, String)>>> = Arc::default();
        let mut deliveries = tokio::task::JoinSet::new();
        while !shutdown.is_cancelled() {
            match watcher
                .storage
                .list_blob_infos(&watcher.container, None)
                .await
            {
                Ok(blobs) => {
                    for blob in blobs {
                        if shutdown.is_cancelled() {
                            break;
                        }
                        let key = (blob.name.clone(), blob.etag.clone());
                        if published.lock().is_ok_and(|p| p.contains(&key)) {
                            continue;
                        }
                        if watcher.receipt(&blob).len() > storage::MAX_BLOB_NAME {
                            log::error!(
                                "`{}/{}`: the name is too long for its receipt's name; it is not delivered",
                                watcher.container,
                                blob.name
                            );
                            published.lock().map(|mut p| p.insert(key)).ok();
                            continue;
                        }
                        match watcher.has_receipt(&blob).await {
                            Ok(true) => {
                                published.lock().map(|mut p| p.insert(key)).ok();
                                continue;
                            }
                            Ok(false) => {}
                            Err(e) => {
                                log::warn!("{e}");
                                continue;
                            }
                        }
                        published.lock().map(|mut p| p.insert(key)).ok();
                        let (watcher, shutdown) = (Arc::clone(&watcher), shutdown.clone());
                        deliveries.spawn(async move { watcher.deliver(&blob, &shutdown).await });
                    }
                }
                Err(e) if e.code() == Some("ContainerNotFound") => {}
                Err(e) => log::warn!("{e}"),
            }
            while deliveries.try_join_next().is_some() {}
            tokio::select! {
                _ = tokio::time::sleep(SCAN_INTERVAL) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        deliveries.shutdown().await;
    }

    fn receipt(&self, blob: &BlobInfo) -> String {
        format!(
            "blobreceipts/{}/Host.Functions.{}/{}/{}/{}",
            self.host_id, self.subscription.function.name, blob.etag, self.container, blob.name
        )
    }

    async fn has_receipt(&self, blob: &BlobInfo) -> Result<bool, storage::StorageError> {
        Ok(self
            .storage
            .blob_properties(HOSTS_CONTAINER, &self.receipt(blob))
            .await?
            .is_some())
    }

    /// Publishes `blob`'s event and delivers it; once delivered or dead-lettered, its
    /// receipt is kept.
    async fn deliver(&self, blob: &BlobInfo, shutdown: &CancellationToken) {
        let event = blob_created(&self.storage, &self.container, blob);
        if self.subscription.deliver(event, shutdown).await == Delivered::Stopped {
            return;
        }
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
            // The blob's own type, as Azure Storage sends it (learn.microsoft.com, "Azure
            // Blob Storage as an Event Grid source", the BlobCreated event's `contentType`).
            "contentType": blob.content_type.as_deref().unwrap_or("application/octet-stream"),
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
