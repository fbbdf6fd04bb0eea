//! `POST /uploads`, `GET /uploads/{id}` and `GET /uploads/{id}/result.csv`: a CSV file of any
//! size up to `MAX_UPLOAD_BYTES`, scored in the background by the Functions app's
//! `score-upload`. The body is streamed into blob storage in 4 MiB blocks as it arrives, so
//! the web app never holds more than a block of it, and it is committed only once it has all
//! arrived: an upload cut short leaves nothing.

use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use house_price::api::{ApiError, ErrorBody, Format};
use house_price::jobs::RESULTS_CONTAINER;
use house_price::uploads::{self, CONTAINER};
use serde::Serialize;
use storage::{BlockWriter, Storage};
use utoipa::ToSchema;
use uuid::Uuid;

use super::content_type;
use crate::errors::{self, HttpError};
use crate::state::AppState;

/// Where uploads are served.
pub const UPLOADS_PATH: &str = "/uploads";
/// Bytes sent to storage as one block.
const BLOCK_BYTES: usize = 4 << 20;

/// The answer to an accepted upload.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadAccepted {
    /// The upload's id.
    pub upload_id: Uuid,
    /// Where the file is stored: `uploads/<uploadId>.csv`.
    pub blob_name: String,
    /// Always `uploaded`.
    pub status: &'static str,
    /// Where to poll for the result.
    pub status_url: String,
}

/// Where an upload is.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadStatus {
    /// `pending` (not scored yet), `succeeded` or `failed`.
    pub status: &'static str,
    /// When succeeded: the scored CSV, with a `prediction` column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_url: Option<String>,
    /// When failed: why, naming the line and column at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<house_price::api::ErrorDetail>,
}

/// `POST /uploads`: stores a CSV file for `score-upload` to score.
#[utoipa::path(
    post,
    path = "/uploads",
    tag = "uploads",
    request_body(
        description = "A CSV file with the header row of `POST /predict`'s CSV form, up to `MAX_UPLOAD_BYTES` (256 MiB by default); it is scored in the background into a CSV with a `prediction` column.",
        content((String = "text/csv", example = json!(crate::openapi::CSV_EXAMPLE)))
    ),
    responses(
        (status = 202, description = "The file is stored; poll `statusUrl` (also in `Location`)", body = UploadAccepted,
            headers(("Location" = String, description = "The upload's status URL"))),
        (status = 400, description = "The first line is not the header row naming the six features (the rows are checked when the file is scored)", body = ErrorBody),
        (status = 408, description = "The body stopped arriving for `BODY_TIMEOUT_SECS`; nothing was stored", body = ErrorBody),
        (status = 413, description = "The file is larger than `MAX_UPLOAD_BYTES`; nothing was stored", body = ErrorBody),
        (status = 415, description = "A content type other than `text/csv`", body = ErrorBody),
        (status = 429, description = "This client has used its allowance of `JOB_SUBMISSIONS_PER_MINUTE`", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds until this client may send the next request"))),
        (status = 503, description = "No storage is configured, or it is not reachable; `Retry-After` says when to try again", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before trying again")))
    )
)]
pub async fn upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    super::jobs::throttle(&state, state.submit_limit.as_ref(), &req)?;
    let limit = state.max_upload_bytes;
    // A file to score is CSV; the type is read as `/predict` reads it, but must be there.
    let given = content_type(&req)?;
    if given
        .map(|t| Format::from_content_type(Some(t)))
        .transpose()?
        != Some(Format::Csv)
    {
        let given = house_price::input::excerpt(given.unwrap_or("none"));
        return Err(ApiError::UnsupportedMediaType {
            given,
            accepted: "text/csv",
        }
        .into());
    }
    super::check_declared_length(&req, limit)?;
    let storage = state
        .storage
        .as_ref()
        .ok_or_else(errors::jobs_unavailable)?;
    storage
        .ensure_container(CONTAINER)
        .await
        .map_err(|e| errors::storage_failure("the upload could not be stored", &e))?;
    let id = Uuid::new_v4();
    let name = uploads::upload_name(&id);
    let writer = storage
        .block_writer(CONTAINER, &name)
        .map_err(|e| errors::storage_failure("the upload could not be stored", &e))?;
    let bytes = receive(writer, &mut payload, limit, state.body_timeout).await?;
    log::info!("upload {id}: {bytes} bytes stored as {CONTAINER}/{name}");
    let status_url = format!("{UPLOADS_PATH}/{id}");
    Ok(HttpResponse::Accepted()
        .insert_header((LOCATION, status_url.clone()))
        .json(UploadAccepted {
            upload_id: id,
            blob_name: format!("{CONTAINER}/{name}"),
            status: "uploaded",
            status_url,
        }))
}

/// Streams the body into `writer` and commits it; the number of bytes. Each chunk must arrive
/// within `idle` of the previous one, so a slow but steady upload of a big file goes through
/// while a stalled one does not hold the connection.
async fn receive(
    mut writer: BlockWriter,
    payload: &mut web::Payload,
    limit: usize,
    idle: std::time::Duration,
) -> Result<usize, HttpError> {
    let stored = |e| errors::storage_failure("the upload could not be stored", &e);
    let mut block = Vec::with_capacity(BLOCK_BYTES);
    let mut total = 0usize;
    let mut header_checked = false;
    loop {
        let chunk = match tokio::time::timeout(idle, payload.next()).await {
            Err(_) => {
                return Err(ApiError::BodyTimeout {
                    seconds: idle.as_secs(),
                }
                .into());
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(errors::payload_error(&e.into(), limit)),
            Ok(Some(Ok(chunk))) => chunk,
        };
        total += chunk.len();
        if total > limit {
            return Err(ApiError::BodyTooLarge { limit }.into());
        }
        let before = block.len();
        block.extend_from_slice(&chunk);
        // Only the new bytes are searched: a long first line is not scanned again per chunk.
        if !header_checked && let Some(at) = chunk.iter().position(|&b| b == b'\n') {
            // The line break's whole code unit (UTF-16 and UTF-32 take more than its byte).
            check_header(&block[..(before + at + 4).min(block.len())])?;
            header_checked = true;
        }
        if block.len() >= BLOCK_BYTES {
            if !header_checked {
                return Err(ApiError::BadRequest(
                    "the first 4 MiB hold no line break: the file must start with the header row"
                        .into(),
                )
                .into());
            }
            let full = std::mem::replace(&mut block, Vec::with_capacity(BLOCK_BYTES));
            writer.stage(full.into()).await.map_err(stored)?;
        }
    }
    if !header_checked {
        check_header(&block)?;
    }
    if !block.is_empty() {
        writer.stage(block.into()).await.map_err(stored)?;
    }
    writer
        .commit("text/csv", Default::default())
        .await
        .map_err(stored)?;
    Ok(total)
}

/// Refuses a file at once when its first line is not the header row `score-upload` needs;
/// the rows are checked when it is scored.
fn check_header(first_line: &[u8]) -> Result<(), ApiError> {
    house_price::input::check_csv_header(first_line).map_err(ApiError::Input)
}

/// `GET /uploads/{id}`: whether the file is scored yet.
#[utoipa::path(
    get,
    path = "/uploads/{id}",
    tag = "uploads",
    params(("id" = uuid::Uuid, Path, description = "The `uploadId` of an accepted upload")),
    responses(
        (status = 200, description = "`pending` until scored, then `succeeded` with `resultUrl` or `failed` with the error", body = UploadStatus,
            example = json!({"status": "succeeded", "resultUrl": "/uploads/3f1c1a4e-8b7d-4f7e-9a51-2d1f0c6b9e10/result.csv"})),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "There is no such upload", body = ErrorBody),
        (status = 429, description = "This client has used its allowance of `JOB_STATUS_CHECKS_PER_MINUTE`", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds until this client may send the next request"))),
        (status = 503, description = "No storage is configured, or it is not reachable", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before trying again")))
    )
)]
pub async fn upload_status(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let (id, storage) = lookup(&state, &req, &id)?;
    let status = status_of(storage, &id)
        .await
        .map_err(|e| errors::storage_failure("the upload's status could not be read", &e))?
        .ok_or_else(|| ApiError::NotFound(format!("there is no upload {id}")))?;
    // Never cached: pending turns into succeeded.
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(status))
}

/// What both read routes do first: the client's allowance, then the id (a bad one is the
/// client's 400 with or without storage), then storage.
fn lookup<'a>(
    state: &'a AppState,
    req: &HttpRequest,
    id: &str,
) -> Result<(Uuid, &'a Storage), HttpError> {
    super::jobs::throttle(state, state.status_limit.as_ref(), req)?;
    let id = uploads::parse_upload_id(id)?;
    let storage = state
        .storage
        .as_ref()
        .ok_or_else(errors::jobs_unavailable)?;
    Ok((id, storage))
}

/// The upload's status; `None` when there is no such upload.
async fn status_of(
    storage: &Storage,
    id: &Uuid,
) -> Result<Option<UploadStatus>, storage::StorageError> {
    let name = uploads::upload_name(id);
    if storage
        .blob_properties(RESULTS_CONTAINER, &uploads::result_name(&name))
        .await?
        .is_some()
    {
        return Ok(Some(UploadStatus {
            status: "succeeded",
            result_url: Some(format!("{UPLOADS_PATH}/{id}/result.csv")),
            error: None,
        }));
    }
    if let Some(document) = storage
        .get_blob(RESULTS_CONTAINER, &uploads::error_name(&name))
        .await?
    {
        let error = serde_json::from_slice::<ErrorBody>(&document)
            .map(|body| body.error)
            .ok();
        return Ok(Some(UploadStatus {
            status: "failed",
            result_url: None,
            error,
        }));
    }
    let exists = storage.blob_properties(CONTAINER, &name).await?.is_some();
    Ok(exists.then_some(UploadStatus {
        status: "pending",
        result_url: None,
        error: None,
    }))
}

/// `GET /uploads/{id}/result.csv`: the scored file.
#[utoipa::path(
    get,
    path = "/uploads/{id}/result.csv",
    tag = "uploads",
    params(("id" = uuid::Uuid, Path, description = "The `uploadId` of a scored upload")),
    responses(
        (status = 200, description = "The uploaded CSV with a `prediction` column", content_type = "text/csv", body = String),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No result (yet) for this upload", body = ErrorBody),
        (status = 429, description = "This client has used its allowance of `JOB_STATUS_CHECKS_PER_MINUTE`", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds until this client may send the next request"))),
        (status = 503, description = "No storage is configured, or it is not reachable", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before trying again")))
    )
)]
pub async fn upload_result(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let (id, storage) = lookup(&state, &req, &id)?;
    let name = uploads::result_name(&uploads::upload_name(&id));
    let reader = storage
        .open_blob(RESULTS_CONTAINER, &name)
        .await
        .map_err(|e| errors::storage_failure("the upload's result could not be read", &e))?
        .ok_or_else(|| ApiError::NotFound(format!("upload {id} has no result yet")))?;
    // Streamed through as storage sends it: a 1 GiB result never sits in memory.
    let body = futures_util::stream::unfold(reader, |mut reader| async move {
        match reader.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok::<_, std::io::Error>(chunk), reader)),
            Ok(None) => None,
            Err(e) => {
                log::error!("streaming an upload's result: {e}");
                Some((Err(std::io::Error::other("storage failed")), reader))
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{id}.csv\""),
        ))
        .streaming(body))
}
