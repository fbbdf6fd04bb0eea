//! `GET /openapi.json` describes the server as it really behaves.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{FIRST_ROW, ORIGINAL_CLIENT_PAYLOAD, TestApp, spawn_app};

async fn document(app: &TestApp) -> Value {
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let doc: Value = response.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "not OpenAPI 3"
    );
    doc
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

#[tokio::test]
async fn the_openapi_document_lists_every_api_route_with_the_methods_it_serves() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert_eq!(
        keys(&doc["paths"]),
        [
            "/health",
            "/jobs",
            "/jobs/{id}",
            "/predict",
            "/uploads",
            "/uploads/{id}",
            "/uploads/{id}/result.csv"
        ]
        .map(String::from)
        .into()
    );
    for (path, item) in doc["paths"].as_object().unwrap() {
        let documented: Vec<&str> = METHODS
            .into_iter()
            .filter(|m| item.get(*m).is_some())
            .collect();
        assert_eq!(documented.len(), 1, "{path}: {documented:?}");
        for method in METHODS {
            let response = app
                .request(
                    Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    path,
                )
                .await;
            let status = response.status().as_u16();
            if documented.contains(&method) {
                assert!(
                    status != 404 && status != 405,
                    "{method} {path} answered {status}"
                );
            } else {
                assert_eq!(
                    status, 405,
                    "{method} {path} is not documented but answered"
                );
                assert_eq!(response.headers()["allow"], documented[0].to_uppercase());
            }
        }
    }
}

#[tokio::test]
async fn the_documented_statuses_are_the_ones_the_server_answers() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let responses = &doc["paths"]["/predict"]["post"]["responses"];
    assert_eq!(
        keys(responses),
        ["200", "400", "408", "413", "415"].map(String::from).into()
    );
    assert_eq!(
        keys(&responses["200"]["content"]),
        ["application/json", "text/csv"].map(String::from).into()
    );
    let mut too_big = FIRST_ROW.to_owned();
    too_big.push_str(&" ".repeat(2 << 20));
    for (status, content_type, body) in [
        (
            "400",
            "application/json",
            r#"{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9}"#.to_owned(),
        ),
        ("413", "application/json", too_big),
        ("415", "text/plain", FIRST_ROW.to_owned()),
    ] {
        let documented = &responses[status]["content"]["application/json"];
        assert_eq!(
            documented["schema"]["$ref"], "#/components/schemas/ErrorBody",
            "{status}"
        );
        let response = app.post_predict(Some(content_type), body).await;
        assert_eq!(response.status().as_str(), status);
        let real: Value = response.json().await.unwrap();
        assert_eq!(
            documented["example"]["error"]["code"], real["error"]["code"],
            "the {status} example shows another error than the server answers"
        );
    }
    let documented_ok = &responses["200"]["content"]["application/json"]["example"];
    let real: Value = app.post_json(FIRST_ROW).await.json().await.unwrap();
    assert_eq!(keys(documented_ok), keys(&real));

    // The job routes, without storage here; with Azurite in `jobs.rs`.
    let submit = &doc["paths"]["/jobs"]["post"]["responses"];
    assert_eq!(
        keys(submit),
        ["202", "400", "408", "413", "415", "429", "503"]
            .map(String::from)
            .into()
    );
    // A slow body's answer, which `slow_clients.rs` gets from the server.
    for responses in [responses, submit] {
        assert_eq!(
            responses["408"]["content"]["application/json"]["example"]["error"]["code"],
            "body_timeout"
        );
    }
    let status = &doc["paths"]["/jobs/{id}"]["get"]["responses"];
    assert_eq!(
        keys(status),
        ["200", "400", "404", "429", "503"].map(String::from).into()
    );
    for responses in [submit, status] {
        // Storage failures are 503 with Retry-After, never 500; a throttled client is told
        // when to come back too (the server's 429s are in `rate_limit.rs`).
        for code in ["429", "503"] {
            assert!(
                responses[code]["headers"]["Retry-After"].is_object(),
                "{responses}"
            );
        }
        assert_eq!(
            responses["429"]["content"]["application/json"]["example"]["error"]["code"],
            "too_many_requests"
        );
        for code in ["400", "503"] {
            assert_eq!(
                responses[code]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{code}"
            );
        }
    }
    let real: Value = app
        .post_job("application/json", FIRST_ROW)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        submit["503"]["content"]["application/json"]["example"],
        real
    );

    let health = &doc["paths"]["/health"]["get"]["responses"];
    assert_eq!(keys(health), ["200"].map(String::from).into());
    let real: Value = app.get("/health").await.json().await.unwrap();
    assert_eq!(
        keys(&health["200"]["content"]["application/json"]["example"]),
        keys(&real)
    );
}

#[tokio::test]
async fn the_openapi_examples_get_200_from_the_server() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let content = &doc["paths"]["/predict"]["post"]["requestBody"]["content"];
    let examples = content["application/json"]["examples"].as_object().unwrap();
    assert_eq!(
        examples["pandas_columns"]["value"],
        serde_json::from_str::<Value>(ORIGINAL_CLIENT_PAYLOAD).unwrap(),
        "the original client's payload is the first example"
    );
    assert_eq!(examples.len(), 3, "columns, records and a single record");
    for (name, example) in examples {
        let value = &example["value"];
        let rows = match value {
            Value::Array(items) => items.len(),
            Value::Object(o) if o["CHAS"].is_object() => o["CHAS"].as_object().unwrap().len(),
            _ => 1,
        };
        let predictions = app.predictions(&value.to_string()).await;
        assert_eq!(predictions.len(), rows, "example {name}");
    }
    let csv = content["text/csv"]["example"].as_str().unwrap();
    let response = app.post_predict(Some("text/csv"), csv.to_owned()).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        format!("{},prediction", csv.lines().next().unwrap())
    );
}

#[tokio::test]
async fn the_document_states_the_job_id_and_row_key_rules_the_server_enforces() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let param = &doc["paths"]["/jobs/{id}"]["get"]["parameters"][0];
    assert_eq!(param["name"], "id");
    // (A non-UUID id is answered 400: tests/api/jobs.rs, with storage.)
    assert_eq!(param["schema"]["format"], "uuid", "{param}");

    let columns = &doc["components"]["schemas"]["Columns"]["properties"];
    for feature in ["CHAS", "RM", "TAX", "PTRATIO", "B", "LSTAT"] {
        let names = &columns[feature]["propertyNames"];
        assert_eq!(
            names["pattern"], "^[0-9]{1,19}$",
            "{feature}: {}",
            columns[feature]
        );
    }
    let response = app
        .post_json(r#"{"CHAS":{"x":0},"RM":{"x":6.5},"TAX":{"x":296},"PTRATIO":{"x":15.3},"B":{"x":396.9},"LSTAT":{"x":4.98}}"#)
        .await;
    let message = crate::helpers::assert_error(response, 400, "invalid_row_key").await;
    assert!(message.contains("\"x\""), "{message}");
}

/// What the server refuses, the document refuses too (checked with a real JSON Schema
/// validator): a job with no rows, a CSV body with no header, `CHAS` other than 0 or 1.
#[tokio::test]
async fn the_document_refuses_the_bodies_the_server_refuses() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];
    let validator = |name: &str| {
        // The component, with the document's other components beside it for its `$ref`s.
        let mut schema = schemas[name].clone();
        schema["components"] = serde_json::json!({ "schemas": schemas });
        jsonschema::validator_for(&schema).unwrap()
    };
    let no_rows = r#"{"CHAS":{},"RM":{},"TAX":{},"PTRATIO":{},"B":{},"LSTAT":{}}"#;
    let half_chas = r#"[{"CHAS":0.5,"RM":6.5,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}]"#;
    for (body, schema, path) in [
        ("[]", "JobRequest", "/jobs"),
        (no_rows, "JobRequest", "/jobs"),
        (half_chas, "PredictRequest", "/predict"),
        (half_chas, "JobRequest", "/jobs"),
    ] {
        let value: Value = serde_json::from_str(body).unwrap();
        assert!(
            !validator(schema).is_valid(&value),
            "{schema} allows {body}"
        );
        let response = match path {
            "/jobs" => app.post_job("application/json", body).await,
            _ => app.post_json(body).await,
        };
        assert_eq!(response.status(), 400, "{path} {body}");
    }
    for (body, schema, path) in [
        ("", "CsvBatch", "/predict"),
        ("CHAS,RM,TAX,PTRATIO,B,LSTAT\n", "CsvJob", "/jobs"),
    ] {
        assert!(
            !validator(schema).is_valid(&Value::from(body)),
            "{schema} allows {body:?}"
        );
        let response = match path {
            "/jobs" => app.post_job("text/csv", body).await,
            _ => app.post_predict(Some("text/csv"), body).await,
        };
        assert_eq!(response.status(), 400, "{path} {body:?}");
    }
    // And the documented examples still pass their schemas.
    let csv = Value::from(webapp::openapi::CSV_EXAMPLE);
    assert!(validator("CsvBatch").is_valid(&csv));
    assert!(validator("CsvJob").is_valid(&csv));
    let record: Value = serde_json::from_str(&half_chas.replace("0.5", "1")).unwrap();
    assert!(validator("JobRequest").is_valid(&record));
}
