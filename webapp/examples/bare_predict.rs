//! The baseline for the web app's one-row `/predict`: a bare actix-web server that reads the
//! request body and answers the bytes the web app answers for the original client's payload,
//! computed once at start. No parsing, no model, no middleware: what actix-web itself costs.
//! `bench/side-by-side.sh` runs it beside the web app.
//!
//!     PORT=8081 cargo run --release -p webapp --example bare_predict

use actix_web::{App, HttpResponse, HttpServer, web};

const PAYLOAD: &[u8] = include_bytes!("../tests/data/original_client_payload.json");

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let model = house_price::Model::embedded().map_err(std::io::Error::other)?;
    let limits = house_price::api::Limits::default();
    let answer = house_price::api::predict(&model, &limits, Some("application/json"), PAYLOAD)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let body = web::Bytes::from(answer.body);
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8081);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    HttpServer::new(move || {
        let body = body.clone();
        App::new().route(
            "/predict",
            web::post().to(move |_request: web::Bytes| {
                let body = body.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }),
        )
    })
    .workers(workers)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
