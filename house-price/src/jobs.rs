//! Background prediction jobs: the queue message both apps enqueue and the result
//! document the scoring function writes. One definition, so producer and consumer agree.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::api::{ApiError, ErrorDetail};
use crate::features::{FEATURES, N_FEATURES, Row};
use crate::model::Model;

/// The queue jobs are sent to.
pub const QUEUE: &str = "predict-jobs";
/// Where a job's result document is written: `{RESULTS_CONTAINER}/{jobId}.json`.
pub const RESULTS_CONTAINER: &str = "results";
/// Where rows too large for one queue message are kept: `{INPUTS_CONTAINER}/{jobId}.json`.
pub const INPUTS_CONTAINER: &str = "job-inputs";
/// Most rows in one job.
pub const MAX_JOB_ROWS: usize = 100_000;
/// Azure Storage refuses a queue message whose TEXT is over 64 KiB: "the encoded message can be
/// up to 64 KiB" (`QueueClient.MessageMaxBytes` in Azure.Storage.Queues). Both apps send the
/// message's bytes base64-encoded (the Functions default `messageEncoding`), so the text is
/// the base64 of the bytes.
pub const MAX_QUEUE_MESSAGE_TEXT: usize = 64 * 1024;
/// Kept free below [`MAX_QUEUE_MESSAGE_TEXT`]. The limit is the service's, and no test here can
/// send to Azure to find its very last byte; a job within 1 KiB of it costs one blob write as a
/// claim check instead, which always works.
pub const QUEUE_MESSAGE_MARGIN: usize = 1024;

/// The length of the queue message text Azure Storage receives for `bytes`: their base64.
pub fn queue_text_len(bytes: usize) -> usize {
    bytes.div_ceil(3) * 4
}

/// Whether a message of `bytes` (as the function hands them over) travels inline.
pub fn fits_inline(bytes: usize) -> bool {
    queue_text_len(bytes) <= MAX_QUEUE_MESSAGE_TEXT - QUEUE_MESSAGE_MARGIN
}

/// The blob path holding a large job's rows.
pub fn input_path(job_id: &Uuid) -> String {
    format!("{INPUTS_CONTAINER}/{job_id}.json")
}

/// The blob path of a job's result, as a Functions binding path would spell it.
pub fn result_path(job_id: &Uuid) -> String {
    format!("{RESULTS_CONTAINER}/{job_id}.json")
}

/// The message on [`QUEUE`]. Rows are arrays in [`FEATURES`] order to keep messages small.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobMessage {
    /// The job's id (UUID v4), also the result blob's name.
    pub job_id: Uuid,
    /// When the job was accepted.
    #[serde(with = "time::serde::rfc3339")]
    pub submitted_at: OffsetDateTime,
    /// Names of the values in each row, in order.
    pub features: Vec<String>,
    /// The rows to score, when they fit in the message.
    #[serde(default)]
    pub rows: Vec<[f64; N_FEATURES]>,
    /// Otherwise the blob path holding them (a JSON array of rows): the claim-check
    /// pattern, since a queue message holds at most 64 KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_blob: Option<String>,
    /// How many rows the job has, wherever they are.
    #[serde(default)]
    pub row_count: usize,
}

/// How a job travels: in one message, or as a message pointing at a blob of rows.
///
/// The plan carries the exact bytes to enqueue (`json`), measured as Azure will receive them,
/// so the size decision and what is sent cannot differ. Senders must enqueue these bytes
/// unchanged: the Functions handler hands them to the host as base64 (the host re-serialises a
/// JSON-looking string indented, which would grow it past the limit).
#[derive(Clone, Debug, PartialEq)]
pub enum JobPlan {
    /// The rows fit in the message.
    Inline {
        /// The message.
        message: JobMessage,
        /// Its compact JSON: the bytes to enqueue.
        json: String,
    },
    /// Write `rows_json` to `message.rows_blob` first, then send `message`.
    Blob {
        /// The message, with `rows_blob` set and no inline rows.
        message: JobMessage,
        /// Its compact JSON: the bytes to enqueue.
        json: String,
        /// The blob's path, `container/name`.
        path: String,
        /// The rows as a JSON array.
        rows_json: Vec<u8>,
    },
}

impl JobPlan {
    /// Plans a job for validated rows under a fresh id: inline when the message fits
    /// ([`fits_inline`]).
    pub fn new(rows: &[Row]) -> JobPlan {
        JobPlan::with_id(rows, Uuid::new_v4())
    }

    /// [`JobPlan::new`] under `job_id` (see [`job_id`]).
    pub fn with_id(rows: &[Row], job_id: Uuid) -> JobPlan {
        let message = JobMessage {
            job_id,
            ..JobMessage::new(rows)
        };
        let json = message.to_json();
        if fits_inline(json.len()) {
            return JobPlan::Inline { message, json };
        }
        let path = input_path(&message.job_id);
        let rows_json = serde_json::to_vec(&message.rows).unwrap_or_default();
        let message = JobMessage {
            rows: Vec::new(),
            rows_blob: Some(path.clone()),
            ..message
        };
        let json = message.to_json();
        JobPlan::Blob {
            message,
            json,
            path,
            rows_json,
        }
    }

    /// The message to enqueue.
    pub fn message(&self) -> &JobMessage {
        match self {
            JobPlan::Inline { message, .. } | JobPlan::Blob { message, .. } => message,
        }
    }

    /// The exact bytes to enqueue: the message's compact JSON.
    pub fn message_json(&self) -> &str {
        match self {
            JobPlan::Inline { json, .. } | JobPlan::Blob { json, .. } => json,
        }
    }
}

/// The `Idempotency-Key` request header (IETF draft-ietf-httpapi-idempotency-key-header): the
/// client's name for one intent to submit a job, sent again unchanged with every retry of it.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The key a request's `Idempotency-Key` header holds: the draft's quoted string, or (as
/// most clients send it) the bare text; 1 to 255 printable ASCII characters. `None` without
/// the header.
pub fn idempotency_key(header: Option<&[u8]>) -> Result<Option<String>, ApiError> {
    let Some(raw) = header else {
        return Ok(None);
    };
    let bad = || {
        ApiError::BadRequest(format!(
            "{IDEMPOTENCY_KEY} must be 1 to 255 printable ASCII characters, the same for every retry of one submission (a UUID is a good one)"
        ))
    };
    let text = std::str::from_utf8(raw).map_err(|_| bad())?.trim();
    let key = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    {
        return Err(bad());
    }
    Ok(Some(key.to_owned()))
}

/// The id of a job: with an idempotency key, derived from the key and the request (its
/// content type and body), so a retry of one submission is the same job and is scored
/// once; without one, fresh. The body takes part so that two clients who happen to pick the
/// same key for different batches get different jobs, and neither sees the other's result.
pub fn job_id(key: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Uuid {
    use sha2::{Digest, Sha256};
    let Some(key) = key else {
        return Uuid::new_v4();
    };
    let digest = Sha256::new()
        .chain_update(b"house-price job\0")
        .chain_update(key.as_bytes())
        .chain_update([0])
        .chain_update(content_type.unwrap_or("").trim().as_bytes())
        .chain_update([0])
        .chain_update(body)
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

impl JobMessage {
    /// A new job with a fresh id for already-validated rows.
    pub fn new(rows: &[Row]) -> JobMessage {
        JobMessage {
            job_id: Uuid::new_v4(),
            submitted_at: OffsetDateTime::now_utc(),
            features: FEATURES.iter().map(|f| (*f).to_owned()).collect(),
            rows: rows.iter().map(|r| *r.values()).collect(),
            rows_blob: None,
            row_count: rows.len(),
        }
    }

    /// The message as JSON text, ready for the queue's encoding.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Why a queue message cannot be scored.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum JobMessageError {
    /// No usable `jobId`: nowhere to write a result, so the message must go to the poison
    /// queue (the host retries it, then moves it there with its body intact).
    #[error("the message has no usable jobId: {0}")]
    NoJobId(String),
    /// The message names its job but its content is invalid: a permanent failure, recorded
    /// in the job's result so the caller sees why; retrying would not help.
    #[error("job {job_id}: {}", reason.message)]
    Invalid {
        /// The job.
        job_id: Uuid,
        /// What is wrong.
        reason: ErrorDetail,
    },
}

/// Just the job id of a message, every other value skipped unread (so numbers out of `f64`'s
/// range do not stop it).
#[derive(Deserialize)]
struct JobIdOnly {
    #[serde(rename = "jobId")]
    job_id: String,
}

/// Parses a queue message's text into a job whose rows are all valid. `rows_blob` is the
/// content of the message's `rowsBlob`, when it names one and it exists.
pub fn parse_message(
    text: &str,
    rows_blob: Option<&[u8]>,
) -> Result<(JobMessage, Vec<Row>), JobMessageError> {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(value) => value,
        // A message that names its job but cannot be read whole (a value such as `1e400` is
        // out of range) still ends in a `failed` result: only a message with no usable jobId
        // may go to the poison queue, since nothing else tells the caller the job is over.
        Err(e) => {
            return Err(match serde_json::from_str::<JobIdOnly>(text) {
                Ok(JobIdOnly { job_id }) => match Uuid::parse_str(&job_id) {
                    Ok(job_id) => JobMessageError::Invalid {
                        job_id,
                        reason: ErrorDetail {
                            code: "invalid_message".to_owned(),
                            message: format!("the message is not valid JSON: {e}"),
                        },
                    },
                    Err(_) => JobMessageError::NoJobId(format!("the message is not JSON ({e})")),
                },
                Err(_) => JobMessageError::NoJobId(format!("the message is not JSON ({e})")),
            });
        }
    };
    let job_id = value
        .get("jobId")
        .and_then(|v| v.as_str())
        .ok_or_else(|| JobMessageError::NoJobId("jobId is missing or not a string".into()))?;
    let job_id = Uuid::parse_str(job_id)
        .map_err(|e| JobMessageError::NoJobId(format!("jobId \"{job_id}\" is not a UUID ({e})")))?;
    let invalid = |code: &str, message: String| JobMessageError::Invalid {
        job_id,
        reason: ErrorDetail {
            code: code.to_owned(),
            message,
        },
    };
    let mut message: JobMessage = serde_json::from_value(value)
        .map_err(|e| invalid("invalid_message", format!("the message is malformed: {e}")))?;
    if let Some(path) = &message.rows_blob {
        let bytes = rows_blob.ok_or_else(|| {
            invalid(
                "rows_missing",
                format!("the job's rows blob {path} does not exist"),
            )
        })?;
        message.rows = serde_json::from_slice(bytes).map_err(|e| {
            invalid(
                "invalid_message",
                format!("the rows blob {path} is malformed: {e}"),
            )
        })?;
    }
    if message.features != FEATURES {
        return Err(invalid(
            "invalid_message",
            format!("features {:?} are not {:?}", message.features, FEATURES),
        ));
    }
    if message.rows.len() > MAX_JOB_ROWS {
        return Err(invalid(
            "too_many_rows",
            format!(
                "the job has {} rows, more than {MAX_JOB_ROWS}",
                message.rows.len()
            ),
        ));
    }
    let mut rows = Vec::with_capacity(message.rows.len());
    for (i, values) in message.rows.iter().enumerate() {
        let row = Row::new(*values).map_err(|(c, p)| {
            invalid(
                "invalid_value",
                format!("row {i}, column \"{}\": {} {p}", FEATURES[c], values[c]),
            )
        })?;
        rows.push(row);
    }
    Ok((message, rows))
}

/// The outcome of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Every row was scored.
    Succeeded,
    /// The job was invalid; see `error`.
    Failed,
}

/// The result document at [`result_path`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobResult {
    /// The job.
    pub job_id: Uuid,
    /// Outcome.
    pub status: JobStatus,
    /// The model that scored it.
    pub model_version: String,
    /// Rows scored.
    pub rows: usize,
    /// One price per row, in row order (empty when failed).
    pub predictions: Vec<f64>,
    /// Why the job failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
    /// When the job was submitted, copied from the message.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub submitted_at: Option<OffsetDateTime>,
    /// When scoring finished.
    #[serde(with = "time::serde::rfc3339")]
    pub completed_at: OffsetDateTime,
}

impl JobResult {
    /// The result document as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Scores a job message. `Err` only when the message has no usable job id (poison);
/// an invalid job yields a `failed` result, which is what should be written.
pub fn score(
    model: &Model,
    text: &str,
    rows_blob: Option<&[u8]>,
) -> Result<JobResult, JobMessageError> {
    let completed_at = OffsetDateTime::now_utc();
    match parse_message(text, rows_blob) {
        Ok((message, rows)) => Ok(JobResult {
            job_id: message.job_id,
            status: JobStatus::Succeeded,
            model_version: model.version().to_owned(),
            rows: rows.len(),
            predictions: model.predict_all(&rows),
            error: None,
            submitted_at: Some(message.submitted_at),
            completed_at,
        }),
        Err(JobMessageError::Invalid { job_id, reason }) => Ok(JobResult {
            job_id,
            status: JobStatus::Failed,
            model_version: model.version().to_owned(),
            rows: 0,
            predictions: Vec::new(),
            error: Some(reason),
            submitted_at: None,
            completed_at,
        }),
        Err(e) => Err(e),
    }
}

/// The API answer to a job submission.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobAccepted {
    /// The job's id.
    pub job_id: Uuid,
    /// Always `queued`.
    pub status: String,
    /// Where to poll for the result.
    pub status_url: String,
}

impl JobAccepted {
    /// The 202 body for a job, with its status under `base` (e.g. `/api/jobs`).
    pub fn new(job_id: Uuid, base: &str) -> JobAccepted {
        JobAccepted {
            job_id,
            status: "queued".into(),
            status_url: format!("{base}/{job_id}"),
        }
    }
}

/// Parses a job id from a URL path segment. Only a UUID in the hyphenated form the API
/// hands out is accepted (any case), so no path tricks can reach the result container and
/// each job has one address, not also `{...}`, `urn:uuid:...` or 32 bare digits.
pub fn parse_job_id(text: &str) -> Result<Uuid, ApiError> {
    parse_id("job", text)
}

/// A `kind` id ("job", "upload") from a URL: a hyphenated UUID, so it can only ever name the
/// one blob it stands for.
pub(crate) fn parse_id(kind: &str, text: &str) -> Result<Uuid, ApiError> {
    let hyphenated = text.len() == 36;
    Uuid::try_parse(text)
        .ok()
        .filter(|_| hyphenated)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{kind} id \"{}\" is not a UUID",
                crate::input::excerpt(text)
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_id_is_a_hyphenated_uuid_and_nothing_else() {
        let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert_eq!(parse_job_id(id).unwrap().to_string(), id);
        assert_eq!(parse_job_id(&id.to_uppercase()).unwrap().to_string(), id);
        for other in [
            "{0f8fad5b-d9cb-469f-a165-70867728950e}",
            "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
            "0f8fad5bd9cb469fa16570867728950e",
            "../results/x",
            "",
        ] {
            let e = parse_job_id(other).unwrap_err();
            assert_eq!(e.status(), 400, "{other}");
        }
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new([0.0, 6.575, 296.0, 15.3, 396.9, 4.98]).unwrap(),
            Row::new([1.0, 7.0, 250.0, 14.0, 390.0, 3.0]).unwrap(),
        ]
    }

    #[test]
    fn a_message_round_trips_and_scores() {
        let model = Model::embedded().unwrap();
        let msg = JobMessage::new(&rows());
        let result = score(&model, &msg.to_json(), None).unwrap();
        assert_eq!(result.job_id, msg.job_id);
        assert_eq!(result.status, JobStatus::Succeeded);
        assert_eq!(result.predictions, model.predict_all(&rows()));
        assert_eq!(result.submitted_at, Some(msg.submitted_at));
    }

    #[test]
    fn a_retry_with_the_same_key_and_body_is_the_same_job_and_nothing_else_is() {
        let body = br#"[{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}]"#;
        let json = Some("application/json");
        let first = job_id(Some("order-7"), json, body);
        assert_eq!(job_id(Some("order-7"), json, body), first);
        assert_ne!(job_id(Some("order-8"), json, body), first);
        assert_ne!(job_id(Some("order-7"), json, b"[]"), first);
        assert_ne!(job_id(Some("order-7"), Some("text/csv"), body), first);
        assert_ne!(job_id(None, json, body), job_id(None, json, body));
        // A job id is a UUID like any other (GET /jobs/{id} parses it).
        assert_eq!(parse_id("job", &first.to_string()).unwrap(), first);
    }

    #[test]
    fn an_idempotency_key_is_a_quoted_or_bare_string_of_visible_ascii() {
        assert_eq!(idempotency_key(None).unwrap(), None);
        assert_eq!(
            idempotency_key(Some(b"\"8e03978e-40d5-43e8-bc93-6894a57f9324\"")).unwrap(),
            Some("8e03978e-40d5-43e8-bc93-6894a57f9324".to_owned())
        );
        assert_eq!(
            idempotency_key(Some(b" order 7 ")).unwrap(),
            Some("order 7".to_owned())
        );
        let long = "k".repeat(256);
        for bad in [
            &b""[..],
            b"\"\"",
            b"caf\xC3\xA9",
            b"a\x01b",
            long.as_bytes(),
        ] {
            let e = idempotency_key(Some(bad)).unwrap_err();
            assert!(e.to_string().contains("Idempotency-Key"), "{e}");
            assert_eq!(e.status(), 400);
        }
    }

    #[test]
    fn an_invalid_job_fails_with_its_reason() {
        let model = Model::embedded().unwrap();
        let id = Uuid::new_v4();
        let text = format!(
            r#"{{"jobId":"{id}","submittedAt":"2026-01-01T00:00:00Z","features":["CHAS","RM","TAX","PTRATIO","B","LSTAT"],"rows":[[3,6,1,1,1,1]]}}"#
        );
        let result = score(&model, &text, None).unwrap();
        assert_eq!(result.status, JobStatus::Failed);
        let error = result.error.unwrap();
        assert_eq!(error.code, "invalid_value");
        assert!(
            error.message.contains("row 0, column \"CHAS\""),
            "{}",
            error.message
        );
        let text = format!(r#"{{"jobId":"{id}","rows":"nope"}}"#);
        assert_eq!(
            score(&model, &text, None).unwrap().status,
            JobStatus::Failed
        );
    }

    #[test]
    fn a_message_without_a_job_id_is_poison() {
        let model = Model::embedded().unwrap();
        for text in ["not json", "{}", r#"{"jobId":"../etc"}"#, r#"{"jobId":5}"#] {
            assert!(
                matches!(score(&model, text, None), Err(JobMessageError::NoJobId(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn large_jobs_keep_their_rows_in_a_blob_and_score_the_same() {
        let model = Model::embedded().unwrap();
        let small = JobPlan::new(&rows());
        assert!(matches!(small, JobPlan::Inline { .. }));
        let many: Vec<Row> = rows().into_iter().cycle().take(5_000).collect();
        let JobPlan::Blob {
            message,
            path,
            rows_json,
            ..
        } = JobPlan::new(&many)
        else {
            panic!("5,000 rows cannot fit in one queue message");
        };
        assert_eq!(path, input_path(&message.job_id));
        assert_eq!(message.row_count, 5_000);
        let text = message.to_json();
        assert!(text.len() < 1_000, "the message only points at the rows");
        let result = score(&model, &text, Some(&rows_json)).unwrap();
        assert_eq!(result.status, JobStatus::Succeeded);
        assert_eq!(result.predictions, model.predict_all(&many));
        let missing = score(&model, &text, None).unwrap();
        assert_eq!(missing.status, JobStatus::Failed);
        assert_eq!(missing.error.unwrap().code, "rows_missing");
    }

    #[test]
    fn a_message_that_names_its_job_but_holds_1e400_fails_the_job_instead_of_going_to_poison() {
        let model = Model::embedded().unwrap();
        let id = Uuid::new_v4();
        let text = format!(
            r#"{{"jobId":"{id}","submittedAt":"2024-05-13T09:21:40Z","features":["CHAS","RM","TAX","PTRATIO","B","LSTAT"],"rows":[[0,6.5,296,15.3,1e400,4.98]],"rowCount":1}}"#
        );
        let result = score(&model, &text, None).unwrap();
        assert_eq!(result.job_id, id);
        assert_eq!(result.status, JobStatus::Failed);
        let error = result.error.unwrap();
        assert_eq!(error.code, "invalid_message");
        assert!(
            error.message.contains("not valid JSON"),
            "{}",
            error.message
        );
        // Without a usable jobId it is still poison.
        let text = r#"{"jobId":"nope","rows":[[1e400]]}"#;
        assert!(matches!(
            score(&model, text, None),
            Err(JobMessageError::NoJobId(_))
        ));
    }

    #[test]
    fn job_ids_must_be_uuids() {
        assert!(parse_job_id("../../secret").is_err());
        let long = "x".repeat(60_000);
        let message = parse_job_id(&long).unwrap_err().to_string();
        assert!(
            message.len() < 200,
            "a bounded excerpt: {} bytes",
            message.len()
        );
        let id = Uuid::new_v4();
        assert_eq!(parse_job_id(&id.to_string()).unwrap(), id);
    }
}
