//! Every error becomes an HTTP response here, and only here, so all of them answer the
//! same `{"error":{"code","message"}}` body that `house_price::api` defines.

use std::fmt;

use std::future::{Ready, ready};

use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::error::PayloadError;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use futures_util::future::{Either, MapOk, TryFutureExt};
use house_price::api::{ApiError, ErrorBody, ErrorDetail};
use storage::StorageError;

use crate::configuration::STORAGE_PREFIX;

/// An [`ApiError`] on its way to the client.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        HttpError(e)
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            // The body stays opaque; the log keeps what happened.
            log::error!("answering {status}: {:?}", self.0);
        }
        let mut response = HttpResponse::build(status);
        if let Some(seconds) = self.0.retry_after() {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response
            .content_type("application/json")
            .body(self.0.to_json())
    }
}

/// Middleware: refuses a request whose `Content-Encoding` is anything but `identity`, before
/// its body is read; one rule for every route (`house_price::api::check_content_encoding`).
/// A `Transform` rather than `from_fn`, which boxes two futures per request.
#[derive(Clone, Copy, Debug, Default)]
pub struct RefuseEncoded;

impl<S, B> Transform<S, ServiceRequest> for RefuseEncoded
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = RefuseEncodedService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RefuseEncodedService { service }))
    }
}

/// [`RefuseEncoded`] around one worker's app.
#[derive(Debug)]
pub struct RefuseEncodedService<S> {
    service: S,
}

type Answered<B> = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

impl<S, B> Service<ServiceRequest> for RefuseEncodedService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Either<
        MapOk<S::Future, fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>>>,
        Ready<Answered<B>>,
    >;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let header = req
            .headers()
            .get(header::CONTENT_ENCODING)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        match house_price::api::check_content_encoding(header.as_deref()) {
            Ok(()) => Either::Left(
                self.service
                    .call(req)
                    .map_ok(ServiceResponse::map_into_left_body as fn(_) -> _),
            ),
            Err(e) => Either::Right(ready(Ok(req
                .into_response(HttpError(e).error_response())
                .map_into_right_body()))),
        }
    }
}

/// Maps a failure to read the request body (from the `Bytes` extractor, which applies
/// `web::PayloadConfig`) to the API's errors, instead of actix's plain-text answers.
pub fn payload_error(err: &actix_web::Error, max_body_bytes: usize) -> HttpError {
    // Our own sentences: actix's texts carry debug output (`Some(Custom { kind: … })`).
    let why = match err.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => {
            return ApiError::BodyTooLarge {
                limit: max_body_bytes,
            }
            .into();
        }
        Some(PayloadError::Incomplete(_)) => "it ended before it was complete",
        Some(PayloadError::EncodingCorrupted) => "its encoding is corrupt",
        Some(PayloadError::UnknownLength) => "its length is unknown",
        _ => "the connection failed",
    };
    log::debug!("unreadable request body: {err}");
    ApiError::BadRequest(format!("the request body could not be read: {why}")).into()
}

/// The answer of every `/jobs` route when no storage is configured.
pub fn jobs_unavailable() -> HttpError {
    ApiError::Unavailable(format!(
        "background jobs need storage: set {STORAGE_PREFIX} (a connection string) or {STORAGE_PREFIX}__accountName"
    ))
    .into()
}

/// Maps a storage failure; `what` says what it prevented ("the job could not be
/// queued"). Every one is a 503 with `Retry-After`, never a 500: the request was fine, storage
/// was not. The cause goes to the log only, since it names the account and its endpoints.
pub fn storage_failure(what: &str, e: &StorageError) -> HttpError {
    if e.is_transient() {
        log::warn!("answering 503: {what}: {e}");
    } else {
        log::error!("answering 503: {what}: {e}");
    }
    ApiError::storage(what, e.is_transient()).into()
}

/// The answer for a path that no route serves.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    HttpError(ApiError::NotFound(format!(
        "there is nothing at {}: see /openapi.json for the API",
        req.path()
    )))
    .error_response()
}

/// The answer for a served path asked with a method it does not take; `allow` lists the
/// methods it does take, for the `Allow` header the status requires.
pub fn method_not_allowed(method: &Method, path: &str, allow: &str) -> HttpResponse {
    let body = ErrorBody {
        error: ErrorDetail {
            code: "method_not_allowed".to_owned(),
            message: format!("{method} is not allowed on {path}: use {allow}"),
        },
    };
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, allow))
        .json(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn api_errors_keep_their_status_and_json_body() {
        let e = HttpError(ApiError::UnsupportedMediaType {
            given: "text/plain".into(),
            accepted: house_price::api::Format::ACCEPTED,
        });
        let response = e.error_response();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let body = to_bytes(response.into_body()).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "unsupported_media_type");
    }

    #[test]
    fn a_payload_overflow_is_body_too_large() {
        let err: actix_web::Error = PayloadError::Overflow.into();
        let e = payload_error(&err, 42);
        assert_eq!(e.0, ApiError::BodyTooLarge { limit: 42 });
        let err: actix_web::Error = PayloadError::Incomplete(None).into();
        assert_eq!(payload_error(&err, 42).0.status(), 400);
        // No debug text reaches the client.
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        );
        let err: actix_web::Error = PayloadError::Incomplete(Some(io)).into();
        let message = payload_error(&err, 42).0.to_string();
        assert_eq!(
            message,
            "the request body could not be read: it ended before it was complete"
        );
    }

    #[test]
    fn every_storage_failure_is_a_503_with_retry_after_that_names_no_endpoint() {
        let unreachable = StorageError::Unreachable {
            operation: "send a message".into(),
            detail: "connection refused by 10.0.0.1".into(),
        };
        let e = storage_failure("the job could not be queued", &unreachable);
        assert_eq!(e.0.status(), 503);
        assert!(!e.0.to_string().contains("10.0.0.1"), "{e}");
        let forbidden = StorageError::Service {
            operation: "send a message".into(),
            status: 403,
            code: Some("AuthorizationFailure".into()),
            message: "denied".into(),
        };
        let e = storage_failure("the job could not be queued", &forbidden);
        assert_eq!(e.0.status(), 503);
        assert!(!e.0.to_string().contains("denied"), "{e}");
        let response = e.error_response();
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "5");
        assert_eq!(jobs_unavailable().0.status(), 503);
    }

    #[test]
    fn internal_errors_stay_opaque() {
        let response = HttpError(ApiError::Internal).error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
