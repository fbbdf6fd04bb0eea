//! `score-upload`: scores one version of a CSV file dropped into container `uploads`, as
//! `queue-upload` queued it.
//!
//! For `uploads/<name>.csv` it writes `results/uploads/<name>.csv`, the file with a `prediction`
//! column, in the dialect `POST /predict` answers CSV in; a file it cannot score gets
//! `results/uploads/<name>.error.json` instead, naming the line and column at fault, and nothing
//! else is written. (A name without `.csv` keeps its whole name as `<name>`.) The file is
//! streamed: ranges in, rows scored a batch at a time ([`house_price::csv_stream`]), blocks
//! out, so a 1 GiB file stays within tens of MB.
//!
//! One scoring run and one result per blob version, whatever the events and the queue do:
//! - the result carries the source's ETag in its metadata (`sourceetag`), so a version that
//!   has its result is not scored again, and a new version (a new ETag) is;
//! - a message for a version that has since been replaced is done: the new version's own
//!   event scores it;
//! - a run holds a lease on `locks/uploads/<name>` while it scores, renewed as it goes, so
//!   a second message for the same file (a duplicate event, a redelivery, a message that
//!   reappeared) waits for the first run, then finds its result. A run that dies loses the
//!   lease within [`LEASE`], and its message, reappearing, scores the file. The lock's
//!   metadata counts the runs that scored each version ([`RUNS`]);
//! - the result is committed only when the whole file has been scored, so a failure half
//!   way leaves the previous result, or none.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use functions_custom_handler::bindings::QueueTrigger;
use functions_custom_handler::{Function, Invocation, InvocationError, Outputs, service_fn};
use house_price::api::ErrorBody;
use house_price::csv_stream::{self, ScoreError};
use house_price::jobs::RESULTS_CONTAINER;
use storage::{BlobLease, BlockWriter, Storage, StorageError};
use tokio::sync::mpsc;

use house_price::uploads::{
    CONTAINER as UPLOADS, LOCKS_CONTAINER, QUEUE, RUNS, SOURCE_ETAG, ScoreUpload, error_name,
    lock_name, result_name, same_version,
};

use crate::State;

/// How much scored output is sent to storage as one block.
const BLOCK_BYTES: usize = 4 << 20;
/// Chunks in flight between storage and the scorer, each way: bounds memory.
const CHANNEL_CHUNKS: usize = 2;
/// How long a run's lease on its lock lasts unless renewed: how soon a run that died
/// lets another take over.
pub const LEASE: Duration = Duration::from_secs(15);
/// How often a run renews its lease: well within [`LEASE`], so a slow storage call or two
/// does not lose it.
const RENEW_EVERY: Duration = Duration::from_secs(5);
/// How often a message whose file another run is scoring looks again.
const WAIT_STEP: Duration = Duration::from_secs(1);
/// How long a message waits for another run before it fails and is retried later; within
/// the app's `functionTimeout`.
const MAX_WAIT: Duration = Duration::from_secs(4 * 60);

const UPLOAD: QueueTrigger = QueueTrigger::new("upload", QUEUE);

/// The function's declaration.
pub fn function(state: Arc<State>) -> Function {
    Function::new("score-upload")
        .trigger(UPLOAD)
        .handler(service_fn(move |inv| handle(state.clone(), inv)))
}

async fn handle(state: Arc<State>, mut inv: Invocation) -> Result<Outputs, InvocationError> {
    // Not JSON or no blob: nothing names what to score. Fail, so the host retries and then
    // keeps the message in `score-uploads-poison` as it came.
    let request: ScoreUpload = inv.trigger(&UPLOAD)?.json()?;
    let Some(storage) = &state.storage else {
        return Err(InvocationError::transient(
            "scoring uploads needs storage: set AzureWebJobsStorage",
        ));
    };
    let outcome = score_once(storage, &state.model, &request)
        .await
        .map_err(|e| InvocationError::transient(e.to_string()))?;
    inv.log(
        log::Level::Info,
        format!("uploads/{}: {outcome}", request.blob),
    );
    Ok(Outputs::new())
}

/// What became of one request to score.
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
    /// The blob has been replaced since; the new version is scored on its own event.
    Superseded,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Scored(rows) => write!(f, "scored {rows} rows"),
            Outcome::Refused(why) => write!(f, "cannot be scored: {why}"),
            Outcome::AlreadyDone => f.write_str("this version was already scored"),
            Outcome::Gone => f.write_str("the file is gone"),
            Outcome::Superseded => f.write_str("replaced by a newer version since"),
        }
    }
}

/// Scores the version `request` names unless it is done, gone or replaced, holding the
/// file's lock while it does, and waiting for a run that holds it. `Err` for storage
/// failures and for a wait past [`MAX_WAIT`], which a retry may get past.
pub async fn score_once(
    storage: &Storage,
    model: &house_price::Model,
    request: &ScoreUpload,
) -> Result<Outcome, StorageError> {
    let name = request.blob.as_str();
    // A name too long for its result's name can never be scored: say so once, no retry.
    if error_name(name).len() > storage::MAX_BLOB_NAME {
        return Ok(Outcome::Refused(format!(
            "the name is too long: results are named uploads/<name>.error.json, at most {} bytes",
            storage::MAX_BLOB_NAME
        )));
    }
    let started = Instant::now();
    storage.ensure_container(LOCKS_CONTAINER).await?;
    let lease = loop {
        if let Some(settled) = settled(storage, request).await? {
            return Ok(settled);
        }
        if let Some(lease) = storage
            .try_lease(LOCKS_CONTAINER, &lock_name(name), LEASE)
            .await?
        {
            break lease;
        }
        if started.elapsed() > MAX_WAIT {
            return Err(StorageError::Other {
                operation: format!("score uploads/{name}"),
                detail: format!(
                    "another run has held the file's lock for over {} s; retrying later",
                    MAX_WAIT.as_secs()
                ),
            });
        }
        tokio::time::sleep(WAIT_STEP).await;
    };
    let held = Held::new(lease);
    let outcome = async {
        // The run that held the lock before may just have written the result.
        if let Some(settled) = settled(storage, request).await? {
            return Ok(settled);
        }
        count_run(storage, &held.lease, request).await?;
        score(storage, model, name, request.etag.as_deref()).await
    }
    .await;
    held.release().await;
    outcome
}

/// The outcome for a request that needs no scoring: the file is gone or replaced, or this
/// version has its result. `None` when it needs scoring.
async fn settled(
    storage: &Storage,
    request: &ScoreUpload,
) -> Result<Option<Outcome>, StorageError> {
    let name = request.blob.as_str();
    let Some(source) = storage.blob_properties(UPLOADS, name).await? else {
        return Ok(Some(Outcome::Gone));
    };
    if request
        .etag
        .as_deref()
        .is_some_and(|wanted| !same_version(wanted, &source.etag))
    {
        return Ok(Some(Outcome::Superseded));
    }
    for done in [result_name(name), error_name(name)] {
        if let Some(existing) = storage.blob_properties(RESULTS_CONTAINER, &done).await?
            && existing
                .metadata
                .get(SOURCE_ETAG)
                .is_some_and(|e| same_version(e, &source.etag))
        {
            return Ok(Some(Outcome::AlreadyDone));
        }
    }
    Ok(None)
}

/// Counts one more scoring run of this version in the lock's metadata.
async fn count_run(
    storage: &Storage,
    lease: &BlobLease,
    request: &ScoreUpload,
) -> Result<(), StorageError> {
    let lock = storage
        .blob_properties(LOCKS_CONTAINER, &lock_name(&request.blob))
        .await?
        .unwrap_or_default();
    // A request without a version counts under the version it finds.
    let version = match &request.etag {
        Some(etag) => etag.clone(),
        None => storage
            .blob_properties(UPLOADS, &request.blob)
            .await?
            .map(|p| p.etag)
            .unwrap_or_else(|| "unknown".to_owned()),
    };
    let same = lock
        .metadata
        .get(SOURCE_ETAG)
        .is_some_and(|e| same_version(e, &version));
    let runs = if same {
        lock.metadata
            .get(RUNS)
            .and_then(|r| r.parse::<u64>().ok())
            .unwrap_or(0)
            + 1
    } else {
        1
    };
    let metadata = HashMap::from([
        (SOURCE_ETAG.to_owned(), version.trim_matches('"').to_owned()),
        (RUNS.to_owned(), runs.to_string()),
    ]);
    lease.set_metadata(&metadata).await
}

/// A lease kept alive by a renewing task until released. Dropped unreleased (the
/// invocation was cancelled), it stops renewing, so the lease runs out and another run may
/// take the file over.
struct Held {
    lease: Arc<BlobLease>,
    renewing: Option<tokio::task::JoinHandle<()>>,
}

impl Held {
    fn new(lease: BlobLease) -> Held {
        let lease = Arc::new(lease);
        let renewed = Arc::clone(&lease);
        let renewing = tokio::spawn(async move {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                if let Err(e) = renewed.renew().await {
                    // Another run may take over; both write the same result.
                    log::warn!("{e}");
                }
            }
        });
        Held {
            lease,
            renewing: Some(renewing),
        }
    }

    /// Stops renewing and gives the lease up; a lease that cannot be released runs out.
    async fn release(mut self) {
        if let Some(renewing) = self.renewing.take() {
            renewing.abort();
            let _ = renewing.await;
        }
        let lease = Arc::clone(&self.lease);
        drop(self);
        match Arc::try_unwrap(lease) {
            Ok(lease) => {
                if let Err(e) = lease.release().await {
                    log::warn!("{e}");
                }
            }
            Err(_) => log::warn!("the lease is still shared; it runs out instead"),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(renewing) = &self.renewing {
            renewing.abort();
        }
    }
}

/// Scores `uploads/<name>` when it is still at version `etag` (any version when `None`),
/// unless that version already has a result. `Err` only for storage failures, which a retry
/// may get past.
pub async fn score(
    storage: &Storage,
    model: &house_price::Model,
    name: &str,
    etag: Option<&str>,
) -> Result<Outcome, StorageError> {
    let Some(reader) = storage.open_blob(UPLOADS, name).await? else {
        return Ok(Outcome::Gone);
    };
    if etag.is_some_and(|wanted| !same_version(wanted, &reader.etag)) {
        return Ok(Outcome::Superseded);
    }
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
}
