//! `housekeeping`: a timer that keeps storage tidy.
//!
//! On the schedule in app setting `HOUSEKEEPING_SCHEDULE` (six-field NCRONTAB; the infra sets
//! `0 0 3 * * *`, daily at 03:00 UTC) it:
//! - deletes the blobs of `results`, `job-inputs`, `uploads` and `locks` last written longer ago than
//!   `HOUSEKEEPING_RETENTION` (a .NET time span, `7.00:00:00` by default);
//! - moves every message of `predict-jobs-poison` and `score-uploads-poison` into blob
//!   `poison/<messageId>.json` (its queue, text, dequeue count, insertion time and when it was
//!   drained), so a poisoned job or upload is not lost when the queue's time-to-live ends.
//!
//! Safe to run twice at once (Azure runs a timer as a singleton only while its lease holds):
//! a message is leased to one run before it is copied, the copy is named by the message id
//! (a second copy overwrites it with the same text), and a blob or message already deleted by
//! the other run counts as done.

use std::sync::Arc;
use std::time::Duration;

use functions_custom_handler::bindings::TimerTrigger;
use functions_custom_handler::{Function, Invocation, InvocationError, Outputs, service_fn};
use house_price::jobs;
use serde_json::json;
use storage::{MessageEncoding, Storage, StorageError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::task::JoinSet;

use crate::State;

/// The containers whose old blobs are deleted.
pub const SWEPT_CONTAINERS: [&str; 4] = [
    jobs::RESULTS_CONTAINER,
    jobs::INPUTS_CONTAINER,
    UPLOADS,
    house_price::uploads::LOCKS_CONTAINER,
];
/// Where files to score are dropped.
pub const UPLOADS: &str = house_price::uploads::CONTAINER;
/// Where drained poison messages are kept.
pub const POISON_CONTAINER: &str = "poison";
/// The queues the host moves messages to after their last failed delivery.
pub const POISON_QUEUES: [&str; 2] = ["predict-jobs-poison", "score-uploads-poison"];
/// The app setting of the schedule.
pub const SCHEDULE_SETTING: &str = "HOUSEKEEPING_SCHEDULE";

/// The timer, on the schedule in the app setting [`SCHEDULE_SETTING`].
const TIMER: TimerTrigger = TimerTrigger::new("timer", "%HOUSEKEEPING_SCHEDULE%");
/// The app setting of the retention.
pub const RETENTION_SETTING: &str = "HOUSEKEEPING_RETENTION";
/// The retention when the setting is absent: a week.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Deletions in flight at once: enough to hide the round trips, few enough to stay polite.
const PARALLEL_DELETES: usize = 16;
/// How long a drained message is leased to this run while it is copied.
const DRAIN_LEASE: Duration = Duration::from_secs(5 * 60);

/// The function's declaration.
pub fn function(state: Arc<State>) -> Function {
    Function::new("housekeeping")
        .trigger(TIMER)
        .handler(service_fn(move |inv| handle(state.clone(), inv)))
}

async fn handle(state: Arc<State>, mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let timer = inv.trigger(&TIMER)?;
    let Some(storage) = &state.storage else {
        return Err(InvocationError::permanent(
            "housekeeping needs storage: set AzureWebJobsStorage",
        ));
    };
    let report = run(
        storage,
        state.housekeeping_retention,
        OffsetDateTime::now_utc(),
    )
    .await
    .map_err(|e| InvocationError::transient(e.to_string()))?;
    let past_due = if timer.is_past_due {
        "; this run is past due (the app was not running when it was scheduled)"
    } else {
        ""
    };
    inv.log(log::Level::Info, format!("{report}{past_due}"));
    Ok(Outputs::new())
}

/// What one run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Blobs deleted, by container (in [`SWEPT_CONTAINERS`] order).
    pub deleted: [usize; 4],
    /// Blobs younger than the retention, left alone.
    pub kept: usize,
    /// Poison messages moved into blobs.
    pub drained: usize,
    /// The retention applied.
    pub retention: Duration,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [results, inputs, uploads, locks] = self.deleted;
        write!(
            f,
            "housekeeping: deleted {} blobs older than {} (results {results}, job-inputs {inputs}, uploads {uploads}, locks {locks}), kept {}, moved {} poison messages to {POISON_CONTAINER}/",
            results + inputs + uploads + locks,
            span(self.retention),
            self.kept,
            self.drained
        )
    }
}

/// A retention as people say it: whole days in days, anything else in seconds.
fn span(retention: Duration) -> String {
    let secs = retention.as_secs();
    match secs {
        86_400 => "1 day".to_owned(),
        s if s % 86_400 == 0 && s > 0 => format!("{} days", s / 86_400),
        s => format!("{s} s"),
    }
}

/// One housekeeping run at `now`.
pub async fn run(
    storage: &Storage,
    retention: Duration,
    now: OffsetDateTime,
) -> Result<Report, StorageError> {
    let cutoff = cutoff(now, retention);
    let mut report = Report {
        retention,
        ..Report::default()
    };
    for (i, container) in SWEPT_CONTAINERS.into_iter().enumerate() {
        let blobs = match storage.list_blob_infos(container, None).await {
            Ok(blobs) => blobs,
            Err(e) if e.code() == Some("ContainerNotFound") => continue,
            Err(e) => return Err(e),
        };
        let (old, young): (Vec<_>, Vec<_>) =
            blobs.into_iter().partition(|b| b.last_modified < cutoff);
        report.kept += young.len();
        report.deleted[i] = delete_all(storage, container, old.into_iter().map(|b| b.name)).await?;
    }
    for queue in POISON_QUEUES {
        report.drained += drain_poison(storage, queue, now).await?;
    }
    Ok(report)
}

/// Blobs last written before this are old. A retention longer than the calendar goes back
/// makes nothing old.
fn cutoff(now: OffsetDateTime, retention: Duration) -> OffsetDateTime {
    time::Duration::try_from(retention)
        .ok()
        .and_then(|r| now.checked_sub(r))
        .unwrap_or(time::PrimitiveDateTime::MIN.assume_utc())
}

/// Deletes `names` from `container`, a few at a time; returns how many this run deleted.
async fn delete_all(
    storage: &Storage,
    container: &str,
    names: impl Iterator<Item = String>,
) -> Result<usize, StorageError> {
    let mut deleted = 0;
    let mut tasks = JoinSet::new();
    for name in names {
        if tasks.len() >= PARALLEL_DELETES
            && let Some(done) = tasks.join_next().await
        {
            deleted += usize::from(joined(done)?);
        }
        let (storage, container) = (storage.clone(), container.to_owned());
        tasks.spawn(async move {
            match storage.delete_blob(&container, &name).await {
                // A lock a scoring run holds right now: it is not old, whatever its date.
                Err(e) if e.code() == Some("LeaseIdMissing") => Ok(false),
                other => other,
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        deleted += usize::from(joined(done)?);
    }
    Ok(deleted)
}

fn joined(
    done: Result<Result<bool, StorageError>, tokio::task::JoinError>,
) -> Result<bool, StorageError> {
    done.map_err(|e| StorageError::Other {
        operation: "delete a blob".to_owned(),
        detail: e.to_string(),
    })?
}

/// Moves every message of poison queue `queue` into a blob; returns how many.
async fn drain_poison(
    storage: &Storage,
    queue: &str,
    now: OffsetDateTime,
) -> Result<usize, StorageError> {
    let mut drained = 0;
    let mut container_ready = false;
    loop {
        let batch = match storage
            .receive_messages(queue, storage::MAX_MESSAGES_PER_CALL, DRAIN_LEASE)
            .await
        {
            Ok(batch) => batch,
            Err(e) if e.code() == Some("QueueNotFound") => return Ok(drained),
            Err(e) => return Err(e),
        };
        if batch.is_empty() {
            return Ok(drained);
        }
        if !container_ready {
            storage.ensure_container(POISON_CONTAINER).await?;
            container_ready = true;
        }
        for message in batch {
            // The host writes base64 by default; a message that is not is kept as sent.
            let text = storage::decode_message(&message.text, MessageEncoding::Base64)
                .unwrap_or_else(|_| message.text.clone());
            let record = json!({
                "messageId": message.id,
                "queue": queue,
                "body": text,
                "dequeueCount": message.dequeue_count,
                "insertedAt": message.insertion_time.format(&Rfc3339).ok(),
                "drainedAt": now.format(&Rfc3339).ok(),
            });
            storage
                .put_blob(
                    POISON_CONTAINER,
                    &format!("{}.json", message.id),
                    serde_json::to_vec_pretty(&record).unwrap_or_default(),
                    "application/json",
                )
                .await?;
            match storage
                .delete_message(queue, &message.id, &message.pop_receipt)
                .await
            {
                Ok(()) => {}
                // Its lease passed to another run, which copies it again under the same name.
                Err(e)
                    if e.code() == Some("MessageNotFound")
                        || e.code() == Some("PopReceiptMismatch") => {}
                Err(e) => return Err(e),
            }
            drained += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_retention_gives_a_cutoff_without_panicking() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(
            cutoff(now, Duration::from_secs(60)),
            now - time::Duration::seconds(60)
        );
        for huge in [Duration::from_secs(5_000_000 * 86_400), Duration::MAX] {
            assert_eq!(cutoff(now, huge), time::PrimitiveDateTime::MIN.assume_utc());
        }
    }

    #[test]
    fn the_report_is_one_line_with_the_counts() {
        let report = Report {
            deleted: [3, 1, 2, 4],
            kept: 7,
            drained: 4,
            retention: Duration::from_secs(60),
        };
        assert_eq!(
            report.to_string(),
            "housekeeping: deleted 10 blobs older than 60 s (results 3, job-inputs 1, uploads 2, locks 4), kept 7, moved 4 poison messages to poison/"
        );
        assert_eq!(span(DEFAULT_RETENTION), "7 days");
        assert_eq!(span(Duration::from_secs(86_400)), "1 day");
    }
}
