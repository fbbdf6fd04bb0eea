//! `POST /predict`.

use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use house_price::api::{self, ApiError, ErrorBody, PredictResponse};

use super::{INLINE_BODY_BYTES, content_type, read_body};
use crate::errors::HttpError;
use crate::openapi::{CSV_EXAMPLE, CsvBatch, PredictRequest};
use crate::state::AppState;

/// `POST /predict`: the body is read here, not by an extractor, so every failure (size,
/// time, format) answers in the API's own error format.
#[utoipa::path(
    post,
    path = "/predict",
    tag = "predict",
    request_body(
        description = "Houses to price: JSON in one of three shapes (pandas `to_json()` columns, a list of records, or one record), or CSV with a header row naming the six features in any order.",
        content(
            (PredictRequest = "application/json", examples(
                ("pandas_columns" = (summary = "The original client's payload: pandas DataFrame.to_json() (columns keyed by row)",
                    value = json!({"CHAS": {"0": 0}, "RM": {"0": 6.575}, "TAX": {"0": 296.0}, "PTRATIO": {"0": 15.3}, "B": {"0": 396.9}, "LSTAT": {"0": 4.98}}))),
                ("records" = (summary = "A list of records, priced in order",
                    value = json!([{"CHAS": 0, "RM": 6.575, "TAX": 296, "PTRATIO": 15.3, "B": 396.9, "LSTAT": 4.98},
                                   {"CHAS": 1, "RM": 7.2, "TAX": 242, "PTRATIO": 17.8, "B": 390.0, "LSTAT": 5.5}]))),
                ("single_record" = (summary = "One house",
                    value = json!({"CHAS": 0, "RM": 6.575, "TAX": 296, "PTRATIO": 15.3, "B": 396.9, "LSTAT": 4.98})))
            )),
            (CsvBatch = "text/csv", example = json!(CSV_EXAMPLE))
        )
    ),
    responses(
        (status = 200, description = "One predicted median value (MEDV, in $1000s) per row, in row order; CSV in gets the same CSV back with a `prediction` column",
            content(
                (PredictResponse = "application/json", example = json!({"prediction": [24.0]})),
                (String = "text/csv", example = json!("CHAS,RM,TAX,PTRATIO,B,LSTAT,prediction\n0,6.575,296,15.3,396.9,4.98,24.0\n"))
            )),
        (status = 400, description = "The body is not a valid batch; the message names the row and column at fault", body = ErrorBody,
            example = json!({"error": {"code": "missing_feature", "message": "row 0 has no \"LSTAT\": every row needs all of CHAS, RM, TAX, PTRATIO, B, LSTAT"}})),
        (status = 413, description = "The body or the number of rows is over the limit", body = ErrorBody,
            example = json!({"error": {"code": "body_too_large", "message": "the request body is larger than the limit of 1048576 bytes"}})),
        (status = 408, description = "The body did not arrive within `BODY_TIMEOUT_SECS` (20 s by default); the connection is closed after this answer", body = ErrorBody,
            example = json!({"error": {"code": "body_timeout", "message": "the request body did not arrive within 20 s: send it at once, or a smaller one"}})),
        (status = 415, description = "A content type other than JSON or CSV", body = ErrorBody,
            example = json!({"error": {"code": "unsupported_media_type", "message": "content type \"text/plain\" is not supported: send application/json or text/csv"}}))
    )
)]
pub async fn predict(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    let body = read_body(
        &req,
        payload,
        state.limits.max_body_bytes,
        state.body_timeout,
    )
    .await?;
    let content_type = content_type(&req)?;
    let reply = if body.len() <= INLINE_BODY_BYTES {
        api::predict(&state.model, &state.limits, content_type, &body)?
    } else {
        let content_type = content_type.map(str::to_owned);
        let state = state.clone();
        web::block(move || {
            api::predict(&state.model, &state.limits, content_type.as_deref(), &body)
        })
        .await
        .map_err(|_| ApiError::Internal)??
    };
    Ok(HttpResponse::Ok()
        // Static: `content_type` would copy the name into a new header value per request.
        .insert_header((CONTENT_TYPE, HeaderValue::from_static(reply.content_type)))
        .body(reply.body))
}
