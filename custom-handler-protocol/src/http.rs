//! The HTTP trigger value (`Data.<name>`) and the `http` output value (`Outputs.<name>`).

use super::{DecodeError, as_object, get_ci, plain_text, type_name};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// An HTTP request as the host hands it to a function: `Data.<trigger name>`, with its body
/// decoded to the bytes the caller sent.
///
/// Serializes to the host's shape (`Url`, `Method`, `Query`, `Headers` as arrays, `Params`,
/// `Identities`, `Body`), so a local host can build invocations with the same type.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(try_from = "Value")]
#[non_exhaustive]
pub struct HttpRequest {
    /// The URL the caller used, including `/api/...` and the query string.
    pub url: String,
    /// The HTTP method, upper case as the host sends it (`POST`).
    pub method: String,
    /// Query parameters; the host joins repeated keys with commas.
    pub query: BTreeMap<String, String>,
    /// Request headers; each name maps to its values in order.
    pub headers: BTreeMap<String, Vec<String>>,
    /// Route parameters, such as `id` for the route `jobs/{id}`.
    pub params: BTreeMap<String, String>,
    /// The host's claims identities, kept raw because nothing here interprets them.
    pub identities: Value,
    /// The body: the bytes of a forwarded request as they came; otherwise decoded from the
    /// host's text (base64 for `application/octet-stream` and `multipart/*`). Empty when
    /// there was none.
    pub body: Bytes,
}

impl Serialize for HttpRequest {
    /// The host's shape: `Body` only when there is one, as base64 for binary content types
    /// and as text otherwise.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = Map::new();
        map.insert("Url".into(), Value::String(self.url.clone()));
        map.insert("Method".into(), Value::String(self.method.clone()));
        map.insert("Query".into(), serde_json::json!(self.query));
        map.insert("Headers".into(), serde_json::json!(self.headers));
        map.insert("Params".into(), serde_json::json!(self.params));
        if !self.identities.is_null() {
            map.insert("Identities".into(), self.identities.clone());
        }
        if !self.body.is_empty() {
            let text = if is_binary_content_type(self.content_type()) {
                STANDARD.encode(&self.body)
            } else {
                String::from_utf8_lossy(&self.body).into_owned()
            };
            map.insert("Body".into(), Value::String(text));
        }
        Value::Object(map).serialize(serializer)
    }
}

impl HttpRequest {
    /// The first value of header `name`, compared ignoring ASCII case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, values)| values.first())
            .map(String::as_str)
    }

    /// The `Content-Type` header, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// A request for `method url` with no headers and no body, for tests and local hosts.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            url: url.into(),
            ..Self::default()
        }
    }

    /// The same request with header `name` added.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers
            .entry(name.into())
            .or_default()
            .push(value.into());
        self
    }

    /// The same request with `body`.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, DecodeError> {
        std::str::from_utf8(&self.body)
            .map_err(|e| DecodeError::content(format!("the request body is not UTF-8 text ({e})")))
    }

    /// The body parsed as JSON into `T`; an empty body is an error like any other invalid JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        let bytes = &self.body;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(DecodeError::content(
                "the request body is empty; send a JSON document",
            ));
        }
        serde_json::from_slice(bytes).map_err(|e| {
            DecodeError::content(format!("the request body is not the expected JSON: {e}"))
        })
    }

    /// Decodes the value of an HTTP trigger binding named `name` (used in error sentences).
    pub(crate) fn from_binding(name: &str, value: &Value) -> Result<Self, DecodeError> {
        let Some(map) = as_object(value) else {
            return Err(DecodeError::new(format!(
                "the HTTP trigger `{name}` is {} where an object was expected",
                type_name(value)
            )));
        };
        let text = |key: &str| -> Result<String, DecodeError> {
            match get_ci(&map, key) {
                Some(v) => plain_text(v).ok_or_else(|| {
                    DecodeError::new(format!(
                        "the HTTP trigger `{name}` has a {key} that is {} where a string was expected",
                        type_name(v)
                    ))
                }),
                None => Err(DecodeError::new(format!(
                    "the HTTP trigger `{name}` has no {key}"
                ))),
            }
        };
        let url = text("Url")?;
        let method = text("Method")?;
        let query = string_map(name, "Query", get_ci(&map, "Query"))?;
        let params = string_map(name, "Params", get_ci(&map, "Params"))?;
        let headers = header_map(name, get_ci(&map, "Headers"))?;
        let identities = get_ci(&map, "Identities").cloned().unwrap_or(Value::Null);
        let text = match get_ci(&map, "Body") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            // Some hosts hand a JSON body over already parsed; give the function its text.
            Some(other) => Some(other.to_string()),
        };
        let mut request = Self {
            url,
            method,
            query,
            headers,
            params,
            identities,
            body: Bytes::new(),
        };
        if let Some(text) = text {
            request.body = request.decode_body(text)?;
        }
        Ok(request)
    }

    /// The bytes a body sent as `text` stands for: the host base64-encodes bodies of
    /// `application/octet-stream` and `multipart/*` requests only; every other body arrives
    /// as its text (`Extensions/HttpRequestExtensions.cs`, azure-functions-host v4.1037.0).
    pub(crate) fn decode_body(&self, text: String) -> Result<Bytes, DecodeError> {
        if is_binary_content_type(self.content_type()) {
            STANDARD.decode(text.trim()).map(Bytes::from).map_err(|e| {
                DecodeError::new(format!(
                    "the request body is declared as {} but is not valid base64 ({e})",
                    self.content_type().unwrap_or("binary")
                ))
            })
        } else {
            Ok(Bytes::from(text))
        }
    }
}

impl TryFrom<Value> for HttpRequest {
    type Error = DecodeError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::from_binding("req", &value)
    }
}

/// Whether the host base64-encodes bodies of this content type.
pub fn is_binary_content_type(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media == "application/octet-stream" || media.starts_with("multipart/")
}

/// An object of scalars (or a string holding one, as in the docs' `"Query": "{}"`) as strings.
fn string_map(
    name: &str,
    field: &str,
    value: Option<&Value>,
) -> Result<BTreeMap<String, String>, DecodeError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let Some(map) = as_object(value) else {
        return Err(DecodeError::new(format!(
            "the HTTP trigger `{name}` has a {field} that is {} where an object was expected",
            type_name(value)
        )));
    };
    let mut out = BTreeMap::new();
    for (key, v) in map.iter() {
        let text = match v {
            Value::Array(items) => items
                .iter()
                .filter_map(plain_text)
                .collect::<Vec<_>>()
                .join(","),
            Value::Null => String::new(),
            other => plain_text(other).ok_or_else(|| {
                DecodeError::new(format!(
                    "the HTTP trigger `{name}` has a {field} value `{key}` that is {}",
                    type_name(other)
                ))
            })?,
        };
        out.insert(key.clone(), text);
    }
    Ok(out)
}

/// Headers as arrays of strings; a single string per header is accepted too.
fn header_map(
    name: &str,
    value: Option<&Value>,
) -> Result<BTreeMap<String, Vec<String>>, DecodeError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let Some(map) = as_object(value) else {
        return Err(DecodeError::new(format!(
            "the HTTP trigger `{name}` has Headers that are {} where an object was expected",
            type_name(value)
        )));
    };
    let mut out = BTreeMap::new();
    for (key, v) in map.iter() {
        let values = match v {
            Value::Array(items) => items
                .iter()
                .map(|item| {
                    plain_text(item).ok_or_else(|| {
                        DecodeError::new(format!(
                            "the HTTP trigger `{name}` has a header `{key}` holding {}",
                            type_name(item)
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            Value::Null => Vec::new(),
            other => vec![plain_text(other).ok_or_else(|| {
                DecodeError::new(format!(
                    "the HTTP trigger `{name}` has a header `{key}` that is {}",
                    type_name(other)
                ))
            })?],
        };
        out.insert(key.clone(), values);
    }
    Ok(out)
}

/// The value of an `http` output binding: what the host sends back to the HTTP caller.
///
/// Serializes as `{"statusCode": "201", "headers": {...}, "body": "..."}`, with the status as a
/// string because that is what Microsoft's samples send and every host build accepts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Value")]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// Response headers; one value per name.
    pub headers: BTreeMap<String, String>,
    /// The body; `None` sends no body. Only a forwarded function's response may hold bytes
    /// that are not UTF-8: the JSON protocol carries the body as text.
    pub body: Option<Bytes>,
}

impl HttpResponse {
    /// A response with `status`, no headers and no body.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: BTreeMap::new(),
            body: None,
        }
    }

    /// Sets the body to `value` as JSON and the content type to `application/json`.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self, serde_json::Error> {
        let body = serde_json::to_vec(value)?;
        Ok(self
            .header("Content-Type", "application/json")
            .with_body(body.into()))
    }

    /// Sets the body to `text`. The content type becomes UTF-8 plain text unless one was
    /// already set, so `.header("Content-Type", "text/csv").text(csv)` keeps the CSV type.
    pub fn text(self, text: impl Into<String>) -> Self {
        let with_type = if self.header_value("Content-Type").is_some() {
            self
        } else {
            self.header("Content-Type", "text/plain; charset=utf-8")
        };
        with_type.with_body(Bytes::from(text.into()))
    }

    /// Sets the body to `bytes` with `content_type`, such as `image/png`.
    ///
    /// Bytes that are not UTF-8 reach the caller only from a function the host forwards
    /// (`enableForwardingHttpRequest`, one `httpTrigger` and one `http` output): the JSON
    /// protocol carries a body as text, so there such a response fails the invocation.
    pub fn bytes(self, content_type: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        self.header("Content-Type", content_type)
            .with_body(bytes.into())
    }

    /// Sets header `name`, replacing a header of the same name in any case.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.headers.retain(|k, _| !k.eq_ignore_ascii_case(&name));
        self.headers.insert(name, value.into());
        self
    }

    /// Header `name`, compared ignoring ASCII case.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn with_body(mut self, body: Bytes) -> Self {
        self.body = Some(body);
        self
    }

    /// Reads an `http` output value the way the host does.
    ///
    /// The host deserialises the output into `HttpOutputBindingResponse` (`statusCode`, `status`,
    /// `body`, `headers`, case-insensitive; `src/WebJobs.Script/Workers/Http/HttpOutputBindingResponse.cs`),
    /// then `HttpBinding.ParseResponseObject` and `TryParseStatusCode`
    /// (`src/WebJobs.Script/Binding/Http/HttpBinding.cs`) and `RawScriptResult`
    /// (`src/WebJobs.Script/Binding/Http/RawScriptResult.cs`), azure-functions-host v4.1037.0:
    /// - `statusCode` as a number or a numeric string; missing or not numeric gives 200. A
    ///   `status` field is never read: `statusCode` is always present, if null, in the object
    ///   the host builds, so `TryParseStatusCode` never falls back to `status`;
    /// - a string `body` is sent as it is; any other body as its INDENTED JSON text;
    /// - the Content-Type always carries a charset (`; charset=utf-8` is added), and without
    ///   one the response goes out as `text/plain; charset=utf-8`.
    pub fn from_output(value: &Value) -> Result<Self, DecodeError> {
        let Some(map) = as_object(value) else {
            return Err(DecodeError::new(format!(
                "the http output is {} where an object was expected",
                type_name(value)
            )));
        };
        let status = match get_ci(&map, "statusCode") {
            None | Some(Value::Null) => 200,
            Some(v) => parse_status(v)?,
        };
        let headers = match get_ci(&map, "headers") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(h)) => response_headers(h)?,
            Some(other) => {
                return Err(DecodeError::new(format!(
                    "the http output has headers that are {} where an object was expected",
                    type_name(other)
                )));
            }
        };
        let body = match get_ci(&map, "body") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Bool(b)) => Some(if *b { "True" } else { "False" }.to_string()),
            Some(other) => Some(serde_json::to_string_pretty(other).unwrap_or_default()),
        }
        .map(Bytes::from);
        Ok(Self {
            status,
            headers: with_charset(headers),
            body,
        })
    }

    /// Reads a `ReturnValue` bound to an `http` output named `$return` the way the host does:
    /// not through `HttpOutputBindingResponse` but `HttpBinding.CreateResult`
    /// (`src/WebJobs.Script/Binding/Http/HttpBinding.cs`). A string holding JSON is parsed
    /// first. An object with a `body` is a response: `statusCode`, or else `status`, and the
    /// body (an object body goes out compact, as an `ExpandoObject`). Anything else is itself
    /// the body (an object as indented JSON), with 200.
    pub fn from_return_value(value: &Value) -> Result<Self, DecodeError> {
        let parsed;
        let value = match value {
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(v @ (Value::Object(_) | Value::Array(_))) => {
                    parsed = v;
                    &parsed
                }
                _ => value,
            },
            other => other,
        };
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            other => other.to_string(),
        };
        let Value::Object(map) = value else {
            let body = match value {
                Value::Array(_) => serde_json::to_string_pretty(value).unwrap_or_default(),
                Value::Null => String::new(),
                other => text(other),
            };
            return Ok(Self {
                status: 200,
                headers: with_charset(BTreeMap::new()),
                body: Some(body.into()),
            });
        };
        let Some(body) = get_ci(map, "body") else {
            return Ok(Self {
                status: 200,
                headers: with_charset(BTreeMap::new()),
                body: Some(
                    serde_json::to_string_pretty(value)
                        .unwrap_or_default()
                        .into(),
                ),
            });
        };
        // `TryParseStatusCode`: `statusCode`, else `status`; an int or an int string.
        let status = match get_ci(map, "statusCode").or_else(|| get_ci(map, "status")) {
            None | Some(Value::Null) => 200,
            Some(v) => parse_status(v)?,
        };
        let headers = match get_ci(map, "headers") {
            Some(Value::Object(h)) => response_headers(h)?,
            _ => BTreeMap::new(),
        };
        let body = match body {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other @ (Value::Object(_) | Value::Array(_)) => Some(other.to_string()),
            other => Some(text(other)),
        }
        .map(Bytes::from);
        Ok(Self {
            status,
            headers: with_charset(headers),
            body,
        })
    }
}

/// The string formatter (ASP.NET Core's `TextOutputFormatter.WriteAsync`, which
/// `RawScriptResult` uses) always sends a charset: the function's type gets `; charset=utf-8`
/// unless it names one, and a response with no type (even with no body) goes out as UTF-8 text.
fn with_charset(mut headers: BTreeMap<String, String>) -> BTreeMap<String, String> {
    match headers
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        Some((_, value)) if !value.to_ascii_lowercase().contains("charset=") => {
            value.push_str("; charset=utf-8");
        }
        Some(_) => {}
        None => {
            headers.insert("Content-Type".into(), DEFAULT_CONTENT_TYPE.into());
        }
    }
    headers
}

/// What the host's string formatter sends a body as when the function names no Content-Type.
const DEFAULT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// `statusCode` as the host reads it: an integer, or a string `int.TryParse` accepts; other
/// strings mean 200. A number outside 100-999 cannot be sent (ASP.NET refuses it), and a
/// value that is neither a number nor a string fails the host's deserialisation.
fn parse_status(value: &Value) -> Result<u16, DecodeError> {
    // `StatusCode` is a string property: a number arrives as its text, and `201.0` is not an int.
    let parsed = match value {
        Value::Number(n) => match n.as_i64() {
            Some(n) => Some(n),
            None => return Ok(200),
        },
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => return Ok(200),
        },
        Value::Bool(_) => return Ok(200),
        _ => None,
    };
    match parsed.and_then(|n| u16::try_from(n).ok()) {
        Some(code) if (100..=999).contains(&code) => Ok(code),
        _ => Err(DecodeError::new(format!(
            "the http output has statusCode {value}, which is not an HTTP status between 100 and 999"
        ))),
    }
}

/// Response headers as `RawScriptResult` writes them: each value's .NET `ToString()`
/// (strings as they are, `True`/`False`); an array or object is refused.
fn response_headers(map: &Map<String, Value>) -> Result<BTreeMap<String, String>, DecodeError> {
    map.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(true) => Some("True".to_string()),
                Value::Bool(false) => Some("False".to_string()),
                _ => None,
            };
            text.map(|t| (k.clone(), t)).ok_or_else(|| {
                DecodeError::new(format!(
                    "the http output has a header `{k}` that is {}",
                    type_name(v)
                ))
            })
        })
        .collect()
}

impl Serialize for HttpResponse {
    /// The wire form; a body that is not UTF-8 is an error (see [`HttpResponse::to_output`]).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_output()
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

impl HttpResponse {
    /// The `http` output value the host reads: `statusCode` always (the host never reads
    /// `status`), the body as text, and an explicit Content-Type whenever there is a body, so
    /// the host applies no default. A body that is not UTF-8 cannot travel this way.
    pub fn to_output(&self) -> Result<Value, DecodeError> {
        let mut headers = self.headers.clone();
        if self.body.is_some() && self.header_value("Content-Type").is_none() {
            headers.insert("Content-Type".into(), DEFAULT_CONTENT_TYPE.into());
        }
        let mut map = Map::new();
        map.insert("statusCode".into(), Value::String(self.status.to_string()));
        if !headers.is_empty() {
            let headers = headers
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            map.insert("headers".into(), Value::Object(headers));
        }
        if let Some(body) = &self.body {
            let text = std::str::from_utf8(body).map_err(|_| {
                DecodeError::new(
                    "the HTTP response body is not UTF-8, and the JSON protocol carries a body as text: return bytes from a function the host forwards (one httpTrigger and one http output, with enableForwardingHttpRequest)",
                )
            })?;
            map.insert("body".into(), Value::String(text.to_owned()));
        }
        Ok(Value::Object(map))
    }
}

impl TryFrom<Value> for HttpResponse {
    type Error = DecodeError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::from_output(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn headers_accept_arrays_and_single_strings() {
        let req = HttpRequest::from_binding(
            "req",
            &json!({"Url": "u", "Method": "GET", "Headers": {"Accept": ["a", "b"], "X-One": "1"}}),
        )
        .unwrap();
        assert_eq!(req.header("accept"), Some("a"));
        assert_eq!(req.header("x-one"), Some("1"));
        assert_eq!(req.headers["Accept"], vec!["a", "b"]);
    }

    #[test]
    fn a_missing_method_is_an_error_naming_the_binding() {
        let err = HttpRequest::from_binding("req", &json!({"Url": "u"})).unwrap_err();
        assert_eq!(err.message(), "the HTTP trigger `req` has no Method");
    }

    #[test]
    fn a_trigger_that_is_not_an_object_is_an_error() {
        let err = HttpRequest::from_binding("req", &json!(5)).unwrap_err();
        assert!(err.message().contains("is a number"), "{err}");
    }

    #[test]
    fn nested_query_values_are_rejected() {
        let err = HttpRequest::from_binding(
            "req",
            &json!({"Url": "u", "Method": "GET", "Query": {"a": {"b": 1}}}),
        )
        .unwrap_err();
        assert!(err.message().contains("Query value `a`"), "{err}");
    }

    #[test]
    fn invalid_base64_in_an_octet_stream_body_is_one_clear_sentence() {
        let req =
            HttpRequest::new("POST", "u").with_header("Content-Type", "application/octet-stream");
        let err = req.decode_body("not base64!".into()).unwrap_err();
        assert!(
            err.message().starts_with(
                "the request body is declared as application/octet-stream but is not valid base64"
            ),
            "{err}"
        );
    }

    #[test]
    fn text_keeps_a_content_type_set_before_it() {
        let csv = HttpResponse::new(200)
            .header("content-type", "text/csv")
            .text("a,b\n");
        assert_eq!(csv.header_value("Content-Type"), Some("text/csv"));
        let plain = HttpResponse::new(200).text("hi");
        assert_eq!(
            plain.header_value("Content-Type"),
            Some("text/plain; charset=utf-8")
        );
    }

    #[test]
    fn text_bodies_are_their_utf8_bytes_and_missing_bodies_are_empty() {
        let req = HttpRequest::new("POST", "u");
        assert_eq!(
            req.decode_body("aGVsbG8=".into()).unwrap(),
            &b"aGVsbG8="[..]
        );
        let req = HttpRequest::from_binding("req", &json!({"Url": "u", "Method": "GET"})).unwrap();
        assert!(req.body.is_empty());
    }

    #[test]
    fn json_reports_an_empty_body_plainly() {
        let req = HttpRequest::default();
        let err = req.json::<Value>().unwrap_err();
        assert_eq!(
            err.message(),
            "the request body is empty; send a JSON document"
        );
    }

    #[test]
    fn multipart_and_octet_stream_are_binary_with_parameters_and_any_case() {
        assert!(is_binary_content_type(Some("Application/Octet-Stream")));
        assert!(is_binary_content_type(Some(
            "multipart/form-data; boundary=x"
        )));
        assert!(!is_binary_content_type(Some("application/json")));
        assert!(!is_binary_content_type(None));
    }

    #[test]
    fn http_response_serializes_status_as_a_string() {
        let res = HttpResponse::new(201)
            .json(&json!({"ok": true}))
            .unwrap()
            .header("X-Id", "7");
        assert_eq!(
            serde_json::to_value(&res).unwrap(),
            json!({"statusCode": "201", "headers": {"Content-Type": "application/json", "X-Id": "7"}, "body": "{\"ok\":true}"})
        );
    }

    #[test]
    fn header_replaces_a_header_of_the_same_name_in_any_case() {
        let res = HttpResponse::new(200)
            .header("content-type", "a")
            .header("Content-Type", "b")
            .text("hi");
        assert_eq!(res.headers.len(), 1);
        assert_eq!(res.header_value("CONTENT-TYPE"), Some("b"));
    }

    // Rules of HttpBinding.cs and RawScriptResult.cs (azure-functions-host v4.1037.0).
    #[test]
    fn from_output_reads_keys_in_any_case_and_numeric_status() {
        let res = HttpResponse::from_output(
            &json!({"StatusCode": 404, "Headers": {"A": "b", "N": 1}, "Body": {"x": 1}}),
        )
        .unwrap();
        assert_eq!(res.status, 404);
        assert_eq!(res.headers["N"], "1");
        assert_eq!(res.body.as_deref(), Some(&b"{\n  \"x\": 1\n}"[..]));
        assert_eq!(
            res.header_value("content-type"),
            Some("text/plain; charset=utf-8")
        );
        let res = HttpResponse::from_output(&json!({"body": "hi", "statusCode": "201"})).unwrap();
        assert_eq!((res.status, res.body.as_deref()), (201, Some(&b"hi"[..])));
    }

    #[test]
    fn status_is_never_read_and_a_non_numeric_status_code_is_200() {
        let res = HttpResponse::from_output(&json!({"status": 404, "body": "x"})).unwrap();
        assert_eq!(res.status, 200);
        let res = HttpResponse::from_output(&json!({"statusCode": "abc"})).unwrap();
        assert_eq!(res.status, 200);
        let res = HttpResponse::from_output(&json!({"statusCode": 201.0})).unwrap();
        assert_eq!(res.status, 200);
    }

    #[test]
    fn a_content_type_the_function_set_is_kept_for_object_bodies() {
        let res = HttpResponse::from_output(
            &json!({"body": [1], "headers": {"content-type": "application/json"}}),
        )
        .unwrap();
        assert_eq!(
            res.header_value("Content-Type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(res.body.as_deref(), Some(&b"[\n  1\n]"[..]));
        let res = HttpResponse::from_output(
            &json!({"headers": {"Content-Type": "text/csv; charset=latin1", "ETag": "\"v1\"", "X-On": true}}),
        )
        .unwrap();
        assert_eq!(
            res.header_value("content-type"),
            Some("text/csv; charset=latin1")
        );
        assert_eq!(res.header_value("etag"), Some("\"v1\""));
        assert_eq!(res.header_value("x-on"), Some("True"));
    }

    #[test]
    fn from_output_rejects_statuses_that_cannot_be_sent() {
        for bad in [json!(42), json!(1000), json!(-1), json!([]), json!("99")] {
            let err = HttpResponse::from_output(&json!({"statusCode": bad})).unwrap_err();
            assert!(err.message().contains("not an HTTP status"), "{err}");
        }
    }

    #[test]
    fn the_wire_form_always_has_a_content_type_with_a_body() {
        let mut res = HttpResponse::new(200);
        res.body = Some("x".into());
        let wire = res.to_output().unwrap();
        assert_eq!(
            wire["headers"]["Content-Type"],
            json!("text/plain; charset=utf-8")
        );
        assert_eq!(wire["statusCode"], json!("200"));
        assert!(wire.get("status").is_none());
    }

    #[test]
    fn http_response_round_trips_through_its_wire_form() {
        let res = HttpResponse::new(400).text("bad");
        let value = serde_json::to_value(&res).unwrap();
        let back: HttpResponse = serde_json::from_value(value).unwrap();
        assert_eq!(back, res);
    }
}
