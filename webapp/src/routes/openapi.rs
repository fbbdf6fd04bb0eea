//! `GET /openapi.json`.

use actix_web::{HttpResponse, web};

use crate::openapi::OpenApiJson;

/// `GET /openapi.json`: the document, rendered once at startup.
pub async fn openapi_json(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}
