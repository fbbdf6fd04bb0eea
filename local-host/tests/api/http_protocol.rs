use crate::helpers::spawn_app;
use serde_json::{Value, json};

#[tokio::test]
async fn the_json_protocol_builds_the_http_trigger_like_the_host() {
    let app = spawn_app("app").await;
    let response = app
        .client
        .post(app.url("/api/items/42/big?a=1&a=2&b=x%20y"))
        .header("X-Custom", "v")
        .json(&json!({"jobId": "j1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-handler"], "echo");
    // An object body is sent as indented text/plain (HttpBinding.cs, RawScriptResult.cs).
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert!(text.starts_with("{\n  \""), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let req = &body["request"]["Data"]["req"];
    assert_eq!(
        req["Url"],
        json!(app.url("/api/items/42/big?a=1&a=2&b=x%20y"))
    );
    assert_eq!(req["Method"], json!("POST"));
    assert_eq!(req["Query"], json!({"a": "1,2", "b": "x y"}));
    assert_eq!(req["Headers"]["x-custom"], json!(["v"]));
    assert_eq!(req["Params"], json!({"id": "42", "kind": "big"}));
    assert_eq!(req["Body"], json!("{\"jobId\":\"j1\"}"));
    assert_eq!(req["Identities"], json!([]));

    let metadata = &body["request"]["Metadata"];
    assert_eq!(metadata["sys"]["MethodName"], json!("echo"));
    assert!(uuid::Uuid::try_parse(metadata["sys"]["RandGuid"].as_str().unwrap()).is_ok());
    // Scalars serialised once more (ScriptInvocationContextExtensions.cs); a repeated query key
    // keeps its LAST value in binding data (GetQueryParameterDictionary in WebJobs.Extensions.Http),
    // while Data.req.Query above comma-joins.
    assert_eq!(metadata["id"], json!("\"42\""));
    assert_eq!(metadata["jobId"], json!("\"j1\""));
    assert_eq!(metadata["a"], json!("\"2\""));
    assert_eq!(metadata["Query"], json!({"a": "2", "b": "x y"}));

    assert!(uuid::Uuid::try_parse(body["invocationId"].as_str().unwrap()).is_ok());
    assert!(
        body["userAgent"]
            .as_str()
            .unwrap()
            .starts_with("Azure-Functions-Host/4.")
    );
    assert!(body["hostVersion"].as_str().unwrap().starts_with("4."));
    app.stop().await;
}

#[tokio::test]
async fn a_request_without_a_body_has_no_body_field_and_optional_params_are_absent() {
    let app = spawn_app("app").await;
    let body: Value = app.get("/api/items/7").await.json().await.unwrap();
    let req = &body["request"]["Data"]["req"];
    assert!(req.get("Body").is_none(), "{req}");
    assert_eq!(req["Params"], json!({"id": "7"}));
    assert_eq!(req["Query"], json!({}));
    app.stop().await;
}

#[tokio::test]
async fn octet_stream_bodies_arrive_as_base64() {
    let app = spawn_app("app").await;
    let response = app
        .client
        .post(app.url("/api/items/1"))
        .header("Content-Type", "application/octet-stream")
        .body(vec![0u8, 159, 146, 150])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["request"]["Data"]["req"]["Body"], json!("AJ+Slg=="));
    app.stop().await;
}

#[tokio::test]
async fn a_method_the_route_does_not_allow_gets_404_like_the_host() {
    let app = spawn_app("app").await;
    let delete = app
        .client
        .delete(app.url("/api/items/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 404);
    assert_eq!(app.get("/api/nowhere").await.status(), 404);
    assert_eq!(
        app.get("/items/1").await.status(),
        404,
        "the route prefix is required"
    );
    // A constraint that does not match is no route either.
    assert_eq!(app.get("/api/status/abc").await.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn the_http_output_status_may_be_a_string_or_a_number() {
    let app = spawn_app("app").await;
    let as_string = app.get("/api/status/418").await;
    assert_eq!(as_string.status(), 418);
    assert_eq!(as_string.text().await.unwrap(), "status test");
    assert_eq!(app.get("/api/status/202?as=number").await.status(), 202);
    app.stop().await;
}

#[tokio::test]
async fn a_handler_that_answers_non_2xx_fails_the_invocation_with_an_empty_500() {
    let app = spawn_app("app").await;
    let response = app.get("/api/fail").await;
    assert_eq!(response.status(), 500);
    assert_eq!(response.text().await.unwrap(), "");
    app.stop().await;
}

#[tokio::test]
async fn return_value_is_bound_to_a_dollar_return_http_output() {
    let app = spawn_app("app").await;
    let response = app.get("/api/ret").await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.text().await.unwrap(), "from return");
    app.stop().await;
}

#[tokio::test]
async fn function_and_admin_levels_need_their_keys() {
    let app = spawn_app("app").await;
    assert_eq!(app.get("/api/secure").await.status(), 401);
    assert_eq!(app.get("/api/secure?code=wrong").await.status(), 401);
    assert_eq!(
        app.get("/api/secure?code=fixture-function-key")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get("/api/secure?code=fixture-master-key")
            .await
            .status(),
        200
    );
    let with_header = app
        .client
        .get(app.url("/api/secure"))
        .header("x-functions-key", "fixture-function-key")
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status(), 200);
    let body: Value = with_header.json().await.unwrap();
    assert_eq!(
        body["request"]["Data"]["req"]["Identities"][0]["AuthenticationType"],
        json!("WebJobsAuthLevel")
    );
    assert_eq!(
        app.get("/api/admin-only?code=fixture-function-key")
            .await
            .status(),
        401
    );
    assert_eq!(
        app.get("/api/admin-only?code=fixture-master-key")
            .await
            .status(),
        200
    );
    app.stop().await;
}

// DefaultHttpWorkerService.cs: a 2xx answer with no result never completes in Azure (it waits for
// functionTimeout); ReadAsAsync needs a JSON content type. Both fail here at once.
#[tokio::test]
async fn an_empty_or_non_json_reply_fails_at_once_instead_of_hanging() {
    let app = spawn_app("app").await;
    for path in ["/api/empty-reply", "/api/text-reply"] {
        let started = std::time::Instant::now();
        assert_eq!(app.get(path).await.status(), 500, "{path}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{path}"
        );
    }
    app.stop().await;
}
