//! One invocation over the JSON protocol: bind inputs, POST `{Data, Metadata}` to
//! `/{FunctionName}`, then apply the outputs the handler returned.
//!
//! As on the host, output paths are resolved BEFORE the handler runs (a missing `{name}` fails
//! the invocation without calling it), and outputs only take effect when the handler answers
//! 2xx: any other status fails the invocation and Outputs and Logs are discarded.

use crate::binding_data::BindingData;
use crate::config::FunctionSpec;
use crate::worker::WorkerHandle;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use functions_custom_handler_protocol::function_json::{Binding, Direction};
use functions_custom_handler_protocol::host::{self, Bound};
use functions_custom_handler_protocol::{HttpResponse, InvocationRequest, InvocationResponse};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use storage::{MessageEncoding, Storage};

/// The header carrying the invocation id.
pub const INVOCATION_ID_HEADER: &str = "X-Azure-Functions-InvocationId";
/// The header carrying the host version.
pub const HOST_VERSION_HEADER: &str = "X-Azure-Functions-HostVersion";
/// What this host reports as its version (a 4.x host, and which local host built it).
pub const HOST_VERSION: &str = concat!("4.0.0-local-host.", env!("CARGO_PKG_VERSION"));

/// The storage accounts bindings use, by connection setting name, with the queues and
/// containers already known to exist (the host creates them for output bindings).
#[derive(Debug, Default)]
pub struct Connections {
    by_name: BTreeMap<String, Storage>,
    known_queues: Mutex<HashSet<(String, String)>>,
    known_containers: Mutex<HashSet<(String, String)>>,
}

impl Connections {
    /// Connections from built clients.
    pub fn new(by_name: BTreeMap<String, Storage>) -> Self {
        Self {
            by_name,
            ..Self::default()
        }
    }

    /// The client for connection `name`.
    pub fn get(&self, name: &str) -> Result<&Storage, String> {
        self.by_name
            .get(name)
            .ok_or_else(|| format!("no storage connection named `{name}` was configured"))
    }

    async fn ensure_queue(&self, connection: &str, queue: &str) -> Result<&Storage, String> {
        let storage = self.get(connection)?;
        let key = (connection.to_string(), queue.to_string());
        if !lock(&self.known_queues).contains(&key) {
            storage
                .ensure_queue(queue)
                .await
                .map_err(|e| e.to_string())?;
            lock(&self.known_queues).insert(key);
        }
        Ok(storage)
    }

    async fn ensure_container(
        &self,
        connection: &str,
        container: &str,
    ) -> Result<&Storage, String> {
        let storage = self.get(connection)?;
        let key = (connection.to_string(), container.to_string());
        if !lock(&self.known_containers).contains(&key) {
            storage
                .ensure_container(container)
                .await
                .map_err(|e| e.to_string())?;
            lock(&self.known_containers).insert(key);
        }
        Ok(storage)
    }

    /// Creates `queue` unless it is known to exist, then sends `wire` (already encoded).
    pub async fn send(&self, connection: &str, queue: &str, wire: &str) -> Result<(), String> {
        let storage = self.ensure_queue(connection, queue).await?;
        storage
            .send_message(queue, wire)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks leaves a valid set; keep using it.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The most a queue message's text may hold: Azure Storage refuses a longer one. The limit is
/// on the ENCODED text (`QueueClient.MessageMaxBytes`, 64 KiB, in Azure.Storage.Queues
/// `Constants.cs`; "the encoded message can be up to 64 KiB"), and the storage extension sends
/// bytes base64-encoded by default (`QueueMessageCodec.EncodeMessageBody`).
pub const MAX_QUEUE_MESSAGE_TEXT: usize = 64 * 1024;

/// Encodes message bytes for the wire per `messageEncoding`.
pub fn encode_wire(bytes: &[u8], encoding: MessageEncoding) -> String {
    match encoding {
        MessageEncoding::Base64 => STANDARD.encode(bytes),
        MessageEncoding::None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// The queue message texts an output value sends, each checked against the size Azure accepts.
pub fn queue_wire_messages(
    value: &Value,
    data_type: Option<functions_custom_handler_protocol::function_json::DataType>,
    encoding: MessageEncoding,
) -> Result<Vec<String>, String> {
    let Some(bound) = Bound::from_output(value, data_type) else {
        return Ok(Vec::new());
    };
    host::queue_messages(bound)?
        .iter()
        .map(|bytes| {
            let wire = encode_wire(bytes, encoding);
            if wire.len() > MAX_QUEUE_MESSAGE_TEXT {
                Err(format!(
                    "a queue message of {} bytes is {} bytes once encoded, over the {MAX_QUEUE_MESSAGE_TEXT} bytes Azure Storage accepts, so Azure fails this invocation",
                    bytes.len(),
                    wire.len()
                ))
            } else {
                Ok(wire)
            }
        })
        .collect()
}

/// The HTTP response for the `http` output `name` as the host reads it
/// ([`InvocationResponse::http_output`]). One the function did not set is still an object to
/// the host (`GetHttpOutputBindingResponse` in `Workers/Http/HttpScriptInvocationResultExtensions.cs`
/// returns an empty `ExpandoObject`), which `HttpBinding.CreateResult` sends as 200 with the
/// body `{}`; one set to `null` fails there (`ToString()` on null).
pub fn http_output(answer: &InvocationResponse, name: &str) -> Result<HttpResponse, String> {
    match answer.http_output(name) {
        Some(read) => read.map_err(|e| e.to_string()),
        None => Ok(HttpResponse::new(200).text("{}")),
    }
}

/// Reads the handler's answer as `DefaultHttpWorkerService.ProcessDefaultInvocationRequest`
/// does (`Workers/Http/DefaultHttpWorkerService.cs`): a non-2xx status fails the invocation and
/// discards Outputs and Logs (`EnsureSuccessStatusCode`); the body is read as JSON by
/// `ReadAsAsync`, which needs a JSON content type. An empty or `null` body is read as no
/// result, and the real host then never completes the invocation: it waits until
/// functionTimeout. Here that fails at once, with a sentence saying so.
pub fn read_answer(
    status: reqwest::StatusCode,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<InvocationResponse, String> {
    if !status.is_success() {
        return Err(format!(
            "the custom handler answered {status}; outputs and logs are discarded{}",
            excerpt(body)
        ));
    }
    let text = String::from_utf8_lossy(body);
    if text.trim().is_empty() || text.trim() == "null" {
        return Err(
            "the custom handler answered 2xx with no invocation result; Azure would wait until functionTimeout, this host fails the invocation now"
                .to_string(),
        );
    }
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if media != "application/json" && media != "text/json" {
        return Err(format!(
            "the custom handler answered with Content-Type `{}`; the host reads answers only as application/json",
            content_type.unwrap_or("(none)")
        ));
    }
    let not_a_response = |e: serde_json::Error| {
        format!(
            "the custom handler's answer is not an invocation response ({e}){}",
            excerpt(body)
        )
    };
    // Json.NET binds `Outputs`, `Logs` and `ReturnValue` whatever their case.
    let value = match serde_json::from_slice::<Value>(body).map_err(not_a_response)? {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, v)| {
                    let canonical = ["Outputs", "Logs", "ReturnValue"]
                        .into_iter()
                        .find(|c| c.eq_ignore_ascii_case(&key));
                    (canonical.map(str::to_string).unwrap_or(key), v)
                })
                .collect(),
        ),
        other => other,
    };
    serde_json::from_value(value).map_err(not_a_response)
}

/// A successful invocation.
#[derive(Debug, Clone, Default)]
pub struct Completed {
    /// The `http` output as the host reads it, for HTTP-triggered functions.
    pub http: Option<HttpResponse>,
}

/// Runs invocations against the handler and applies their outputs.
#[derive(Debug)]
pub struct Invoker {
    client: reqwest::Client,
    handler: WorkerHandle,
    connections: Arc<Connections>,
    encoding: MessageEncoding,
    ready_timeout: Duration,
}

impl Invoker {
    /// An invoker calling `handler`, with `timeout` per invocation (host.json functionTimeout).
    pub fn new(
        handler: WorkerHandle,
        connections: Arc<Connections>,
        encoding: MessageEncoding,
        timeout: Duration,
        ready_timeout: Duration,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build an HTTP client ({e})"))?;
        Ok(Self {
            client,
            handler,
            connections,
            encoding,
            ready_timeout,
        })
    }

    /// The HTTP client (no redirects, invocation timeout), shared with forwarding.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The handler's base URL, waiting while it restarts.
    pub async fn handler_url(&self) -> Result<String, String> {
        self.handler.ready_url(self.ready_timeout).await
    }

    /// The queue message encoding (host.json `extensions.queues.messageEncoding`).
    pub fn encoding(&self) -> MessageEncoding {
        self.encoding
    }

    /// The storage connections.
    pub fn connections(&self) -> &Connections {
        &self.connections
    }

    /// Runs one invocation of `function` with trigger values `data`, logging its outcome
    /// the way the host does. An `Err` means the invocation failed.
    pub async fn invoke(
        &self,
        function: &FunctionSpec,
        id: &str,
        data: Map<String, Value>,
        binding_data: BindingData,
    ) -> Result<Completed, String> {
        let started = Instant::now();
        log::info!("Executing 'Functions.{}' (Id={id})", function.name);
        let result = self.run(function, id, data, binding_data).await;
        let ms = started.elapsed().as_millis();
        match &result {
            Ok(_) => log::info!(
                "Executed 'Functions.{}' (Succeeded, Id={id}, Duration={ms}ms)",
                function.name
            ),
            Err(e) => log::error!(
                "Executed 'Functions.{}' (Failed, Id={id}, Duration={ms}ms): {e}",
                function.name
            ),
        }
        result
    }

    async fn run(
        &self,
        function: &FunctionSpec,
        id: &str,
        mut data: Map<String, Value>,
        binding_data: BindingData,
    ) -> Result<Completed, String> {
        // Where an invocation's time goes, for `RUST_LOG=local_host=debug` (bench/serverless.sh).
        let started = Instant::now();
        // Bind: resolve every blob path first, read inputs.
        let mut blob_outputs = Vec::new();
        for binding in &function.json.bindings {
            let Binding::Blob(blob) = binding else {
                continue;
            };
            let path = binding_data
                .resolve(&blob.path)
                .map_err(|e| format!("binding `{}`: {e}", blob.name))?;
            let connection = FunctionSpec::connection_of(binding).unwrap_or_default();
            if matches!(blob.direction, Direction::In | Direction::InOut) {
                let storage = self.connections.get(connection)?;
                let bytes = storage
                    .get_blob_path(&path)
                    .await
                    .map_err(|e| format!("binding `{}`: {e}", blob.name))?;
                data.insert(
                    blob.name.to_string(),
                    host::input_value(bytes.as_deref(), blob.data_type),
                );
            }
            if matches!(blob.direction, Direction::Out | Direction::InOut) {
                blob_outputs.push((blob, connection.to_string(), path));
            }
        }

        let request = InvocationRequest {
            data,
            metadata: binding_data.metadata(),
            forwarded_bodies: Default::default(),
        };
        let bound = started.elapsed();
        let base = self.handler_url().await?;
        let response = self
            .client
            .post(format!("{base}/{}", function.name))
            .header(INVOCATION_ID_HEADER, id)
            .header(HOST_VERSION_HEADER, HOST_VERSION)
            .header(
                reqwest::header::USER_AGENT,
                format!("Azure-Functions-Host/{HOST_VERSION}"),
            )
            .json(&request)
            .send()
            .await
            .map_err(|e| format!("the custom handler could not be reached ({e})"))?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("the custom handler's answer could not be read ({e})"))?;
        let answer = read_answer(status, content_type.as_deref(), &body)?;
        let answered = started.elapsed();
        for line in &answer.logs {
            log::info!("[{} {id}] {line}", function.name);
        }

        // `GetBindingValue` of null is null: such an output binds nothing.
        let output = |name: &str| answer.output_value(name).filter(|v| !v.is_null());
        let mut completed = Completed::default();
        for binding in &function.json.bindings {
            match binding {
                Binding::Http(http) => {
                    completed.http = Some(
                        http_output(&answer, &http.name)
                            .map_err(|e| format!("output `{}`: {e}", http.name))?,
                    );
                }
                Binding::Queue(queue) => {
                    let Some(value) = output(&queue.name) else {
                        continue;
                    };
                    let connection = FunctionSpec::connection_of(binding).unwrap_or_default();
                    let messages = queue_wire_messages(value, queue.data_type, self.encoding)
                        .map_err(|e| format!("output `{}`: {e}", queue.name))?;
                    for wire in messages {
                        self.connections
                            .send(connection, &queue.queue_name, &wire)
                            .await
                            .map_err(|e| format!("output `{}`: {e}", queue.name))?;
                    }
                }
                _ => {}
            }
        }
        for (blob, connection, path) in blob_outputs {
            let Some(value) = output(&blob.name) else {
                continue;
            };
            let Some(bound) = Bound::from_output(value, blob.data_type) else {
                continue;
            };
            let content = host::blob_content(bound);
            let parsed = storage::BlobPath::parse(&path)
                .map_err(|e| format!("output `{}`: {e}", blob.name))?;
            let storage = self
                .connections
                .ensure_container(&connection, &parsed.container)
                .await
                .map_err(|e| format!("output `{}`: {e}", blob.name))?;
            storage
                .put_blob(
                    &parsed.container,
                    &parsed.name,
                    content,
                    "application/octet-stream",
                )
                .await
                .map_err(|e| format!("output `{}`: {e}", blob.name))?;
        }
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        log::debug!(
            "[{} {id}] inputs bound in {:.1} ms, the handler answered in {:.1} ms, outputs applied in {:.1} ms",
            function.name,
            ms(bound),
            ms(answered - bound),
            ms(started.elapsed() - answered)
        );
        Ok(completed)
    }
}

fn excerpt(body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    let text = String::from_utf8_lossy(body);
    let short: String = text.chars().take(300).collect();
    format!(": {short}")
}
