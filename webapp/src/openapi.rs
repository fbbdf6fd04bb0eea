//! The OpenAPI 3 document of the API, generated from the handlers' `#[utoipa::path]`
//! attributes so it cannot drift from the routes. A new route joins by adding its handler
//! to `paths(...)` and its types to `schemas(...)`.

use std::collections::BTreeMap;

use house_price::api::{ErrorBody, ErrorDetail, PredictResponse};
use house_price::jobs::JobAccepted;
use serde::Serialize;
use utoipa::openapi::schema::{
    AllOfBuilder, ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{OpenApi, PartialSchema, ToSchema};
use uuid::Uuid;

use crate::routes::HealthResponse;

/// The CSV example of the documented request body: the first row of the training data.
pub const CSV_EXAMPLE: &str = "CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,6.575,296,15.3,396.9,4.98\n";

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "House price prediction",
        description = "Predicts the median value of owner-occupied homes (MEDV, in $1000s) of Boston suburbs from six features. Errors always answer `{\"error\":{\"code\",\"message\"}}`."
    ),
    paths(
        crate::routes::predict::predict,
        crate::routes::jobs::submit_job,
        crate::routes::jobs::job_status,
        crate::routes::uploads::upload,
        crate::routes::uploads::upload_status,
        crate::routes::uploads::upload_result,
        crate::routes::health::health
    ),
    components(schemas(
        PredictRequest,
        JobRequest,
        JobColumns,
        CsvBatch,
        CsvJob,
        Columns,
        Record,
        PredictResponse,
        JobAccepted,
        crate::routes::uploads::UploadAccepted,
        crate::routes::uploads::UploadStatus,
        JobResultDocument,
        JobOutcome,
        JobPending,
        ErrorBody,
        ErrorDetail,
        HealthResponse
    )),
    tags(
        (name = "predict", description = "Price houses now, in the request"),
        (name = "jobs", description = "Price large batches in the background: submit, then poll the status URL"),
        (name = "uploads", description = "Score a CSV file of any size in the background: upload it, poll, download the result"),
        (name = "health", description = "Liveness for the App Service health check")
    )
)]
pub struct ApiDoc;

/// The document as served, rendered once.
#[derive(Clone, Debug)]
pub struct OpenApiJson(pub String);

impl OpenApiJson {
    /// Renders [`ApiDoc`] to JSON.
    pub fn render() -> Result<OpenApiJson, serde_json::Error> {
        ApiDoc::openapi().to_pretty_json().map(OpenApiJson)
    }
}

/// A JSON body of `POST /predict`, in any of its three shapes.
// Documentation only: bodies are parsed by `house_price::input`, which keeps row order and
// refuses duplicate keys, neither of which serde types would.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum PredictRequest {
    /// pandas `DataFrame.to_json()`: one object per feature, keyed by row ("0", "1", ...).
    Columns(Columns),
    /// A list of records, priced in order.
    Records(Vec<Record>),
    /// One house.
    Record(Record),
}

/// Column-oriented rows: every feature maps row keys (non-negative integers as strings)
/// to values, with the same keys in every column; rows come back ordered by key.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    /// Charles River dummy variable: 1 if the tract bounds the river, else 0.
    #[serde(rename = "CHAS")]
    #[schema(schema_with = row_keyed_chas)]
    pub chas: BTreeMap<String, f64>,
    /// Average number of rooms per dwelling.
    #[serde(rename = "RM")]
    #[schema(schema_with = row_keyed_column)]
    pub rm: BTreeMap<String, f64>,
    /// Full-value property-tax rate per $10,000.
    #[serde(rename = "TAX")]
    #[schema(schema_with = row_keyed_column)]
    pub tax: BTreeMap<String, f64>,
    /// Pupil-teacher ratio by town.
    #[serde(rename = "PTRATIO")]
    #[schema(schema_with = row_keyed_column)]
    pub ptratio: BTreeMap<String, f64>,
    /// 1000(Bk - 0.63)^2 where Bk is the proportion of Black residents by town.
    #[serde(rename = "B")]
    #[schema(schema_with = row_keyed_column)]
    pub b: BTreeMap<String, f64>,
    /// Percentage of lower-status population.
    #[serde(rename = "LSTAT")]
    #[schema(schema_with = row_keyed_column)]
    pub lstat: BTreeMap<String, f64>,
}

/// One column of the pandas form: numbers keyed by row, each key a non-negative integer written
/// in decimal, as the server enforces (`house_price::input`).
fn row_keyed_column() -> Object {
    row_keyed(ObjectBuilder::new().schema_type(Type::Number))
}

/// The `CHAS` column: 0 or 1 keyed by row.
fn row_keyed_chas() -> Object {
    row_keyed(chas_value())
}

fn row_keyed(value: ObjectBuilder) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(value))
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(ROW_KEY_PATTERN)),
        ))
        .build()
}

/// `CHAS`: a dummy variable, so 0 or 1 (`1.0` is the same number).
fn chas() -> Object {
    chas_value().build()
}

fn chas_value() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .enum_values(Some([0, 1]))
}

/// A JSON body of `POST /jobs`: the shapes of [`PredictRequest`], with at least one row (a job
/// with no rows is refused).
pub struct JobRequest;

impl PartialSchema for JobRequest {
    fn schema() -> RefOr<Schema> {
        let records = ArrayBuilder::new()
            .items(Ref::from_schema_name("Record"))
            .min_items(Some(1));
        OneOfBuilder::new()
            .item(Ref::from_schema_name("JobColumns"))
            .item(records)
            .item(Ref::from_schema_name("Record"))
            .into()
    }
}

impl ToSchema for JobRequest {}

/// The pandas form of a job: [`Columns`] with at least one row in every column.
pub struct JobColumns;

impl PartialSchema for JobColumns {
    fn schema() -> RefOr<Schema> {
        let mut non_empty = ObjectBuilder::new();
        for feature in house_price::FEATURES {
            non_empty = non_empty.property(feature, ObjectBuilder::new().min_properties(Some(1)));
        }
        AllOfBuilder::new()
            .item(Ref::from_schema_name("Columns"))
            .item(non_empty)
            .into()
    }
}

impl ToSchema for JobColumns {}

/// One CSV field of a data row: a plain decimal number.
const CSV_NUMBER: &str = r"-?[0-9]{1,9}(\.[0-9]{1,9})?";

/// A CSV body of `POST /predict`: a header row, then data rows (none is an empty answer).
pub struct CsvBatch;

impl PartialSchema for CsvBatch {
    fn schema() -> RefOr<Schema> {
        csv_schema(
            "*",
            "CSV with a header row naming the six features, then one row per house. The pattern is the canonical form; the server also accepts the columns in any order, quoted fields and other number forms.",
        )
    }
}

impl ToSchema for CsvBatch {}

/// A CSV body of `POST /jobs`: as [`CsvBatch`], with at least one data row.
pub struct CsvJob;

impl PartialSchema for CsvJob {
    fn schema() -> RefOr<Schema> {
        csv_schema(
            "+",
            "CSV as for `POST /predict`, with at least one data row. The pattern is the canonical form; the server also accepts the columns in any order, quoted fields and other number forms.",
        )
    }
}

impl ToSchema for CsvJob {}

/// A CSV body: the header in [`house_price::FEATURES`] order, then data rows repeated as
/// `rows` says (`*` or `+`), each line ending in `\n` or `\r\n` (the last may not).
fn csv_schema(rows: &str, description: &str) -> RefOr<Schema> {
    let header = house_price::FEATURES.join(",");
    let row = format!(
        "[01]{}",
        format!(",{CSV_NUMBER}").repeat(house_price::N_FEATURES - 1)
    );
    let pattern = match rows {
        "+" => format!("^{header}\r?\n({row}\r?\n)*{row}(\r?\n)?$"),
        _ => format!("^{header}(\r?\n({row}\r?\n)*({row})?)?$"),
    };
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(header.len()))
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

/// The row keys the server accepts in the pandas form: decimal digits that fit a `u64`
/// (19 always do; the server also takes 20 up to `u64::MAX`).
pub const ROW_KEY_PATTERN: &str = "^[0-9]{1,19}$";

/// One house: all six features, finite numbers, `CHAS` 0 or 1. Other keys are refused.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Charles River dummy variable: 1 if the tract bounds the river, else 0.
    #[serde(rename = "CHAS")]
    #[schema(schema_with = chas)]
    pub chas: f64,
    /// Average number of rooms per dwelling.
    #[serde(rename = "RM")]
    pub rm: f64,
    /// Full-value property-tax rate per $10,000.
    #[serde(rename = "TAX")]
    pub tax: f64,
    /// Pupil-teacher ratio by town.
    #[serde(rename = "PTRATIO")]
    pub ptratio: f64,
    /// 1000(Bk - 0.63)^2 where Bk is the proportion of Black residents by town.
    #[serde(rename = "B")]
    pub b: f64,
    /// Percentage of lower-status population.
    #[serde(rename = "LSTAT")]
    pub lstat: f64,
}

/// The result document of a finished job, as the Functions app's `score-job` writes it.
// Documentation only: the document is `house_price::jobs::JobResult`, served as stored.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobResultDocument {
    /// The job.
    pub job_id: Uuid,
    /// How it ended.
    pub status: JobOutcome,
    /// The model that scored it.
    pub model_version: String,
    /// Rows scored (0 when the job failed).
    pub rows: usize,
    /// One predicted median value (MEDV, in $1000s) per row, in row order; empty when failed.
    pub predictions: Vec<f64>,
    /// Why the job failed; only present then.
    pub error: Option<ErrorDetail>,
    /// When the job was accepted (RFC 3339).
    pub submitted_at: Option<String>,
    /// When scoring finished (RFC 3339).
    pub completed_at: String,
}

/// How a job ended.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobOutcome {
    /// Every row was scored.
    Succeeded,
    /// The job was invalid; see `error`.
    Failed,
}

/// The answer while a job has no result: queued, being scored, or never submitted (the
/// API cannot tell these apart without a database, and does not pretend to).
#[derive(Debug, Serialize, ToSchema)]
pub struct JobPending {
    /// Always `pending-or-unknown`.
    #[schema(example = "pending-or-unknown")]
    pub status: &'static str,
}

impl Default for JobPending {
    fn default() -> Self {
        JobPending {
            status: "pending-or-unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_renders_and_is_openapi_3() {
        let doc: serde_json::Value =
            serde_json::from_str(&OpenApiJson::render().unwrap().0).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    }

    #[test]
    fn the_request_schema_names_the_features_in_order() {
        let doc = ApiDoc::openapi();
        let json = serde_json::to_value(&doc).unwrap();
        let props = json["components"]["schemas"]["Record"]["properties"]
            .as_object()
            .unwrap();
        let names: Vec<&str> = props.keys().map(String::as_str).collect();
        let mut expected = house_price::FEATURES.to_vec();
        expected.sort_unstable();
        let mut got = names.clone();
        got.sort_unstable();
        assert_eq!(got, expected);
    }
}
