//! `GET /health`.

use actix_web::web;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// The body of `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthResponse {
    /// Always `ok`: the server answers only once the model is loaded.
    pub status: String,
    /// The model version being served.
    pub model_version: String,
}

/// `GET /health`: the App Service health check. The model is loaded before the server
/// listens, so answering at all means ready.
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    responses((status = 200, description = "The server is up and serving this model", body = HealthResponse,
        example = json!({"status": "ok", "modelVersion": "gbt-2024-01-01"})))
)]
pub async fn health(state: web::Data<AppState>) -> web::Json<HealthResponse> {
    web::Json(HealthResponse {
        status: "ok".to_owned(),
        model_version: state.model.version().to_owned(),
    })
}
