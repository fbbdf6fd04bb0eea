//! A small custom handler the integration tests run under the host.
//!
//! It behaves by function name and echoes what the host sent, so tests can check the exact
//! shapes on the wire. Forwarded requests (any path that is not `POST /{function}`) are
//! echoed as `{"forwarded": true, method, path, query, headers, body}`.
//!
//! Knobs (environment): `TEST_HANDLER_START_DELAY_MS` delays listening (readiness tests);
//! `TEST_HANDLER_PID_FILE` receives the process id (shutdown tests); `TEST_HANDLER_STOP_FILE`
//! receives `graceful` when the server stopped on SIGTERM (a SIGKILL leaves no such file).

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use functions_custom_handler_protocol::InvocationRequest;
use serde_json::{Value, json};
use std::time::Duration;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("FUNCTIONS_CUSTOMHANDLER_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| std::io::Error::other("FUNCTIONS_CUSTOMHANDLER_PORT is not set"))?;
    if let Some(path) = std::env::var_os("TEST_HANDLER_PID_FILE") {
        std::fs::write(path, std::process::id().to_string())?;
    }
    if let Some(ms) = std::env::var("TEST_HANDLER_START_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    HttpServer::new(|| {
        App::new()
            .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
            .route(
                "/",
                web::get().to(|| async { HttpResponse::Ok().body("ready") }),
            )
            .route("/{function}", web::post().to(invoke))
            .default_service(web::to(forwarded))
    })
    .workers(2)
    .bind(("127.0.0.1", port))?
    .run()
    .await?;
    if let Some(path) = std::env::var_os("TEST_HANDLER_STOP_FILE") {
        std::fs::write(path, "graceful")?;
    }
    Ok(())
}

fn ok(body: Value) -> HttpResponse {
    HttpResponse::Ok().json(body)
}

async fn invoke(req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let function = req
        .match_info()
        .get("function")
        .unwrap_or_default()
        .to_string();
    let raw: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return HttpResponse::BadRequest().body(format!("not JSON: {e}")),
    };
    let request = match InvocationRequest::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return HttpResponse::BadRequest().body(e.to_string()),
    };
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    match function.as_str() {
        "echo" | "secure" | "admin-only" => ok(json!({
            "Outputs": {"res": {
                "statusCode": 200,
                "headers": {"X-Handler": "echo"},
                "body": {
                    "request": raw,
                    "invocationId": header("x-azure-functions-invocationid"),
                    "hostVersion": header("x-azure-functions-hostversion"),
                    "userAgent": header("user-agent"),
                }
            }},
            "Logs": ["echo says hi"]
        })),
        "status" => {
            let trigger = request.http_trigger("req").ok();
            let code = trigger
                .as_ref()
                .and_then(|t| t.params.get("code").cloned())
                .unwrap_or_else(|| "200".into());
            let as_number = trigger
                .as_ref()
                .and_then(|t| t.query.get("as"))
                .map(String::as_str)
                == Some("number");
            let status = if as_number {
                json!(code.parse::<u16>().unwrap_or(200))
            } else {
                json!(code)
            };
            ok(json!({"Outputs": {"res": {"statusCode": status, "body": "status test"}}}))
        }
        "fail" => HttpResponse::InternalServerError().body("boom"),
        "crash" => std::process::exit(3),
        "exit-clean" => std::process::exit(0),
        "empty-reply" => HttpResponse::Ok().content_type("application/json").finish(),
        "text-reply" => HttpResponse::Ok()
            .content_type("text/plain")
            .body(r#"{"Outputs":{}}"#),
        "env" => {
            let vars: serde_json::Map<String, Value> = [
                "FUNCTIONS_CUSTOMHANDLER_PORT",
                "FUNCTIONS_HTTPWORKER_PORT",
                "FUNCTIONS_CUSTOMHANDLER_WORKER_ID",
                "FUNCTIONS_HTTPWORKER_ID",
                "FUNCTIONS_APP_ROOT_PATH",
            ]
            .into_iter()
            .map(|k| (k.to_string(), json!(std::env::var(k).ok())))
            .collect();
            ok(json!({"Outputs": {"res": {"statusCode": 200, "body": Value::Object(vars)}}}))
        }
        "ret" => ok(json!({"ReturnValue": {"statusCode": "201", "body": "from return"}})),
        "enqueue" => {
            let messages = request
                .http_trigger("req")
                .ok()
                .and_then(|t| t.json::<Value>().ok())
                .and_then(|v| v.get("messages").cloned())
                .unwrap_or(Value::Null);
            ok(json!({"Outputs": {"msg": messages, "res": {"statusCode": "202"}}}))
        }
        "process" => {
            let text = request
                .input_text("job", None)
                .ok()
                .flatten()
                .unwrap_or_default();
            let message: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if message.get("fail").and_then(Value::as_bool) == Some(true) {
                return HttpResponse::InternalServerError().body("told to fail");
            }
            if let Some(ms) = message.get("sleepMs").and_then(Value::as_u64) {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            let result = json!({"text": text, "request": raw}).to_string();
            ok(json!({"Outputs": {"result": result}, "Logs": [format!("processed {text}")]}))
        }
        "readblob" => ok(json!({"Outputs": {"res": {
            "statusCode": "200",
            "body": {"data": raw["Data"].get("blob").cloned().unwrap_or(json!("<absent>"))}
        }}})),
        "bytes" => ok(json!({"Outputs": {
            "decoded": "aGVsbG8=",
            "raw": "aGVsbG8=",
            "res": {"statusCode": "204"}
        }})),
        "grid" if raw["Data"]["event"]["data"]["fail"] == json!(true) => {
            HttpResponse::InternalServerError().body("told to fail")
        }
        // Slower than the Event Grid wait the tests set: delivered again while it runs.
        "grid"
            if raw["Data"]["event"]["subject"]
                .as_str()
                .is_some_and(|s| s.ends_with("/slow")) =>
        {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            ok(json!({"Outputs": {"out": json!({"request": raw}).to_string()}}))
        }
        // Record the invocation as it came, for the tests to read back.
        "tick" | "record" | "grid" => {
            ok(json!({"Outputs": {"out": json!({"request": raw}).to_string()}}))
        }
        other => HttpResponse::NotFound().body(format!("no function {other}")),
    }
}

async fn forwarded(req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if req.path().ends_with("/redirect") {
        return HttpResponse::Found()
            .insert_header(("Location", "/elsewhere"))
            .finish();
    }
    let headers: serde_json::Map<String, Value> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                json!(v.to_str().unwrap_or_default()),
            )
        })
        .collect();
    HttpResponse::Ok()
        .insert_header(("X-Handler", "forwarded"))
        .json(json!({
            "forwarded": true,
            "method": req.method().as_str(),
            "path": req.path(),
            "query": req.query_string(),
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        }))
}
