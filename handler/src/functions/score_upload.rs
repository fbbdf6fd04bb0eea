//! `score-upload`: scores a CSV file dropped into container `uploads`.
//!
//! For `uploads/<name>.csv` it writes `results/uploads/<name>.csv`, the file with a `prediction`
//! column, in the dialect `POST /predict` answers CSV in; a file it cannot score gets
//! `results/uploads/<name>.error.json` instead, naming the line and column at fault, and nothing
//! else is written. (A name without `.csv` keeps its whole name as `<name>`.)
//!
//! Why an `eventGridTrigger` and not a `blobTrigger`: Flex Consumption supports the blob
//! trigger only with `"source": "EventGrid"`, and that trigger hands the function the whole
//! blob inline, base64 in the invocation's JSON (azure-sdk-for-net
//! `Microsoft.Azure.WebJobs.Extensions.Storage.Blobs`, `Listeners/BlobListenerFactory.cs`; the
//! host's `ScriptInvocationContextExtensions.cs`), which is the file held in memory twice over
//! and capped by what one request can carry. The Event Grid trigger hands over only the
//! `BlobCreated` event; the function then streams the blob itself: ranges in, rows scored a
//! batch at a time ([`house_price::csv_stream`]), blocks out, so a 1 GiB file stays within
//! tens of MB.
//!
//! Idempotent: the result carries the source's ETag in its metadata (`sourceetag`), so an event
//! delivered twice finds the result of that version and does nothing, and a file replaced by a
//! new version (a new ETag) is scored again. The result is committed only when the whole file
//! has been scored, so a failure half way leaves the previous result, or none.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use custom_handler::{Function, Invocation, InvocationError, InvocationResponse, service_fn};
use house_price::api::ErrorBody;
use house_price::csv_stream::{self, ScoreError};
use house_price::jobs::RESULTS_CONTAINER;
use serde_json::{Map, Value};
use storage::{BlockWriter, Storage, StorageError};
use tokio::sync::mpsc;

use house_price::uploads::{CONTAINER as UPLOADS, SOURCE_ETAG, error_name, result_name};

use crate::State;

/// How much scored output is sent to storage as one block.
const BLOCK_BYTES: usize = 4 << 20;
/// Chunks in flight between storage and the scorer, each way: bounds memory.
const CHANNEL_CHUNKS: usize = 2;

/// The function's declaration.
pub fn function(state: Arc<State>) -> Function {
    Function::new("score-upload")
        .event_grid_trigger("event")
        .handler(service_fn(move |inv| handle(state.clone(), inv)))
}

async fn handle(state: Arc<State>, inv: Invocation) -> Result<InvocationResponse, InvocationError> {
    let event = inv
        .request()
        .event_grid_event("event")
        .map_err(|e| super::missing("event", e))?;
    let Some(name) = uploaded_blob(&event) else {
        inv.log(
            log::Level::Info,
            "not a blob created in uploads/: nothing to score",
        );
        return Ok(InvocationResponse::new());
    };
    let Some(storage) = &state.storage else {
        return Err(InvocationError::permanent(
            "scoring uploads needs storage: set AzureWebJobsStorage",
        ));
    };
    let outcome = score(storage, &state.model, &name)
        .await
        .map_err(|e| InvocationError::transient(e.to_string()))?;
    inv.log(log::Level::Info, format!("uploads/{name}: {outcome}"));
    Ok(InvocationResponse::new())
}

/// The blob name in `uploads` a `BlobCreated` event is about, from its subject
/// (`/blobServices/default/containers/<container>/blobs/<name>`); CloudEvents carry the same
/// subject and name the event `type` instead of `eventType`.
pub fn uploaded_blob(event: &Map<String, Value>) -> Option<String> {
    let kind = event
        .get("eventType")
        .or_else(|| event.get("type"))
        .and_then(Value::as_str)?;
    if kind != "Microsoft.Storage.BlobCreated" {
        return None;
    }
    let subject = event.get("subject").and_then(Value::as_str)?;
    let name = subject.strip_prefix(&format!(
        "/blobServices/default/containers/{UPLOADS}/blobs/"
    ))?;
    (!name.is_empty()).then(|| name.to_owned())
}

/// What became of one file.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Scored: this many rows.
    Scored(u64),
    /// Refused: the error document was written.
    Refused(String),
    /// This version already has its result or error document.
    AlreadyDone,
    /// The blob is no longer there.
    Gone,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Scored(rows) => write!(f, "scored {rows} rows"),
            Outcome::Refused(why) => write!(f, "cannot be scored: {why}"),
            Outcome::AlreadyDone => f.write_str("this version was already scored"),
            Outcome::Gone => f.write_str("the file is gone"),
        }
    }
}

/// Scores `uploads/<name>` unless its current version already has a result. `Err` only for
/// storage failures, which a retry may get past.
pub async fn score(
    storage: &Storage,
    model: &house_price::Model,
    name: &str,
) -> Result<Outcome, StorageError> {
    // A name too long for its result's name can never be scored: say so once, no retry.
    if error_name(name).len() > storage::MAX_BLOB_NAME {
        return Ok(Outcome::Refused(format!(
            "the name is too long: results are named uploads/<name>.error.json, at most {} bytes",
            storage::MAX_BLOB_NAME
        )));
    }
    let Some(source) = storage.blob_properties(UPLOADS, name).await? else {
        return Ok(Outcome::Gone);
    };
    for done in [result_name(name), error_name(name)] {
        if let Some(existing) = storage.blob_properties(RESULTS_CONTAINER, &done).await?
            && existing.metadata.get(SOURCE_ETAG) == Some(&source.etag)
        {
            return Ok(Outcome::AlreadyDone);
        }
    }
    let Some(reader) = storage.open_blob(UPLOADS, name).await? else {
        return Ok(Outcome::Gone);
    };
    storage.ensure_container(RESULTS_CONTAINER).await?;
    let metadata: HashMap<String, String> = [(SOURCE_ETAG.to_owned(), reader.etag.clone())].into();
    let writer = storage.block_writer(RESULTS_CONTAINER, &result_name(name))?;

    let (writer, scored) = pipe(model, reader, writer).await?;
    match scored {
        Ok(rows) => {
            writer.commit("text/csv; charset=utf-8", metadata).await?;
            storage
                .delete_blob(RESULTS_CONTAINER, &error_name(name))
                .await?;
            Ok(Outcome::Scored(rows))
        }
        Err(ScoreError::Input(e)) => {
            let body = ErrorBody {
                error: house_price::api::ErrorDetail {
                    code: e.code().to_owned(),
                    message: e.to_string(),
                },
            };
            let bytes = serde_json::to_vec_pretty(&body).unwrap_or_default();
            let mut error = storage.block_writer(RESULTS_CONTAINER, &error_name(name))?;
            error.stage(bytes.into()).await?;
            error.commit("application/json", metadata).await?;
            storage
                .delete_blob(RESULTS_CONTAINER, &result_name(name))
                .await?;
            Ok(Outcome::Refused(e.to_string()))
        }
        Err(ScoreError::Io(detail)) => Err(StorageError::Other {
            operation: format!("score uploads/{name}"),
            detail,
        }),
    }
}

/// Where [`pipe`] reads the file from: a blob being downloaded.
trait ChunkSource {
    async fn next_chunk(&mut self) -> Result<Option<storage::Bytes>, StorageError>;
}

impl ChunkSource for storage::BlobReader {
    async fn next_chunk(&mut self) -> Result<Option<storage::Bytes>, StorageError> {
        storage::BlobReader::next_chunk(self).await
    }
}

/// Where [`pipe`] writes the result to: a blob being written in blocks.
trait BlockTarget {
    async fn stage(&mut self, block: Vec<u8>) -> Result<(), StorageError>;
}

impl BlockTarget for BlockWriter {
    async fn stage(&mut self, block: Vec<u8>) -> Result<(), StorageError> {
        BlockWriter::stage(self, block.into()).await
    }
}

/// Streams `source` through the scorer (on a blocking thread) into `target`; the target
/// back, to commit, and what the scorer made of the file. `Err` when reading or writing
/// failed, whatever the scorer said. Each side owns its end of the bounded channels, so
/// whichever stops first (a storage failure, a bad row) closes its channel and the others
/// finish too instead of waiting for ever.
async fn pipe<S: ChunkSource, T: BlockTarget>(
    model: &house_price::Model,
    mut source: S,
    mut target: T,
) -> Result<(T, Result<u64, ScoreError>), StorageError> {
    let (chunks_in, mut chunks_out) = mpsc::channel(CHANNEL_CHUNKS);
    let (blocks_in, mut blocks_out) = mpsc::channel::<Vec<u8>>(CHANNEL_CHUNKS);
    let model = model.clone();
    let scoring = tokio::task::spawn_blocking(move || {
        let input = ChunkReader {
            chunks: &mut chunks_out,
            current: Default::default(),
        };
        let output = BlockSink {
            blocks: blocks_in,
            buffer: Vec::with_capacity(BLOCK_BYTES),
        };
        csv_stream::score_csv(&model, input, output)
    });
    let download = async move {
        while let Some(chunk) = source.next_chunk().await? {
            if chunks_in.send(chunk).await.is_err() {
                break; // the scorer stopped (a bad row): the rest is not needed
            }
        }
        Ok::<(), StorageError>(())
    };
    let upload = async move {
        while let Some(block) = blocks_out.recv().await {
            target.stage(block).await?;
        }
        Ok::<T, StorageError>(target)
    };
    let (downloaded, uploaded, scored) = tokio::join!(download, upload, scoring);
    downloaded?;
    let target = uploaded?;
    let scored = scored.map_err(|e| StorageError::Other {
        operation: "score an upload".to_owned(),
        detail: e.to_string(),
    })?;
    Ok((target, scored))
}

/// The downloaded chunks as a [`Read`] for the scorer's thread.
struct ChunkReader<'a> {
    chunks: &'a mut mpsc::Receiver<storage::Bytes>,
    current: storage::Bytes,
}

impl Read for ChunkReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// The scorer's output, cut into blocks for the uploader.
struct BlockSink {
    blocks: mpsc::Sender<Vec<u8>>,
    buffer: Vec<u8>,
}

impl BlockSink {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let block = std::mem::replace(&mut self.buffer, Vec::with_capacity(BLOCK_BYTES));
        self.blocks
            .blocking_send(block)
            .map_err(|_| std::io::Error::other("the upload of the result stopped"))
    }
}

impl std::io::Write for BlockSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= BLOCK_BYTES {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    /// A file in memory, cut into 1 MiB chunks; fails instead of giving chunk `fail_at`.
    struct Chunks {
        chunks: std::collections::VecDeque<storage::Bytes>,
        given: usize,
        fail_at: Option<usize>,
    }

    impl ChunkSource for Chunks {
        async fn next_chunk(&mut self) -> Result<Option<storage::Bytes>, StorageError> {
            if Some(self.given) == self.fail_at {
                return Err(StorageError::Other {
                    operation: "read".into(),
                    detail: "reset".into(),
                });
            }
            self.given += 1;
            Ok(self.chunks.pop_front())
        }
    }

    /// Collects blocks; fails instead of taking block `fail_at`.
    #[derive(Default)]
    struct Blocks {
        taken: Vec<u8>,
        count: usize,
        fail_at: Option<usize>,
    }

    impl BlockTarget for Blocks {
        async fn stage(&mut self, block: Vec<u8>) -> Result<(), StorageError> {
            if Some(self.count) == self.fail_at {
                return Err(StorageError::Other {
                    operation: "write".into(),
                    detail: "503".into(),
                });
            }
            self.count += 1;
            self.taken.extend_from_slice(&block);
            Ok(())
        }
    }

    /// About 12 MiB of rows: five output blocks, more than the channels hold.
    fn file(fail_at: Option<usize>) -> (String, Chunks) {
        let mut text = String::from("CHAS,RM,TAX,PTRATIO,B,LSTAT\n");
        let mut i = 0;
        while text.len() < 12 << 20 {
            text.push_str(&format!("{},6.{},296,15.3,396.9,4.98\n", i % 2, i % 10));
            i += 1;
        }
        let chunks = text
            .as_bytes()
            .chunks(1 << 20)
            .map(storage::Bytes::copy_from_slice)
            .collect();
        (
            text,
            Chunks {
                chunks,
                given: 0,
                fail_at,
            },
        )
    }

    async fn piped(
        source: Chunks,
        target: Blocks,
    ) -> Result<(Blocks, Result<u64, ScoreError>), StorageError> {
        let model = house_price::Model::embedded().unwrap();
        // A hang is a failure, not a stuck test run.
        tokio::time::timeout(Duration::from_secs(60), pipe(&model, source, target))
            .await
            .expect("the pipe hung")
    }

    #[tokio::test]
    async fn the_pipe_writes_what_the_scorer_makes_of_the_whole_file() {
        let (text, source) = file(None);
        let (target, scored) = piped(source, Blocks::default()).await.unwrap();
        let mut expected = Vec::new();
        let rows = csv_stream::score_csv(
            &house_price::Model::embedded().unwrap(),
            text.as_bytes(),
            &mut expected,
        )
        .unwrap();
        assert_eq!(scored.unwrap(), rows);
        assert!(target.taken == expected, "the staged result differs");
        assert!(target.count > 2 * CHANNEL_CHUNKS);
    }

    #[tokio::test]
    async fn a_failed_block_write_ends_the_pipe_with_that_error() {
        let (_, source) = file(None);
        let target = Blocks {
            fail_at: Some(1),
            ..Blocks::default()
        };
        let err = piped(source, target).await.err().expect("an error");
        assert!(err.to_string().contains("503"), "{err}");
    }

    #[tokio::test]
    async fn a_failed_read_ends_the_pipe_with_that_error_not_a_partial_result() {
        let (_, source) = file(Some(5));
        let err = piped(source, Blocks::default())
            .await
            .err()
            .expect("an error");
        assert!(err.to_string().contains("reset"), "{err}");
    }

    fn event(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn only_blobs_created_in_uploads_are_scored() {
        let created = |subject: &str| {
            event(json!({"eventType": "Microsoft.Storage.BlobCreated", "subject": subject}))
        };
        assert_eq!(
            uploaded_blob(&created(
                "/blobServices/default/containers/uploads/blobs/a/b.csv"
            )),
            Some("a/b.csv".to_owned())
        );
        assert_eq!(
            uploaded_blob(&created(
                "/blobServices/default/containers/results/blobs/b.csv"
            )),
            None
        );
        assert_eq!(
            uploaded_blob(&created("/blobServices/default/containers/uploads/blobs/")),
            None
        );
        let deleted = event(json!({"eventType": "Microsoft.Storage.BlobDeleted",
            "subject": "/blobServices/default/containers/uploads/blobs/b.csv"}));
        assert_eq!(uploaded_blob(&deleted), None);
        let cloud = event(json!({"type": "Microsoft.Storage.BlobCreated",
            "subject": "/blobServices/default/containers/uploads/blobs/c.csv"}));
        assert_eq!(uploaded_blob(&cloud), Some("c.csv".to_owned()));
    }
}
