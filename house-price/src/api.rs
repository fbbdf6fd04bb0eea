//! The prediction API contract, independent of any web framework: content types, limits,
//! the success body and the error body with its status code. The web app and the
//! Functions handler both call [`predict`], so they accept and refuse exactly the same input.

use serde::{Deserialize, Serialize};

use crate::input::{self, InputError};
use crate::model::Model;

/// Size limits, configurable per deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Most rows in one request.
    pub max_rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1 << 20,
            max_rows: 10_000,
        }
    }
}

/// The body formats `/predict` speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON in, `{"prediction": [...]}` out.
    Json,
    /// CSV in, the same CSV with a `prediction` column out.
    Csv,
}

impl Format {
    /// The content types a body may have, as an error message names them.
    pub const ACCEPTED: &'static str = "application/json or text/csv";

    /// Picks the format from a `Content-Type` header value. A missing header means JSON,
    /// as old clients sometimes omit it; anything else that is not JSON or CSV is refused.
    pub fn from_content_type(content_type: Option<&str>) -> Result<Format, ApiError> {
        let Some(raw) = content_type else {
            return Ok(Format::Json);
        };
        let essence = raw.split(';').next().unwrap_or("").trim();
        let is = |names: [&str; 2]| names.iter().any(|n| essence.eq_ignore_ascii_case(n));
        if is(["application/json", "text/json"]) {
            Ok(Format::Json)
        } else if is(["text/csv", "application/csv"]) {
            Ok(Format::Csv)
        } else {
            Err(ApiError::UnsupportedMediaType {
                given: crate::input::excerpt(raw),
                accepted: Format::ACCEPTED,
            })
        }
    }

    /// The content type of the answer.
    pub fn response_content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// The JSON answer of `/predict`: one price (MEDV, $1000s) per row, in row order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PredictResponse {
    /// Predicted median home values in $1000s, one per input row.
    pub prediction: Vec<f64>,
}

/// What a 503 tells clients to wait before trying again, in seconds (`Retry-After`).
pub const RETRY_AFTER_SECS: u32 = 5;

/// Every API error, so both apps map errors to statuses in this one place.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// The body does not hold a valid batch.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The body is larger than [`Limits::max_body_bytes`].
    #[error("the request body is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body did not arrive in time; the connection is closed after the answer.
    #[error(
        "the request body did not arrive within {seconds} s: send it at once, or a smaller one"
    )]
    BodyTimeout {
        /// The time allowed, in seconds.
        seconds: u64,
    },
    /// The client has sent more requests than its limit allows; `Retry-After` says when it
    /// may send the next.
    #[error("this address has sent too many requests: try again in {retry_after} s")]
    TooManyRequests {
        /// Seconds until the next request is allowed.
        retry_after: u64,
    },
    /// A content type the route does not take.
    #[error("content type \"{given}\" is not supported: send {accepted}")]
    UnsupportedMediaType {
        /// The type as given (an excerpt).
        given: String,
        /// What the route takes, as people say it: `application/json or text/csv`.
        accepted: &'static str,
    },
    /// A `Content-Encoding` other than `identity`: compressed bodies are refused on every
    /// route, since decoding one could hold far more than the body limit in memory.
    #[error("Content-Encoding \"{0}\" is not accepted: send the body uncompressed")]
    UnsupportedEncoding(String),
    /// A path parameter or other request part that is not valid.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing at this address.
    #[error("{0}")]
    NotFound(String),
    /// A dependency (storage) is not configured or not reachable.
    #[error("{0}")]
    Unavailable(String),
    /// Something failed on our side; the message is kept out of the body.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// A storage failure that stopped `what` ("the job could not be queued"): always a 503,
    /// since the request was fine and storage was not. `transient` says whether trying again
    /// shortly may help. The cause stays out of the message: it names the account.
    pub fn storage(what: &str, transient: bool) -> ApiError {
        ApiError::Unavailable(if transient {
            format!("storage is not reachable right now, so {what}: try again shortly")
        } else {
            format!("storage refused the request, so {what}: try again later")
        })
    }

    /// The `Retry-After` seconds this error's answer carries, if any.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Unavailable(_) => Some(u64::from(RETRY_AFTER_SECS)),
            ApiError::TooManyRequests { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Input(InputError::TooManyRows { .. }) | ApiError::BodyTooLarge { .. } => 413,
            ApiError::UnsupportedMediaType { .. }
            | ApiError::UnsupportedEncoding(_)
            | ApiError::Input(InputError::Compressed(_)) => 415,
            ApiError::Input(_) | ApiError::BadRequest(_) => 400,
            ApiError::BodyTimeout { .. } => 408,
            ApiError::TooManyRequests { .. } => 429,
            ApiError::NotFound(_) => 404,
            ApiError::Unavailable(_) => 503,
            ApiError::Internal => 500,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Input(e) => e.code(),
            ApiError::BodyTooLarge { .. } => "body_too_large",
            ApiError::BodyTimeout { .. } => "body_timeout",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::UnsupportedMediaType { .. } => "unsupported_media_type",
            ApiError::UnsupportedEncoding(_) => "unsupported_encoding",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::NotFound(_) => "not_found",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal => "internal",
        }
    }

    /// The `{"error":{"code","message"}}` body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
            },
        }
    }

    /// The error body as JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body()).unwrap_or_default()
    }
}

/// The one rule for `Content-Encoding`, on every route of both apps: none, or only `identity`.
/// Anything else, a known compression or not, is refused before the body is read; the
/// refusal names at most 64 characters of the header.
pub fn check_content_encoding(header: Option<&str>) -> Result<(), ApiError> {
    let Some(value) = header else {
        return Ok(());
    };
    let identity = value
        .split(',')
        .map(str::trim)
        .all(|coding| coding.is_empty() || coding.eq_ignore_ascii_case("identity"));
    if identity {
        Ok(())
    } else {
        Err(ApiError::UnsupportedEncoding(
            value.chars().take(64).collect(),
        ))
    }
}

/// The error body every API answers with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable code, e.g. `missing_feature`.
    pub code: String,
    /// One sentence naming the row and column at fault, where there is one.
    pub message: String,
}

/// A successful answer: its content type and bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// The `Content-Type` to send.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

/// Parses a body of the given content type into rows, enforcing `limits`.
pub fn parse_rows(
    limits: &Limits,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<crate::Row>, ApiError> {
    if body.len() > limits.max_body_bytes {
        return Err(ApiError::BodyTooLarge {
            limit: limits.max_body_bytes,
        });
    }
    Ok(match Format::from_content_type(content_type)? {
        Format::Json => input::parse_json(body, limits.max_rows)?,
        Format::Csv => input::parse_csv(body, limits.max_rows)?.rows().to_vec(),
    })
}

/// Answers of this many prices or more are written in two halves at once.
const PARALLEL_RENDER: usize = 4096;

/// The JSON answer for `prediction`: exactly serde_json's bytes for a [`PredictResponse`],
/// a large one written in two halves on two cores (see [`crate::parallel`]).
fn render_json(prediction: &[f64]) -> Result<Vec<u8>, ApiError> {
    /// serde_json's writing of a list of numbers, without its brackets.
    fn numbers(values: &[f64], out: &mut Vec<u8>) -> Result<(), ApiError> {
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut *out, v).map_err(|_| ApiError::Internal)?;
        }
        Ok(())
    }
    const HEAD: &[u8] = br#"{"prediction":["#;
    // About 18 bytes a price: a shortest float and a comma.
    let mut out = Vec::with_capacity(HEAD.len() + 2 + prediction.len() * 20);
    out.extend_from_slice(HEAD);
    if prediction.len() < PARALLEL_RENDER {
        numbers(prediction, &mut out)?;
    } else {
        let (first, second) = prediction.split_at(prediction.len() / 2);
        let mut tail = Vec::with_capacity(second.len() * 20);
        let (a, b) =
            crate::parallel::join(|| numbers(first, &mut out), || numbers(second, &mut tail));
        a.and(b)?;
        out.push(b',');
        out.extend_from_slice(&tail);
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

/// `POST /predict`: body in, prices out, in the format the body came in.
pub fn predict(
    model: &Model,
    limits: &Limits,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Reply, ApiError> {
    if body.len() > limits.max_body_bytes {
        return Err(ApiError::BodyTooLarge {
            limit: limits.max_body_bytes,
        });
    }
    let format = Format::from_content_type(content_type)?;
    let body = match format {
        Format::Json => {
            let rows = input::parse_json(body, limits.max_rows)?;
            let prediction = model.predict_all(&rows);
            render_json(&prediction)?
        }
        Format::Csv => {
            let table = input::parse_csv(body, limits.max_rows)?;
            let prediction = model.predict_all(table.rows());
            table.render_with_predictions(&prediction)
        }
    };
    Ok(Reply {
        content_type: format.response_content_type(),
        body,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_identity_content_encoding_is_accepted() {
        assert!(check_content_encoding(None).is_ok());
        assert!(check_content_encoding(Some("identity")).is_ok());
        assert!(check_content_encoding(Some(" Identity ")).is_ok());
        for coding in ["gzip", "br", "deflate", "zstd", "x-bomb", "identity, gzip"] {
            let e = check_content_encoding(Some(coding)).unwrap_err();
            assert_eq!(
                (e.status(), e.code()),
                (415, "unsupported_encoding"),
                "{coding}"
            );
            assert!(e.to_string().contains(coding), "{e}");
        }
        let long = "x".repeat(10_000);
        let e = check_content_encoding(Some(&long)).unwrap_err();
        assert!(
            e.to_string().len() < 200,
            "the refusal echoes a bounded excerpt"
        );
    }

    use super::*;

    #[test]
    fn statuses_are_mapped_in_one_place() {
        let too_many = ApiError::Input(InputError::TooManyRows { rows: 2, limit: 1 });
        assert_eq!(too_many.status(), 413);
        assert_eq!(ApiError::BodyTooLarge { limit: 1 }.status(), 413);
        assert_eq!(
            ApiError::UnsupportedMediaType {
                given: "x".into(),
                accepted: Format::ACCEPTED
            }
            .status(),
            415
        );
        assert_eq!(
            ApiError::Input(InputError::MalformedJson("x".into())).status(),
            400
        );
    }

    #[test]
    fn content_types_are_chosen_strictly() {
        assert_eq!(Format::from_content_type(None).unwrap(), Format::Json);
        assert_eq!(
            Format::from_content_type(Some("application/json; charset=utf-8")).unwrap(),
            Format::Json
        );
        assert_eq!(
            Format::from_content_type(Some("text/csv")).unwrap(),
            Format::Csv
        );
        for (raw, format) in [
            (" Application/JSON ;charset=utf-8", Format::Json),
            ("TEXT/json", Format::Json),
            ("Text/CSV; header=present", Format::Csv),
            ("application/CSV", Format::Csv),
        ] {
            assert_eq!(
                Format::from_content_type(Some(raw)).unwrap(),
                format,
                "{raw}"
            );
        }
        for raw in [
            "",
            "json",
            "application/jsonx",
            "text/csv2",
            "application/json/x",
        ] {
            assert!(Format::from_content_type(Some(raw)).is_err(), "{raw}");
        }
        assert_eq!(
            Format::from_content_type(Some("application/x-www-form-urlencoded"))
                .unwrap_err()
                .code(),
            "unsupported_media_type"
        );
    }

    #[test]
    fn predict_answers_in_the_format_it_was_asked_in() {
        let model = Model::embedded().unwrap();
        let limits = Limits::default();
        let json = br#"[{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}]"#;
        let reply = predict(&model, &limits, Some("application/json"), json).unwrap();
        let parsed: PredictResponse = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(parsed.prediction.len(), 1);
        let csv = b"CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,6.575,296,15.3,396.9,4.98\n";
        let reply = predict(&model, &limits, Some("text/csv"), csv).unwrap();
        assert!(reply.content_type.starts_with("text/csv"));
        let text = String::from_utf8(reply.body).unwrap();
        assert_eq!(
            text.lines().next(),
            Some("CHAS,RM,TAX,PTRATIO,B,LSTAT,prediction")
        );
        let small = Limits {
            max_body_bytes: 10,
            max_rows: 10,
        };
        assert_eq!(
            predict(&model, &small, None, json).unwrap_err().status(),
            413
        );
    }

    #[test]
    fn the_json_answer_is_serde_jsons_whatever_its_size() {
        let mut rng = crate::test_rng::Rng(0x853C_49E6_748F_EA9B);
        for n in [
            0,
            1,
            2,
            3,
            PARALLEL_RENDER - 1,
            PARALLEL_RENDER,
            PARALLEL_RENDER + 1,
            10_001,
        ] {
            let prediction: Vec<f64> = (0..n)
                .map(|i| match i % 7 {
                    0 => f64::from_bits(rng.next_u64()),
                    1 => f64::INFINITY,
                    2 => -0.0,
                    _ => rng.below(100_000) as f64 / 1000.0,
                })
                .collect();
            let expected = serde_json::to_vec(&PredictResponse {
                prediction: prediction.clone(),
            })
            .unwrap();
            assert_eq!(render_json(&prediction).unwrap(), expected, "{n} prices");
        }
    }

    #[test]
    fn error_bodies_have_code_and_message() {
        let e = ApiError::UnsupportedMediaType {
            given: "text/plain".into(),
            accepted: Format::ACCEPTED,
        };
        let v: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(v["error"]["code"], "unsupported_media_type");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("text/plain")
        );
    }
}
