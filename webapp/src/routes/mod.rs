//! The route table and its thin handlers.

pub mod health;
pub mod openapi;
pub mod page;
pub mod predict;

use actix_web::{HttpRequest, Route, web};

pub use health::HealthResponse;

use crate::errors;

/// Registers every route; the server and the tests both build the app through this.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/predict")
            .route(web::post().to(predict::predict))
            .default_service(only("POST")),
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
