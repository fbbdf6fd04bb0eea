//! `POST /predict` with good input: every accepted shape, in and out.

use serde_json::Value;

use crate::helpers::{FIRST_ROW, ORIGINAL_CLIENT_PAYLOAD, THIRD_ROW, THREE_HOUSES_CSV, spawn_app};

#[tokio::test]
async fn predict_returns_one_price_for_the_original_clients_payload() {
    let app = spawn_app().await;
    let response = app.post_json(ORIGINAL_CLIENT_PAYLOAD).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    let object = body.as_object().unwrap();
    assert_eq!(object.len(), 1, "only `prediction` in {body}");
    let prediction = body["prediction"].as_array().unwrap();
    assert_eq!(prediction.len(), 1);
    // The first house is worth 24.0 ($1000s); any sane model lands in this range.
    let price = prediction[0].as_f64().unwrap();
    assert!((15.0..35.0).contains(&price), "implausible price {price}");
}

#[tokio::test]
async fn predict_orders_pandas_columns_by_numeric_row_key() {
    let app = spawn_app().await;
    let first = app.predictions(FIRST_ROW).await[0];
    let third = app.predictions(THIRD_ROW).await[0];
    assert_ne!(
        first, third,
        "the two houses must differ for this test to mean anything"
    );
    // Row "10" comes first in every column and is the third house; "2" is the first house.
    // As strings "10" < "2"; as numbers 2 < 10, so the first house must come back first.
    let body = r#"{
        "CHAS": {"10": 0, "2": 0},
        "RM": {"10": 7.185, "2": 6.575},
        "TAX": {"10": 242, "2": 296},
        "PTRATIO": {"10": 17.8, "2": 15.3},
        "B": {"10": 392.83, "2": 396.9},
        "LSTAT": {"10": 4.03, "2": 4.98}
    }"#;
    assert_eq!(app.predictions(body).await, vec![first, third]);
}

#[tokio::test]
async fn predict_prices_a_list_of_records_in_order() {
    let app = spawn_app().await;
    let first = app.predictions(FIRST_ROW).await[0];
    let third = app.predictions(THIRD_ROW).await[0];
    let body = format!("[{THIRD_ROW},{FIRST_ROW},{THIRD_ROW}]");
    assert_eq!(app.predictions(&body).await, vec![third, first, third]);
}

#[tokio::test]
async fn predict_prices_a_single_record_like_the_original_payload() {
    let app = spawn_app().await;
    let single = app.predictions(FIRST_ROW).await;
    assert_eq!(single.len(), 1);
    assert_eq!(single, app.predictions(ORIGINAL_CLIENT_PAYLOAD).await);
}

#[tokio::test]
async fn predict_treats_a_body_without_content_type_as_json() {
    let app = spawn_app().await;
    let response = app.post_predict(None, FIRST_ROW).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn predict_answers_csv_with_a_prediction_column() {
    let app = spawn_app().await;
    let response = app.post_predict(Some("text/csv"), THREE_HOUSES_CSV).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "a header and three rows in {text:?}");
    assert_eq!(lines[0], "CHAS,RM,TAX,PTRATIO,B,LSTAT,prediction");
    let input: Vec<&str> = THREE_HOUSES_CSV.lines().collect();
    let from_csv: Vec<f64> = lines[1..]
        .iter()
        .zip(&input[1..])
        .map(|(line, original)| {
            let (echoed, price) = line.rsplit_once(',').unwrap();
            assert_eq!(echoed, *original, "the input row is echoed unchanged");
            price.parse().unwrap()
        })
        .collect();
    // The same houses as JSON records get the same prices.
    let records = format!(
        "[{FIRST_ROW},{},{THIRD_ROW}]",
        r#"{"CHAS":0,"RM":6.421,"TAX":242,"PTRATIO":17.8,"B":396.9,"LSTAT":9.14}"#
    );
    assert_eq!(from_csv, app.predictions(&records).await);
}

#[tokio::test]
async fn predict_accepts_csv_columns_in_any_order() {
    let app = spawn_app().await;
    let first = app.predictions(FIRST_ROW).await[0];
    let response = app
        .post_predict(
            Some("text/csv"),
            "LSTAT,B,PTRATIO,TAX,RM,CHAS\n4.98,396.9,15.3,296,6.575,0\n",
        )
        .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let price: f64 = text
        .lines()
        .nth(1)
        .unwrap()
        .rsplit(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(price, first);
}
