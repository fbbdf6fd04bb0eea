//! The route table and its thin handlers.

pub mod health;
pub mod jobs;
pub mod openapi;
pub mod page;
pub mod predict;
pub mod uploads;

use std::time::Duration;

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, Route, web};
use house_price::api::ApiError;
use serve::body::BodyError;

pub use health::HealthResponse;

use crate::errors::{self, HttpError};

/// Bodies up to this size are parsed and scored on the worker thread: it takes
/// microseconds. Larger ones go to the blocking pool so one big batch does not stall the
/// other connections.
const INLINE_BODY_BYTES: usize = 64 * 1024;

/// Registers every route; the server and the tests both build the app through this.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/predict")
            .route(web::post().to(predict::predict))
            .default_service(only("POST")),
    )
    .service(
        web::resource("/jobs")
            .route(web::post().to(jobs::submit_job))
            .default_service(only("POST")),
    )
    .service(
        web::resource("/jobs/{id}")
            .route(web::get().to(jobs::job_status))
            .default_service(only("GET")),
    )
    .service(
        web::resource("/uploads")
            .route(web::post().to(uploads::upload))
            .default_service(only("POST")),
    )
    .service(
        web::resource("/uploads/{id}")
            .route(web::get().to(uploads::upload_status))
            .default_service(only("GET")),
    )
    .service(
        web::resource("/uploads/{id}/result.csv")
            .route(web::get().to(uploads::upload_result))
            .default_service(only("GET")),
    )
    .service(
        web::resource("/health")
            .route(web::get().to(health::health))
            .default_service(only("GET")),
    )
    .service(
        web::resource("/openapi.json")
            .route(web::get().to(openapi::openapi_json))
            .default_service(only("GET")),
    )
    .service(
        web::resource("/")
            .route(web::get().to(page::index))
            .default_service(only("GET")),
    )
    .service(
        web::resource("/static/app.js")
            .route(web::get().to(page::app_js))
            .default_service(only("GET")),
    )
    .service(
        web::resource("/static/style.css")
            .route(web::get().to(page::style_css))
            .default_service(only("GET")),
    );
}

/// A resource's answer to any other method: a JSON 405 naming the one it takes.
fn only(allow: &'static str) -> Route {
    web::to(move |req: HttpRequest| async move {
        errors::method_not_allowed(req.method(), req.path(), allow)
    })
}

/// The request's `Content-Type`, if any; one that is not even text is refused as unsupported.
fn content_type(req: &HttpRequest) -> Result<Option<&str>, ApiError> {
    match req.headers().get(CONTENT_TYPE) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| ApiError::UnsupportedMediaType {
                given: house_price::input::excerpt(&String::from_utf8_lossy(v.as_bytes())),
                accepted: house_price::api::Format::ACCEPTED,
            }),
    }
}

/// A body whose `Content-Length` is over `limit` is a 413 before any of it is read.
fn check_declared_length(req: &HttpRequest, limit: usize) -> Result<(), HttpError> {
    match serve::body::declared_length(req.headers()) {
        Some(n) if n > limit as u64 => Err(HttpError(ApiError::BodyTooLarge { limit })),
        _ => Ok(()),
    }
}

/// Reads the whole body of a route that takes one: more than `limit` bytes is a 413, up
/// front when `Content-Length` says so, otherwise as soon as the stream passes it; a body
/// still incomplete after `timeout` is a 408, after which actix closes the connection, since
/// the rest of the body was never read.
async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    timeout: Duration,
) -> Result<web::Bytes, HttpError> {
    serve::body::read(req.headers(), payload, limit, timeout)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => HttpError(ApiError::BodyTooLarge { limit }),
            BodyError::Unreadable(e) => errors::payload_error(&e.into(), limit),
            BodyError::TimedOut => HttpError(ApiError::BodyTimeout {
                seconds: timeout.as_secs(),
            }),
        })
}
