//! `POST /jobs` and `GET /jobs/{id}`: background prediction jobs. The web app only queues
//! them and reads their results back; the Functions app's `score-job` scores them. Both
//! routes answer exactly what the Functions app's `submit-job` and `job-status` answer,
//! apart from where the status lives (`/jobs/<id>` here, `/api/jobs/<id>` there).

use std::time::Instant;

use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use house_price::api::{self, ApiError, ErrorBody, Limits};
use house_price::jobs::{self, INPUTS_CONTAINER, JobAccepted, JobPlan, QUEUE, RESULTS_CONTAINER};
use storage::{MessageEncoding, Storage, StorageError, encode_message};

use super::{INLINE_BODY_BYTES, content_type, read_body};
use crate::errors::{self, HttpError};
use crate::openapi::{CSV_EXAMPLE, CsvJob, JobPending, JobRequest, JobResultDocument};
use crate::rate_limit::{RateLimiter, client_address};
use crate::state::AppState;

/// Where job statuses are served: the `statusUrl` and `Location` of an accepted job.
pub const JOBS_PATH: &str = "/jobs";

/// `POST /jobs`: validates a batch as `/predict` would (with the larger job limits) and
/// queues it for scoring. The body is read here, not by an extractor, because its limit is
/// the jobs' own and every failure must answer in the API's error format.
#[utoipa::path(
    post,
    path = "/jobs",
    tag = "jobs",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the client's name for this one submission (a UUID it makes), sent again unchanged with every retry of it, for instance after a 503 or a lost answer. The job id is derived from the key and the body, so a retry is the same job, scored once, and its answer names the same `jobId`; a different body under the same key is a different job. 1 to 255 printable ASCII characters, bare or as a quoted string. The Functions app's `submit-job` derives its id from the body as the host hands it over (a byte order mark dropped, UTF-16 decoded), so a retry is the same job on each app, and the same job on both for plain UTF-8 bodies. Without it, every request is a new job.",
            example = "8e03978e-40d5-43e8-bc93-6894a57f9324")
    ),
    request_body(
        description = "Houses to price in the background: the same JSON shapes and CSV as `POST /predict`, with room for many more rows.",
        content(
            (JobRequest = "application/json", example = json!([{"CHAS": 0, "RM": 6.575, "TAX": 296, "PTRATIO": 15.3, "B": 396.9, "LSTAT": 4.98}])),
            (CsvJob = "text/csv", example = json!(CSV_EXAMPLE))
        )
    ),
    responses(
        (status = 202, description = "The job is queued; poll `statusUrl` (also in `Location`) for its result", body = JobAccepted,
            headers(("Location" = String, description = "The job's status URL")),
            example = json!({"jobId": "3f1c1a4e-8b7d-4f7e-9a51-2d1f0c6b9e10", "status": "queued", "statusUrl": "/jobs/3f1c1a4e-8b7d-4f7e-9a51-2d1f0c6b9e10"})),
        (status = 400, description = "The body is not a valid batch, or it has no rows", body = ErrorBody,
            example = json!({"error": {"code": "bad_request", "message": "the batch has no rows"}})),
        (status = 413, description = "The body or the number of rows is over the job limits", body = ErrorBody,
            example = json!({"error": {"code": "body_too_large", "message": "the request body is larger than the limit of 16777216 bytes"}})),
        (status = 408, description = "The body did not arrive within `BODY_TIMEOUT_SECS` (20 s by default); the connection is closed after this answer", body = ErrorBody,
            example = json!({"error": {"code": "body_timeout", "message": "the request body did not arrive within 20 s: send it at once, or a smaller one"}})),
        (status = 415, description = "A content type other than JSON or CSV", body = ErrorBody,
            example = json!({"error": {"code": "unsupported_media_type", "message": "content type \"text/plain\" is not supported: send application/json or text/csv"}})),
        (status = 429, description = "This client (its address, as App Service's front end appends it to `X-Forwarded-For`) has used its allowance: `JOB_SUBMISSIONS_PER_MINUTE` or `JOB_STATUS_CHECKS_PER_MINUTE`", body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds until this client may send the next request")),
            example = json!({"error": {"code": "too_many_requests", "message": "this address has sent too many requests: try again in 2 s"}})),
        (status = 503, description = "No storage is configured for jobs, or it is not reachable or refused the request (the cause is in the server's log); `Retry-After` says when to try again", body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait before trying again")),
            example = json!({"error": {"code": "unavailable", "message": "background jobs need storage: set AzureWebJobsStorage (a connection string) or AzureWebJobsStorage__accountName"}}))
    )
)]
pub async fn submit_job(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    throttle(&state, state.submit_limit.as_ref(), &req)?;
    let key = jobs::idempotency_key(
        req.headers()
            .get(jobs::IDEMPOTENCY_KEY)
            .map(|v| v.as_bytes()),
    )?;
    let limits = state.job_limits;
    let body = read_body(&req, payload, limits.max_body_bytes, state.body_timeout).await?;
    let content_type = content_type(&req)?.map(str::to_owned);
    let plan = if body.len() <= INLINE_BODY_BYTES {
        plan_job(&limits, key.as_deref(), content_type.as_deref(), &body)?
    } else {
        web::block(move || plan_job(&limits, key.as_deref(), content_type.as_deref(), &body))
            .await
            .map_err(|_| ApiError::Internal)??
    };
    // A bad batch is the client's 400 whether or not storage is there.
    let storage = state
        .storage
        .as_ref()
        .ok_or_else(errors::jobs_unavailable)?;
    ensure_job_storage(&state, storage).await?;
    let (message, json) = match plan {
        JobPlan::Inline { message, json } => (message, json),
        JobPlan::Blob {
            message,
            json,
            path,
            rows_json,
        } => {
            // Written before the message is sent, so `score-job` always finds it.
            let put = || storage.put_blob_path(&path, rows_json.clone(), "application/json");
            healing(put, || storage.ensure_container(INPUTS_CONTAINER))
                .await
                .map_err(|e| errors::storage_failure("the job's rows could not be stored", &e))?;
            (message, json)
        }
    };
    healing(|| send(storage, &json), || storage.ensure_queue(QUEUE))
        .await
        .map_err(|e| errors::storage_failure("the job could not be queued", &e))?;
    log::info!(
        "job {} queued with {} rows",
        message.job_id,
        message.row_count
    );
    let accepted = JobAccepted::new(message.job_id, JOBS_PATH);
    Ok(HttpResponse::Accepted()
        .insert_header((LOCATION, accepted.status_url.clone()))
        .json(accepted))
}

/// `GET /jobs/{id}`: the job's result document as `score-job` stored it, or 404 while
/// there is none. Only a UUID is accepted as the id, so nothing but `results/<uuid>.json`
/// can ever be read.
#[utoipa::path(
    get,
    path = "/jobs/{id}",
    tag = "jobs",
    params(("id" = uuid::Uuid, Path, description = "The `jobId` of an accepted job; anything but a UUID is answered 400")),
    responses(
        (status = 200, description = "The job is done: its result document, as stored", body = JobResultDocument,
            example = json!({"jobId": "3f1c1a4e-8b7d-4f7e-9a51-2d1f0c6b9e10", "status": "succeeded", "modelVersion": "gbt-2024-01-01", "rows": 1, "predictions": [24.0], "submittedAt": "2026-01-01T12:00:00Z", "completedAt": "2026-01-01T12:00:01Z"})),
        (status = 400, description = "The id is not a UUID", body = ErrorBody,
            example = json!({"error": {"code": "bad_request", "message": "job id \"not-a-uuid\" is not a UUID"}})),
        (status = 404, description = "No result yet: the job is still queued or running, or there is no such job", body = JobPending,
            example = json!({"status": "pending-or-unknown"})),
        (status = 429, description = "This client (its address, as App Service's front end appends it to `X-Forwarded-For`) has used its allowance: `JOB_SUBMISSIONS_PER_MINUTE` or `JOB_STATUS_CHECKS_PER_MINUTE`", body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds until this client may send the next request")),
            example = json!({"error": {"code": "too_many_requests", "message": "this address has sent too many requests: try again in 2 s"}})),
        (status = 503, description = "No storage is configured for jobs, or it is not reachable or refused the request (the cause is in the server's log); `Retry-After` says when to try again", body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait before trying again")),
            example = json!({"error": {"code": "unavailable", "message": "background jobs need storage: set AzureWebJobsStorage (a connection string) or AzureWebJobsStorage__accountName"}}))
    )
)]
pub async fn job_status(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    throttle(&state, state.status_limit.as_ref(), &req)?;
    // A malformed id is the client's 400 whether or not storage is there.
    let id = jobs::parse_job_id(&id)?;
    let storage = state
        .storage
        .as_ref()
        .ok_or_else(errors::jobs_unavailable)?;
    let document = storage
        .get_blob_path(&jobs::result_path(&id))
        .await
        .map_err(|e| errors::storage_failure("the job's status could not be read", &e))?;
    // Never cached: a 404 turns into a 200 once the job is done.
    Ok(match document {
        Some(document) => HttpResponse::Ok()
            .content_type("application/json")
            .insert_header((CACHE_CONTROL, "no-store"))
            .body(document),
        None => HttpResponse::NotFound()
            .insert_header((CACHE_CONTROL, "no-store"))
            .json(JobPending::default()),
    })
}

/// Takes one request from the client's allowance under `limit`, before anything else is
/// done for it; over the limit is a 429 with `Retry-After`.
pub(super) fn throttle(
    state: &AppState,
    limit: Option<&RateLimiter>,
    req: &HttpRequest,
) -> Result<(), HttpError> {
    let (Some(limit), Some(client)) = (limit, client_address(req, state.forwarded_for_hops)) else {
        return Ok(());
    };
    limit.check(client, Instant::now()).map_err(|retry_after| {
        log::debug!("answering 429 to {client} on {}", req.path());
        HttpError(ApiError::TooManyRequests { retry_after })
    })
}

/// Parses and validates the batch exactly as `submit-job` does, and plans how it travels.
fn plan_job(
    limits: &Limits,
    key: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<JobPlan, ApiError> {
    let rows = api::parse_rows(limits, content_type, body)?;
    if rows.is_empty() {
        return Err(ApiError::BadRequest("the batch has no rows".into()));
    }
    Ok(JobPlan::with_id(
        &rows,
        jobs::job_id(key, content_type, body),
    ))
}

/// Creates the job queue and containers, once per process. A transient failure is the
/// client's 503 and is tried again on the next submission; any other failure (say, an
/// identity allowed to send but not to create) is logged and the submission goes on, since
/// the queue and containers usually exist already (the Bicep templates create them).
/// Runs `operation`; when storage says its queue or container is gone (Azurite restarted, or
/// someone deleted it), creates it with `recreate` and tries once more. The web app heals by
/// itself, as `submit-job` does, instead of failing until it is restarted.
async fn healing<T, Op, OpFut, Fix, FixFut>(operation: Op, recreate: Fix) -> Result<T, StorageError>
where
    Op: Fn() -> OpFut,
    OpFut: std::future::Future<Output = Result<T, StorageError>>,
    Fix: FnOnce() -> FixFut,
    FixFut: std::future::Future<Output = Result<(), StorageError>>,
{
    match operation().await {
        Err(e) if e.is_not_found() => {
            log::warn!("storage lost what the jobs need ({e}); creating it again");
            recreate().await?;
            operation().await
        }
        other => other,
    }
}

async fn ensure_job_storage(state: &AppState, storage: &Storage) -> Result<(), HttpError> {
    let result = state
        .jobs_ready
        .get_or_try_init(|| async {
            storage.ensure_queue(QUEUE).await?;
            storage.ensure_container(INPUTS_CONTAINER).await?;
            storage.ensure_container(RESULTS_CONTAINER).await?;
            Ok::<(), StorageError>(())
        })
        .await;
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.is_transient() => {
            Err(errors::storage_failure("the job could not be queued", &e))
        }
        Err(e) => {
            log::warn!("cannot create the job queue and containers; trying to queue anyway: {e}");
            Ok(())
        }
    }
}

/// Sends the plan's exact bytes, base64-encoded: the Functions queue trigger's default
/// `messageEncoding`, which rejects plain text.
async fn send(storage: &Storage, json: &str) -> Result<(), StorageError> {
    let wire = encode_message(json, MessageEncoding::Base64);
    storage.send_message(QUEUE, &wire).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = r#"{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}"#;

    fn limits() -> Limits {
        crate::configuration::DEFAULT_JOB_LIMITS
    }

    #[test]
    fn an_empty_batch_is_refused_like_submit_job_refuses_it() {
        for (content_type, body) in [
            ("application/json", "[]"),
            ("text/csv", "CHAS,RM,TAX,PTRATIO,B,LSTAT\n"),
        ] {
            let e = plan_job(&limits(), None, Some(content_type), body.as_bytes()).unwrap_err();
            assert_eq!(e, ApiError::BadRequest("the batch has no rows".into()));
        }
    }

    #[test]
    fn a_small_batch_travels_in_the_message_and_a_large_one_in_a_blob() {
        let plan = plan_job(&limits(), None, Some("application/json"), ROW.as_bytes()).unwrap();
        assert!(matches!(plan, JobPlan::Inline { ref message, .. } if message.row_count == 1));
        let many = format!("[{}]", vec![ROW; 5_000].join(","));
        let plan = plan_job(&limits(), None, Some("application/json"), many.as_bytes()).unwrap();
        let JobPlan::Blob { message, path, .. } = plan else {
            panic!("5,000 rows do not fit in one message");
        };
        assert_eq!(path, jobs::input_path(&message.job_id));
        assert_eq!(message.row_count, 5_000);
    }

    #[test]
    fn the_job_limits_apply() {
        let tight = Limits {
            max_body_bytes: 1 << 20,
            max_rows: 2,
        };
        let three = format!("[{ROW},{ROW},{ROW}]");
        let e = plan_job(&tight, None, Some("application/json"), three.as_bytes()).unwrap_err();
        assert_eq!(e.status(), 413);
    }
}
