//! The claim check against Azurite: a batch too large for one queue message is written to
//! `job-inputs/<jobId>.json` by `submit-job`, and `score-job` scores it from that blob.
//!
//! Needs a running Azurite and FAILS (never skips) without one:
//! `eval "$(scripts/azurite.sh start)"` from the repo root, then `cargo test -p house-price-functions`.

use std::net::TcpListener;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use house_price::Model;
use house_price::features::Row;
use house_price::jobs::{self, JobMessage, JobResult, JobStatus};
use house_price_functions::State;
use serde_json::{Value, json};
use storage::{Storage, StorageSettings};

/// The variable `scripts/azurite.sh start` exports.
const CONNECTION_VARIABLE: &str = "AZURITE_CONNECTION_STRING";
const ROWS: usize = 5_000;

fn connection_string() -> String {
    match std::env::var(CONNECTION_VARIABLE) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => panic!(
            "{CONNECTION_VARIABLE} is not set: the claim-check test needs a running Azurite; run \
             `eval \"$(scripts/azurite.sh start)\"` from the repo root first, or \
             `scripts/azurite.sh run -- cargo test -p house-price-functions`"
        ),
    }
}

fn storage() -> Storage {
    let settings =
        StorageSettings::parse_connection_string("AzureWebJobsStorage", &connection_string())
            .unwrap();
    Storage::new(&settings).unwrap()
}

/// `n` rows cycling through the first three Boston rows.
fn rows(n: usize) -> Vec<[f64; 6]> {
    [
        [0.0, 6.575, 296.0, 15.3, 396.9, 4.98],
        [0.0, 6.421, 242.0, 17.8, 396.9, 9.14],
        [0.0, 7.185, 242.0, 17.8, 392.83, 4.03],
    ]
    .into_iter()
    .cycle()
    .take(n)
    .collect()
}

fn records(rows: &[[f64; 6]]) -> String {
    let items: Vec<Value> = rows
        .iter()
        .map(|r| json!({"CHAS": r[0], "RM": r[1], "TAX": r[2], "PTRATIO": r[3], "B": r[4], "LSTAT": r[5]}))
        .collect();
    Value::Array(items).to_string()
}

/// Serves the real app with Azurite as its storage, the `job-inputs` container ready.
async fn start_handler() -> (Storage, String, actix_web::dev::ServerHandle) {
    let storage = storage();
    storage
        .ensure_container(jobs::INPUTS_CONTAINER)
        .await
        .unwrap();
    let mut state = State::new(Model::embedded().unwrap());
    state.storage = Some(storage.clone());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = house_price_functions::app(state)
        .workers(2)
        .bind(listener)
        .unwrap();
    let address = format!("http://127.0.0.1:{}", server.port());
    let handle = server.handle();
    tokio::spawn(server.run());
    (storage, address, handle)
}

/// POSTs an invocation as the host does and parses the answer.
async fn invoke(
    client: &reqwest::Client,
    address: &str,
    function: &str,
    envelope: &Value,
) -> (u16, Value) {
    let response = client
        .post(format!("{address}/{function}"))
        .header("Content-Type", "application/json")
        .header(
            "X-Azure-Functions-InvocationId",
            "0b1e6a8e-4f52-4c1e-8f0e-2d7c5a3b9e14",
        )
        .body(envelope.to_string())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_batch_too_large_for_one_message_travels_through_a_blob_and_is_scored_from_it() {
    let model = Model::embedded().unwrap();
    let (storage, address, handle) = start_handler().await;
    let client = reqwest::Client::new();

    // submit-job: 202, a small message pointing at the blob, and the blob holding every row.
    let sent = rows(ROWS);
    let (text, answer) = submit(&client, &address, &sent).await;
    assert!(
        jobs::fits_inline(text.len()),
        "the message must fit a queue message: {} bytes",
        text.len()
    );
    let message: JobMessage = serde_json::from_str(&text).unwrap();
    let path = format!("job-inputs/{}.json", message.job_id);
    assert_eq!(message.rows_blob.as_deref(), Some(path.as_str()));
    assert!(message.rows.is_empty());
    assert_eq!(message.row_count, ROWS);
    let accepted: Value =
        serde_json::from_str(answer["Outputs"]["res"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(accepted["jobId"], message.job_id.to_string());

    let blob = storage
        .get_blob_path(&path)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{path} was not written"));
    let stored: Vec<[f64; 6]> = serde_json::from_slice(&blob).unwrap();
    assert_eq!(stored, sent);

    // score-job as the host sends it (ScriptInvocationContextExtensions.cs): the message and the
    // text blob double-encoded, the missing result blob as the string `null`.
    let score = json!({
        "Data": {
            "job": serde_json::to_string(&text).unwrap(),
            "rows": serde_json::to_string(std::str::from_utf8(&blob).unwrap()).unwrap(),
            "existing": "null"
        },
        "Metadata": {"DequeueCount": "1", "Id": "\"52d5b3a4-8c1e-4f6a-9b7d-3e2f1a0c9d8e\"", "jobId": format!("\"{}\"", message.job_id)}
    });
    let (status, answer) = invoke(&client, &address, "score-job", &score).await;
    assert_eq!(status, 200, "{answer}");
    let result = STANDARD
        .decode(answer["Outputs"]["result"].as_str().unwrap())
        .unwrap();
    let result: JobResult = serde_json::from_slice(&result).unwrap();
    assert_eq!(result.job_id, message.job_id);
    assert_eq!(result.status, JobStatus::Succeeded);
    assert_eq!(result.rows, ROWS);
    let expected: Vec<Row> = sent.iter().map(|r| Row::new(*r).unwrap()).collect();
    assert_eq!(result.predictions, model.predict_all(&expected));

    handle.stop(false).await;
}

/// Submits `rows` as the host would, and returns the exact bytes `submit-job` hands the host
/// for the queue (as base64, which the host decodes and enqueues unchanged) and its answer.
async fn submit(client: &reqwest::Client, address: &str, rows: &[[f64; 6]]) -> (String, Value) {
    let body = records(rows);
    let submit = json!({
        "Data": {"req": {
            "Url": "http://localhost:7071/api/jobs",
            "Method": "POST",
            "Query": {},
            "Headers": {"Content-Type": ["application/json"], "Content-Length": [body.len().to_string()]},
            "Params": {},
            "Body": body
        }},
        "Metadata": {"sys": {"MethodName": "submit-job", "UtcNow": "2024-05-13T09:21:44Z", "RandGuid": "0f3c52a4-2e0b-4a5e-9bd0-7f2f6d3c1a55"}}
    });
    let (status, answer) = invoke(client, address, "submit-job", &submit).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["Outputs"]["res"]["statusCode"], "202", "{answer}");
    let encoded = answer["Outputs"]["msg"].as_str().expect("one msg string");
    let text = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
    (text, answer)
}

async fn submitted_message(client: &reqwest::Client, address: &str, rows: &[[f64; 6]]) -> String {
    submit(client, address, rows).await.0
}

/// The boundary between an inline job and a claim check, from both sides, for rows of three
/// widths. The message is the exact bytes the host enqueues: the runtime sends them as base64,
/// which the host decodes and enqueues unchanged (GetBindingValue in
/// HttpScriptInvocationResultExtensions.cs; BindAsyncCollectorAsync<byte[]> in FunctionBinding.cs),
/// and Azure Storage counts the base64 of those bytes against its 64 KiB (Azure.Storage.Queues
/// Constants.cs). Before, the string was re-indented by the host and grew past the limit.
#[tokio::test]
async fn the_inline_limit_is_decided_on_the_bytes_azure_storage_receives() {
    let (_storage, address, handle) = start_handler().await;
    let client = reqwest::Client::new();

    let wide = [
        1.0,
        6.575_123_456_78,
        296.123_456_789,
        15.312_345_678_9,
        396.912_345_678,
        4.981_234_567_89,
    ];
    let typical = [0.0, 6.575, 296.0, 15.3, 396.9, 4.98];
    let narrow = [0.0, 6.5, 296.0, 15.0, 396.0, 4.0];
    let mut boundaries = Vec::new();
    for row in [wide, typical, narrow] {
        let inline = |text: &str| {
            let message: JobMessage = serde_json::from_str(text).unwrap();
            message.rows_blob.is_none()
        };
        // Binary search for the largest inline batch, keeping the messages seen on both sides.
        let (mut low, mut high) = (1usize, 5_000usize);
        let mut largest = submitted_message(&client, &address, &vec![row; low]).await;
        let mut smallest_claim = submitted_message(&client, &address, &vec![row; high]).await;
        while high - low > 1 {
            let mid = (low + high) / 2;
            let text = submitted_message(&client, &address, &vec![row; mid]).await;
            if inline(&text) {
                (low, largest) = (mid, text);
            } else {
                (high, smallest_claim) = (mid, text);
            }
        }
        assert!(inline(&largest) && !inline(&smallest_claim), "{low}/{high}");
        let encoded = jobs::queue_text_len(largest.len());
        assert!(
            encoded <= jobs::MAX_QUEUE_MESSAGE_TEXT - jobs::QUEUE_MESSAGE_MARGIN,
            "{encoded}"
        );
        // The line is tight: one more row would have crossed it (within the few bytes by
        // which `submittedAt` varies from one message to the next).
        let with_one_more = largest.len() + serde_json::to_string(&row).unwrap().len() + 1;
        assert!(
            jobs::queue_text_len(with_one_more)
                > jobs::MAX_QUEUE_MESSAGE_TEXT - jobs::QUEUE_MESSAGE_MARGIN - 16,
            "{low} rows: {with_one_more}"
        );
        assert!(
            smallest_claim.len() < 1_000,
            "the claim check only points at the rows"
        );
        boundaries.push(low);
    }
    // Around 600 wide rows, around 1,500 typical ones, and more narrow ones.
    assert!((450..=750).contains(&boundaries[0]), "{boundaries:?}");
    assert!((1_200..=1_700).contains(&boundaries[1]), "{boundaries:?}");
    assert!(boundaries[2] > boundaries[1], "{boundaries:?}");
    // 5,000 rows never fit.
    let text = submitted_message(&client, &address, &vec![typical; 5_000]).await;
    let message: JobMessage = serde_json::from_str(&text).unwrap();
    assert_eq!(
        message.rows_blob,
        Some(format!("job-inputs/{}.json", message.job_id))
    );
    handle.stop(false).await;
}
