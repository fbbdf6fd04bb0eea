//! `GET /health`, the App Service health check path.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn health_returns_200_with_the_model_version() {
    let app = spawn_app().await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    let version = house_price::Model::embedded().unwrap().version().to_owned();
    assert_eq!(body, json!({"status": "ok", "modelVersion": version}));
}
