//! The HTTP front door: `/<routePrefix>/<route>` → the function whose template and methods
//! match, key check, then forwarding or the JSON protocol.
//!
//! Host behaviours kept: a path that matches a route but not its methods is 404 (not 405);
//! a missing or wrong key is 401 with an empty body; a failed invocation is 500 with an empty
//! body (details go to the log).

use crate::aspnet;
use crate::binding_data::BindingData;
use crate::config::{FunctionSpec, Keys};
use crate::invocation::{HOST_VERSION, HOST_VERSION_HEADER, INVOCATION_ID_HEADER, Invoker};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use functions_custom_handler_protocol::HttpRequest as TriggerRequest;
use functions_custom_handler_protocol::function_json::HttpTrigger;
use functions_custom_handler_protocol::route::RouteTemplate;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// The largest request body accepted (the host's limit is 100 MB).
pub const MAX_BODY_BYTES: usize = 100 * 1024 * 1024;

/// Hop-by-hop headers the client library writes itself. The host copies them (it filters
/// nothing), but they describe this connection, not the caller's.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The headers .NET keeps on a request's content, not on the request
/// (dotnet/runtime `System/Net/Http/Headers/KnownHeaders.cs`, `HttpHeaderType.Content`): the
/// host's `Headers.TryAddWithoutValidation` refuses every one of them, and only Content-Type
/// and Content-Length are set again, on the body (azure-functions-host
/// `Extensions/HttpRequestExtensions.cs`, `ToHttpRequestMessage`). So a forwarded request
/// never carries `Content-Encoding`.
const CONTENT_HEADERS: [&str; 11] = [
    "allow",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "expires",
    "last-modified",
];

/// One HTTP-triggered function as the front door sees it.
#[derive(Debug, Clone)]
pub struct HttpRoute {
    /// The function.
    pub function: Arc<FunctionSpec>,
    /// Its route.
    pub template: RouteTemplate,
    /// Its trigger binding.
    pub trigger: HttpTrigger,
    /// Whether its requests are forwarded as-is.
    pub forward: bool,
}

/// Everything the front door needs, built once.
#[derive(Debug)]
pub struct FrontDoor {
    /// The route prefix without slashes (`api`), possibly empty.
    pub prefix: String,
    /// Routes in precedence order.
    pub routes: Vec<HttpRoute>,
    /// The keys.
    pub keys: Keys,
    /// The invoker.
    pub invoker: Arc<Invoker>,
    /// The runtime that owns storage and handler connections (not an actix worker's).
    pub runtime: tokio::runtime::Handle,
}

impl FrontDoor {
    /// Orders `routes` so that more specific templates are tried first.
    pub fn sort_routes(routes: &mut [HttpRoute]) {
        routes.sort_by(|a, b| {
            a.template
                .precedence()
                .cmp(&b.template.precedence())
                .then_with(|| a.function.name.cmp(&b.function.name))
        });
    }

    fn route_path<'a>(&self, path: &'a str) -> Option<&'a str> {
        if self.prefix.is_empty() {
            return Some(path);
        }
        let rest = path.strip_prefix('/')?;
        let head = rest.get(..self.prefix.len())?;
        if !head.eq_ignore_ascii_case(&self.prefix) {
            return None;
        }
        let tail = &rest[self.prefix.len()..];
        (tail.is_empty() || tail.starts_with('/')).then_some(tail)
    }
}

/// The route table: every request goes to [`dispatch`].
pub fn configure(cfg: &mut web::ServiceConfig, door: Arc<FrontDoor>) {
    cfg.app_data(web::Data::from(door))
        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .default_service(web::to(dispatch));
}

async fn dispatch(
    req: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
    door: web::Data<FrontDoor>,
) -> HttpResponse {
    // Kestrel's limit (`FUNCTIONS_REQUEST_BODY_SIZE_LIMIT`, 100 MB by default) throws when the
    // HTTP binding reads the body, and the host's exception middleware answers 500, not 413
    // (azure-functions-host `Middleware/HttpRequestBodySizeMiddleware.cs`, azure-functions-host#10519).
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            log::error!(
                "{} {} -> 500: the body could not be read ({e}); the host's limit is {MAX_BODY_BYTES} bytes",
                req.method(),
                req.path()
            );
            return HttpResponse::InternalServerError().finish();
        }
    };
    // Kestrel answers a NUL in the path itself, with an empty 400.
    let Ok(normalized) = aspnet::kestrel_path(req.path()) else {
        return HttpResponse::BadRequest().finish();
    };
    let Some(path) = door.route_path(&normalized) else {
        return not_found(&req);
    };
    let matching: Vec<(&HttpRoute, BTreeMap<String, String>)> = door
        .routes
        .iter()
        .filter_map(|r| r.template.matches_decoded(path).map(|p| (r, p)))
        .collect();
    let Some((route, params)) = matching
        .into_iter()
        .find(|(r, _)| r.trigger.accepts(req.method().as_str()))
    else {
        return not_found(&req);
    };
    let query = query_pairs(req.query_string());
    let presented = presented_key(&req, &query);
    if !door
        .keys
        .allows(route.trigger.auth_level, presented.as_deref())
    {
        log::info!(
            "{} {} -> 401: function `{}` needs a {} key (x-functions-key header or code query parameter)",
            req.method(),
            req.path(),
            route.function.name,
            route.trigger.auth_level
        );
        return HttpResponse::Unauthorized().finish();
    }
    let route = route.clone();
    let door = door.into_inner();
    let runtime = door.runtime.clone();
    let parts = RequestParts::from(
        &req,
        body,
        query,
        presented.is_some(),
        route.trigger.auth_level,
    );
    // Storage and handler connections live on the host's runtime, not on this worker's.
    let joined = runtime
        .spawn(async move {
            if route.forward {
                forward(&door, &route, parts).await
            } else {
                invoke(&door, &route, parts, params).await
            }
        })
        .await;
    let reply = match joined {
        Ok(reply) => reply,
        Err(e) => {
            log::error!("the invocation task failed: {e}");
            Reply::empty(500)
        }
    };
    reply.into_response()
}

fn not_found(req: &HttpRequest) -> HttpResponse {
    // The host's root answers with a page saying the app is running (when no function
    // claims `/`); keep that signal.
    if req.path() == "/" {
        return HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("Your Functions app (local-host) is up and running.\n");
    }
    HttpResponse::NotFound().finish()
}

/// A request, copied out of actix so the work can move to another runtime.
pub(crate) struct RequestParts {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) path_and_query: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: web::Bytes,
    pub(crate) has_length: bool,
    pub(crate) content_type: Option<String>,
    pub(crate) identities: Value,
}

impl RequestParts {
    fn from(
        req: &HttpRequest,
        body: web::Bytes,
        query: Vec<(String, String)>,
        keyed: bool,
        level: functions_custom_handler_protocol::function_json::AuthLevel,
    ) -> Self {
        let info = req.connection_info();
        let path_and_query = req
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str().to_string())
            .unwrap_or_else(|| req.path().to_string());
        let headers = req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        // Like the host: a body only when Content-Length says there is one.
        let has_length = req
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0);
        let content_type = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Self {
            method: req.method().as_str().to_string(),
            url: format!("{}://{}{}", info.scheme(), info.host(), path_and_query),
            path_and_query,
            query,
            headers,
            body,
            has_length,
            content_type,
            identities: identities(keyed, level),
        }
    }
}

/// The claims identity the host attaches when a key authorized the call.
fn identities(
    keyed: bool,
    level: functions_custom_handler_protocol::function_json::AuthLevel,
) -> Value {
    if !keyed || level == functions_custom_handler_protocol::function_json::AuthLevel::Anonymous {
        return json!([]);
    }
    let level = match level {
        functions_custom_handler_protocol::function_json::AuthLevel::Admin => "Admin",
        _ => "Function",
    };
    json!([{
        "AuthenticationType": "WebJobsAuthLevel",
        "IsAuthenticated": true,
        "Actor": null,
        "BootstrapContext": null,
        "Claims": [
            {"Type": "http://schemas.microsoft.com/2017/07/functions/claims/authlevel", "Value": level},
            {"Type": "http://schemas.microsoft.com/2017/07/functions/claims/keyid", "Value": "default"}
        ],
        "Label": null,
        "Name": null,
        "NameClaimType": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
        "RoleClaimType": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
    }])
}

/// The key a request presents: the `x-functions-key` header, else the `code` query parameter.
pub(crate) fn presented_key(req: &HttpRequest, query: &[(String, String)]) -> Option<String> {
    req.headers()
        .get("x-functions-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            query
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("code"))
                .map(|(_, v)| v.clone())
        })
}

pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Query parameters with repeated keys comma-joined, in first-seen order.
fn joined_query(pairs: &[(String, String)]) -> Vec<(String, String)> {
    let mut joined: Vec<(String, String)> = Vec::new();
    for (key, value) in pairs {
        match joined.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(value);
            }
            None => joined.push((key.clone(), value.clone())),
        }
    }
    joined
}

/// The query as the host rebuilds it for a forwarded request: `GetQueryCollectionAsDictionary`
/// (repeated keys comma-joined), then `QueryHelpers.AddQueryString`, which escapes keys and
/// values with `Uri.EscapeDataString` (only RFC 3986 unreserved characters stay as they are).
fn rebuilt_query(pairs: &[(String, String)]) -> String {
    let escape = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                other => format!("%{other:02X}"),
            })
            .collect::<String>()
    };
    joined_query(pairs)
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn into_response(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut builder = HttpResponse::build(status);
        for (name, value) in &self.headers {
            if HOP_BY_HOP.contains(&name.to_ascii_lowercase().as_str()) {
                continue;
            }
            builder.append_header((name.as_str(), value.as_str()));
        }
        builder.body(self.body)
    }
}

/// The `Data` and binding data the host builds for an HTTP-triggered invocation:
/// `GetRequestAsJObject` (src/WebJobs.Script/Extensions/HttpRequestExtensions.cs) for the trigger
/// value, `GetRequestBindingData` (WebJobs.Extensions.Http) for the binding data.
pub(crate) fn http_invocation(
    function_name: &str,
    trigger_name: &str,
    parts: &RequestParts,
    params: BTreeMap<String, String>,
) -> Result<(Map<String, Value>, BindingData), String> {
    let query = joined_query(&parts.query);
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in &parts.headers {
        headers.entry(name.clone()).or_default().push(value.clone());
    }
    let binary =
        functions_custom_handler_protocol::is_binary_content_type(parts.content_type.as_deref());
    // The trigger carries the body's bytes; serialised, they become base64 for a binary
    // type and the text otherwise, as the host sends them.
    let text = (parts.has_length && !binary).then(|| aspnet::stream_reader_text(&parts.body));
    let body: bytes::Bytes = match (&text, parts.has_length) {
        (Some(text), _) => text.clone().into(),
        (None, true) => parts.body.clone(),
        (None, false) => bytes::Bytes::new(),
    };

    let mut binding_data = BindingData::new(function_name);
    if let Some(text) = text.as_deref() {
        binding_data.add_json_properties(text);
    }
    // `GetRequestBindingData` (WebJobs.Extensions.Http `HttpTriggerAttributeBindingProvider.cs`):
    // body properties, then each query parameter but `code` with the LAST value of a repeated
    // key (`GetQueryParameterDictionary`, "last one wins"), then route values; then `Query`
    // (last values, `code` kept) and `Headers` (comma-joined) as objects, unless a key of that
    // name is already there.
    let mut last_values: Vec<(String, String)> = Vec::new();
    for (key, value) in &parts.query {
        match last_values.iter_mut().find(|(k, _)| k == key) {
            Some((_, existing)) => existing.clone_from(value),
            None => last_values.push((key.clone(), value.clone())),
        }
    }
    for (key, value) in last_values
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("code"))
    {
        binding_data.add(key, Value::String(value.clone()));
    }
    for (key, value) in &params {
        binding_data.add(key, Value::String(value.clone()));
    }
    let query_object: Map<String, Value> = last_values
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let header_object: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.join(","))))
        .collect();
    for (key, object) in [("Query", query_object), ("Headers", header_object)] {
        if !binding_data.contains(key) {
            binding_data.add_raw(key, Value::Object(object), None);
        }
    }

    let mut trigger = TriggerRequest::new(parts.method.clone(), parts.url.clone());
    trigger.query = query.into_iter().collect();
    trigger.headers = headers;
    trigger.params = params;
    trigger.identities = parts.identities.clone();
    trigger.body = body;
    let trigger = serde_json::to_value(&trigger)
        .map_err(|e| format!("cannot serialize the HTTP trigger of `{function_name}`: {e}"))?;
    let mut data = Map::new();
    data.insert(trigger_name.to_string(), trigger);
    Ok((data, binding_data))
}

async fn invoke(
    door: &FrontDoor,
    route: &HttpRoute,
    parts: RequestParts,
    params: BTreeMap<String, String>,
) -> Reply {
    let function = &route.function;
    let id = uuid::Uuid::new_v4().to_string();
    let (data, binding_data) =
        match http_invocation(&function.name, &route.trigger.name, &parts, params) {
            Ok(built) => built,
            Err(e) => {
                log::error!("{e}");
                return Reply::empty(500);
            }
        };
    match door.invoker.invoke(function, &id, data, binding_data).await {
        // `HttpResponse::from_output` already applied the host's defaults (status, content type).
        Ok(completed) => match completed.http {
            Some(response) => Reply {
                status: response.status,
                headers: response.headers.into_iter().collect(),
                body: response.body.unwrap_or_default().to_vec(),
            },
            None => Reply::empty(204),
        },
        Err(_) => Reply::empty(500),
    }
}

async fn forward(door: &FrontDoor, route: &HttpRoute, parts: RequestParts) -> Reply {
    let function = &route.function.name;
    let id = uuid::Uuid::new_v4().to_string();
    let started = Instant::now();
    log::info!("Executing 'Functions.{function}' (forwarded, Id={id})");
    let result = forward_once(door, &id, parts).await;
    let ms = started.elapsed().as_millis();
    match result {
        Ok(reply) => {
            log::info!("Executed 'Functions.{function}' (Succeeded, Id={id}, Duration={ms}ms)");
            reply
        }
        Err(e) => {
            log::error!("Executed 'Functions.{function}' (Failed, Id={id}, Duration={ms}ms): {e}");
            Reply::empty(500)
        }
    }
}

async fn forward_once(door: &FrontDoor, id: &str, parts: RequestParts) -> Result<Reply, String> {
    let base = door.invoker.handler_url().await?;
    let method = reqwest::Method::from_bytes(parts.method.as_bytes())
        .map_err(|e| format!("the method {} cannot be forwarded ({e})", parts.method))?;
    // `HttpRequestExtensions.ToHttpRequestMessage` (src/WebJobs.Script/Extensions/): the path,
    // the query rebuilt from the parsed dictionary, every header, and a body only when the
    // request had a Content-Length above 0.
    let path = parts
        .path_and_query
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    let query = rebuilt_query(&parts.query);
    let target = if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{query}")
    };
    // A chunked request has no Content-Length, so the host attaches no body, but it copies
    // `Transfer-Encoding: chunked`; .NET's SocketsHttpHandler then refuses to send a chunked
    // request without content (`ValidateAndNormalizeRequest`), and the caller gets the
    // host's empty 500.
    let chunked = parts.headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("transfer-encoding")
            && value
                .split(',')
                .any(|coding| coding.trim().eq_ignore_ascii_case("chunked"))
    });
    if chunked && !parts.has_length {
        return Err(
            "the request is chunked (no Content-Length): the host forwards no body with it, and .NET refuses to send a chunked request without one"
                .to_owned(),
        );
    }
    let mut request = door.invoker.client().request(method, target);
    let mut user_agent = None;
    for (name, value) in &parts.headers {
        let lower = name.to_ascii_lowercase();
        if HOP_BY_HOP.contains(&lower.as_str()) || CONTENT_HEADERS.contains(&lower.as_str()) {
            continue;
        }
        // The host adds its own product to the caller's (`UserAgent.ParseAdd`).
        if lower == "user-agent" {
            user_agent = Some(value.clone());
            continue;
        }
        request = request.header(name.as_str(), value.as_str());
    }
    let host_agent = format!("Azure-Functions-Host/{HOST_VERSION}");
    let mut request = request
        .header(INVOCATION_ID_HEADER, id)
        .header(HOST_VERSION_HEADER, HOST_VERSION)
        .header(
            reqwest::header::USER_AGENT,
            match user_agent {
                Some(caller) => format!("{caller} {host_agent}"),
                None => host_agent,
            },
        );
    if parts.has_length {
        if let Some(content_type) = &parts.content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type.as_str());
        }
        request = request.body(parts.body.to_vec());
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("the custom handler could not be reached ({e})"))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("the custom handler's answer could not be read ({e})"))?
        .to_vec();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // GetQueryCollectionAsDictionary + QueryHelpers.AddQueryString, as in
    // src/WebJobs.Script/Extensions/HttpRequestExtensions.cs (azure-functions-host v4.1037.0).
    #[test]
    fn a_forwarded_query_is_rebuilt_joined_and_escaped() {
        let pairs = query_pairs("a=1&b=x+y&a=2&c=%2F~");
        assert_eq!(rebuilt_query(&pairs), "a=1%2C2&b=x%20y&c=%2F~");
        assert_eq!(rebuilt_query(&[]), "");
    }

    #[test]
    fn repeated_query_keys_are_comma_joined_in_order() {
        let pairs = query_pairs("a=1&b=x%20y&a=2");
        assert_eq!(
            joined_query(&pairs),
            vec![
                ("a".to_string(), "1,2".to_string()),
                ("b".to_string(), "x y".to_string())
            ]
        );
    }
}
