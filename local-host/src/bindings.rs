//! Binding data and binding expressions (`results/{jobId}.json`), and the host's conversions of
//! values on the way in (Data, Metadata) and out (output bindings).
//!
//! Each rule follows azure-functions-host v4.1037.0 (paths under `src/WebJobs.Script/`) or the
//! storage and HTTP extensions, as named on the function that implements it. The conformance
//! corpus (`conformance/` at the repo root) pins them; the runtime's tests read the same files.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use functions_custom_handler::function_json::DataType;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

/// `yyyy-MM-ddTHH:mm:ss+00:00`: how Json.NET writes the host's `DateTimeOffset` values.
const OFFSET_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+00:00");
/// `yyyy-MM-ddTHH-mm-ssZ`: the host's default format for `{DateTime}` in paths (UTC).
const PATH_DATETIME_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]-[minute]-[second]Z");
/// `yyyy-MM-ddTHH:mm:ss.fffffffZ`: how Json.NET writes a UTC `DateTime` (`sys.UtcNow`).
const UTC_NOW_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:7]Z");

/// Formats a time the way the host writes `DateTimeOffset` metadata.
pub fn format_offset(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(OFFSET_FORMAT)
        .unwrap_or_default()
}

#[derive(Debug, Clone)]
struct Entry {
    key: String,
    /// What goes into `Metadata`.
    metadata: Value,
    /// What binding expressions see; `None` hides the entry from expressions.
    expression: Option<Value>,
    /// Left out of `Metadata`.
    hidden: bool,
}

/// The binding data of one invocation: what `Metadata` holds and what `{name}` expressions
/// resolve against. Keys compare ignoring ASCII case, as in the host.
#[derive(Debug, Clone)]
pub struct BindingData {
    entries: Vec<Entry>,
    method_name: String,
    utc_now: OffsetDateTime,
    rand_guid: String,
}

impl BindingData {
    /// Empty binding data for an invocation of `function_name` starting now.
    pub fn new(function_name: &str) -> Self {
        Self {
            entries: Vec::new(),
            method_name: function_name.to_string(),
            utc_now: OffsetDateTime::now_utc(),
            rand_guid: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Adds `key` with a plain value; Metadata gets the host's encoding of it.
    pub fn add(&mut self, key: &str, value: Value) {
        let metadata = host_encode(&value);
        self.add_raw(key, metadata, Some(value));
    }

    /// Adds `key` with an explicit Metadata value and expression value. A key already there
    /// (ignoring case) gets the new value and keeps its first spelling and place, as a .NET
    /// `Dictionary` with `OrdinalIgnoreCase` does when the indexer sets it.
    pub fn add_raw(&mut self, key: &str, metadata: Value, expression: Option<Value>) {
        match self
            .entries
            .iter_mut()
            .find(|e| e.key.eq_ignore_ascii_case(key))
        {
            Some(entry) => {
                entry.metadata = metadata;
                entry.expression = expression;
                entry.hidden = false;
            }
            None => self.entries.push(Entry {
                key: key.to_string(),
                metadata,
                expression,
                hidden: false,
            }),
        }
    }

    /// Adds `key` for binding expressions only: a value `Metadata` does not carry (the host
    /// leaves out keys ending in `Trigger` and null values; ScriptInvocationContextExtensions.cs).
    pub fn add_hidden(&mut self, key: &str, expression: Value) {
        self.add_raw(key, Value::Null, Some(expression));
        if let Some(entry) = self
            .entries
            .iter_mut()
            .find(|e| e.key.eq_ignore_ascii_case(key))
        {
            entry.hidden = true;
        }
    }

    /// Adds the top-level properties of `text` when it is a JSON object (a queue message or
    /// an HTTP body), as `Utility.ApplyBindingData` does (WebJobs.Extensions.Http `Utility.cs`,
    /// and the queue extension's copy): objects stay objects, arrays and nulls are left out,
    /// every other value becomes its .NET string (`3` → `"3"`, `true` → `"True"`), which
    /// Metadata then serialises again (`"\"3\""`).
    pub fn add_json_properties(&mut self, text: &str) {
        if !is_json(text) {
            return;
        }
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) {
            for (key, value) in map {
                match value {
                    Value::Null | Value::Array(_) => {}
                    Value::Object(_) => self.add(&key, value),
                    other => self.add(&key, Value::String(dotnet_string(&other))),
                }
            }
        }
    }

    /// Whether `key` is there already (compared ignoring case).
    pub fn contains(&self, key: &str) -> bool {
        self.entries.iter().any(|e| e.key.eq_ignore_ascii_case(key))
    }

    /// The `sys` object: `{MethodName, UtcNow, RandGuid}`.
    pub fn sys(&self) -> Value {
        json!({
            "MethodName": self.method_name,
            "UtcNow": self.utc_now.format(UTC_NOW_FORMAT).unwrap_or_default(),
            "RandGuid": self.rand_guid,
        })
    }

    /// The `Metadata` object for the invocation request.
    pub fn metadata(&self) -> Map<String, Value> {
        let mut map = Map::new();
        for entry in self.entries.iter().filter(|e| !e.hidden) {
            map.insert(entry.key.clone(), entry.metadata.clone());
        }
        map.insert("sys".to_string(), self.sys());
        map
    }

    /// Fills every `{expression}` in `template`. Errors read like the host's
    /// ("No value for named parameter 'jobId'.").
    pub fn resolve(&self, template: &str) -> Result<String, String> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else {
                return Err(format!(
                    "the binding expression `{template}` has an unclosed `{{`"
                ));
            };
            out.push_str(&self.lookup(after[..end].trim())?);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn lookup(&self, name: &str) -> Result<String, String> {
        let missing = || format!("No value for named parameter '{name}'.");
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            // Aliases of sys.RandGuid / sys.UtcNow, so one invocation sees one GUID.
            "rand-guid" | "sys.randguid" => return Ok(self.rand_guid.clone()),
            "datetime" => {
                return Ok(self
                    .utc_now
                    .format(PATH_DATETIME_FORMAT)
                    .unwrap_or_default());
            }
            "sys.utcnow" => {
                return Ok(self
                    .utc_now
                    .format(PATH_DATETIME_FORMAT)
                    .unwrap_or_default());
            }
            "sys.methodname" => return Ok(self.method_name.clone()),
            _ => {}
        }
        let mut parts = name.split('.');
        let first = parts.next().unwrap_or_default();
        let mut value = self
            .entries
            .iter()
            .find(|e| e.key.eq_ignore_ascii_case(first))
            .and_then(|e| e.expression.as_ref())
            .ok_or_else(missing)?;
        // azure-webjobs-sdk `Bindings/Path/BindingTemplateToken.cs` (`GetProperty`): members of
        // an object matched ignoring case; anything else has no members.
        for part in parts {
            value = value
                .as_object()
                .and_then(|m| {
                    m.get(part).or_else(|| {
                        m.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(part))
                            .map(|(_, v)| v)
                    })
                })
                .ok_or_else(|| {
                    format!("Error while accessing '{part}': property doesn't exist.")
                })?;
        }
        // `BindingDataPathHelper.ConvertParameterValueToString` (azure-webjobs-sdk
        // `Bindings/BindingDataPathHelper.cs`): strings, integers and JSON scalars as text;
        // an object, an array, a null or a `DateTimeOffset` converts to null, which the
        // template writes as nothing.
        Ok(match value {
            Value::Object(_) | Value::Array(_) | Value::Null => String::new(),
            other => dotnet_string(other),
        })
    }
}

/// The host's encoding of a value into `Data` or `Metadata`: `GetHttpScriptInvocationContextValue`
/// (`Workers/MessageExtensions/ScriptInvocationContextExtensions.cs`). Objects stay objects
/// (`JObject.FromObject`); everything else goes through `JsonConvert.SerializeObject`, so a
/// string gains a second layer of quotes, `3` becomes `"3"`, and null becomes `"null"`.
pub fn host_encode(value: &Value) -> Value {
    match value {
        Value::Object(_) => value.clone(),
        other => Value::String(other.to_string()),
    }
}

/// An input's `Data` value (a blob input, or a queue message) from its bytes, typed by the
/// binding's declared `dataType` as the host binds it (`GeneralScriptBindingProvider.ParseDataType`,
/// `FunctionBinding.ConvertStreamToValue`, then `host_encode`):
/// - no blob (the storage extension binds a null stream on 404): the string `null`;
/// - `binary`: base64;
/// - text (`string` or none): read as UTF-8 like .NET's `StreamReader` (a BOM dropped,
///   invalid bytes replaced), then serialised once more.
pub fn input_value(bytes: Option<&[u8]>, data_type: Option<DataType>) -> Value {
    match (bytes, data_type) {
        (None, _) => Value::String("null".into()),
        (Some(bytes), Some(DataType::Binary)) => Value::String(STANDARD.encode(bytes)),
        (Some(bytes), _) => {
            let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            host_encode(&Value::String(String::from_utf8_lossy(bytes).into_owned()))
        }
    }
}

/// A JSON scalar as .NET's `(string)JValue` writes it: booleans are `True`/`False`, and a
/// float with no fraction has none (`2.0` is `2`).
pub fn dotnet_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => String::new(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// `Utility.IsJson` (`src/WebJobs.Script/Utility.cs`): trimmed, it starts with `{` and ends
/// with `}`, or starts with `[` and ends with `]`.
pub fn is_json(text: &str) -> bool {
    let t = text.trim();
    (t.starts_with('{') && t.ends_with('}')) || (t.starts_with('[') && t.ends_with(']'))
}

/// .NET `Convert.FromBase64String`: whitespace ignored, padding required, length a multiple
/// of four; the empty string is zero bytes.
pub fn dotnet_base64(text: &str) -> Option<Vec<u8>> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    let cleaned: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\r' | '\n'))
        .collect();
    if !cleaned.len().is_multiple_of(4) {
        return None;
    }
    LENIENT.decode(cleaned).ok()
}

/// An output value after `GetBindingValue` (`Workers/Http/HttpScriptInvocationResultExtensions.cs`):
/// unless the binding is declared `binary`, a string `Convert.FromBase64String` accepts
/// becomes bytes; other strings stay strings, and anything else stays the JSON value the
/// host deserialised.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    /// Bytes (a string that parsed as base64).
    Bytes(Vec<u8>),
    /// A string.
    Text(String),
    /// An object, array, number or boolean.
    Json(Value),
}

impl Bound {
    /// Binds one output value; `None` for `null` (nothing is bound).
    pub fn from_output(value: &Value, data_type: Option<DataType>) -> Option<Self> {
        let binary = data_type == Some(DataType::Binary);
        Some(match value {
            Value::Null => return None,
            Value::String(s) if !binary => match dotnet_base64(s) {
                Some(bytes) => Self::Bytes(bytes),
                None => Self::Text(s.clone()),
            },
            Value::String(s) => Self::Text(s.clone()),
            other => Self::Json(other.clone()),
        })
    }
}

/// `JToken.ToString()` of one JSON value written as `text`: a string token is its text, a
/// scalar its .NET text, and an object or array INDENTED JSON (`Formatting.Indented`: two
/// spaces, `": "`), with members in the order of `text` (an output the host received as an
/// object rather than a string has its keys sorted here; see the README).
fn token_text(text: &str) -> Result<String, serde_json::Error> {
    let trimmed = text.trim();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        serde_json::from_str::<serde::de::IgnoredAny>(trimmed)?;
        return Ok(indent_json(trimmed));
    }
    Ok(dotnet_string(&serde_json::from_str::<Value>(trimmed)?))
}

/// Re-indents valid JSON text as Json.NET writes it, keeping member order and number text.
fn indent_json(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut i = 0;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', depth * 2));
    };
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                out.push_str(&text[start..=i.min(bytes.len() - 1)]);
            }
            b'{' | b'[' => {
                let close = if c == b'{' { b'}' } else { b']' };
                let mut j = i + 1;
                while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                    j += 1;
                }
                if bytes.get(j) == Some(&close) {
                    out.push(c as char);
                    out.push(close as char);
                    i = j;
                } else {
                    out.push(c as char);
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c as char);
            }
            b',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            b':' => out.push_str(": "),
            c if c.is_ascii_whitespace() => {}
            _ => {
                // Numbers, literals: copy up to the next structural character.
                let start = i;
                while i + 1 < bytes.len()
                    && !matches!(bytes[i + 1], b',' | b'}' | b']' | b':')
                    && !bytes[i + 1].is_ascii_whitespace()
                {
                    i += 1;
                }
                out.push_str(&text[start..=i]);
            }
        }
        i += 1;
    }
    out
}

/// The items of a top-level JSON array, as written.
fn array_items(text: &str) -> Vec<&str> {
    let inner = text.trim();
    let inner = &inner[1..inner.len() - 1];
    let bytes = inner.as_bytes();
    let (mut items, mut depth, mut start, mut i) = (Vec::new(), 0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if !inner[start..].trim().is_empty() {
        items.push(&inner[start..]);
    }
    items
}

/// The messages a queue output enqueues, as bytes, following `FunctionBinding.ReadAsEnumerable`
/// and `BindAsyncCollectorAsync<byte[]>` (`Binding/FunctionBinding.cs`; the storage extension
/// asks for `IAsyncCollector<byte[]>`):
/// - bytes are one message, unchanged;
/// - an array is one message per item;
/// - a string that looks like JSON (`Utility.IsJson`) is parsed, then each token written with
///   `ToString()`: an object is RE-SERIALISED INDENTED, an array split into messages;
/// - any other string is one message, its UTF-8.
///
/// Json.NET also re-formats date strings while parsing; this host does not.
pub fn queue_messages(bound: Bound) -> Result<Vec<Vec<u8>>, String> {
    let unparsable = |e: serde_json::Error| {
        format!(
            "the queue output looks like JSON but does not parse, which fails the invocation in Azure ({e})"
        )
    };
    let texts: Vec<String> = match bound {
        Bound::Bytes(bytes) => return Ok(vec![bytes]),
        Bound::Text(text) if is_json(&text) => {
            serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(unparsable)?;
            if text.trim().starts_with('[') {
                array_items(&text)
                    .into_iter()
                    .map(token_text)
                    .collect::<Result<_, _>>()
                    .map_err(unparsable)?
            } else {
                vec![token_text(&text).map_err(unparsable)?]
            }
        }
        Bound::Text(text) => vec![text],
        Bound::Json(Value::Array(items)) => items
            .iter()
            .map(|item| token_text(&item.to_string()))
            .collect::<Result<_, _>>()
            .map_err(unparsable)?,
        Bound::Json(other) => vec![token_text(&other.to_string()).map_err(unparsable)?],
    };
    Ok(texts.into_iter().map(String::into_bytes).collect())
}

/// The bytes a blob output writes: `FunctionBinding.ConvertValueToStream` (`Binding/FunctionBinding.cs`).
/// Bytes as they are; a string as UTF-8; an object or array as COMPACT JSON; and, as .NET's
/// `BitConverter` would, an integer as 4 little-endian bytes, a float as 8, a boolean as 1.
pub fn blob_content(bound: Bound) -> Vec<u8> {
    match bound {
        Bound::Bytes(bytes) => bytes,
        Bound::Text(text) => text.into_bytes(),
        Bound::Json(Value::Bool(b)) => vec![u8::from(b)],
        Bound::Json(Value::Number(n)) => match n.as_i64() {
            // `(int)(long)value`: the low 32 bits.
            Some(i) => (i as i32).to_le_bytes().to_vec(),
            None => n.as_f64().unwrap_or_default().to_le_bytes().to_vec(),
        },
        Bound::Json(other) => other.to_string().into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_text_is_reindented_in_the_order_written() {
        assert_eq!(
            indent_json(r#"{"b":[1,{"x":"a,b:}"}],"a":{},"c":[]}"#),
            "{\n  \"b\": [\n    1,\n    {\n      \"x\": \"a,b:}\"\n    }\n  ],\n  \"a\": {},\n  \"c\": []\n}"
        );
        assert_eq!(
            array_items(r#"["a,]", {"n":[1,2]}, 3]"#),
            vec![r#""a,]""#, r#" {"n":[1,2]}"#, " 3"]
        );
        assert_eq!(token_text(r#""q\"s""#).unwrap(), "q\"s");
    }

    #[test]
    fn expressions_resolve_properties_metadata_and_system_values() {
        let mut data = BindingData::new("process");
        data.add_json_properties(r#"{"jobId": "a1", "n": 3, "nested": {"Part": "x"}, "f": 1.5}"#);
        data.add("Id", json!("52d5"));
        assert_eq!(
            data.resolve("results/{jobId}.json").unwrap(),
            "results/a1.json"
        );
        assert_eq!(data.resolve("{JOBID}-{n}-{id}").unwrap(), "a1-3-52d5");
        assert_eq!(data.resolve("{nested.part}").unwrap(), "x");
        let guid = data.resolve("{rand-guid}").unwrap();
        assert_eq!(data.resolve("{sys.randguid}").unwrap(), guid);
        assert!(uuid::Uuid::try_parse(&guid).is_ok());
        let stamp = data.resolve("{DateTime}").unwrap();
        assert_eq!(stamp.len(), "2024-01-02T03-04-05Z".len(), "{stamp}");
        assert!(stamp.ends_with('Z') && !stamp.contains(':'));
        assert_eq!(
            data.resolve("{missing}").unwrap_err(),
            "No value for named parameter 'missing'."
        );
        // JSON properties arrive as .NET strings (Utility.ApplyBindingData), so a float
        // resolves; an object converts to nothing (BindingDataPathHelper).
        assert_eq!(data.resolve("{f}").unwrap(), "1.5");
        assert_eq!(data.resolve("[{nested}]").unwrap(), "[]");
    }

    #[test]
    fn metadata_double_encodes_scalars_and_adds_sys() {
        let mut data = BindingData::new("f");
        data.add("Id", json!("abc"));
        data.add("DequeueCount", json!(1));
        data.add("Query", json!({"a": "b"}));
        let metadata = data.metadata();
        assert_eq!(metadata["Id"], json!("\"abc\""));
        assert_eq!(metadata["DequeueCount"], json!("1"));
        assert_eq!(metadata["Query"], json!({"a": "b"}));
        assert_eq!(metadata["sys"]["MethodName"], json!("f"));
        assert!(metadata["sys"]["UtcNow"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn later_keys_replace_earlier_ones_ignoring_case_keeping_the_first_spelling() {
        let mut data = BindingData::new("f");
        data.add("id", json!("body"));
        data.add("Id", json!("route"));
        assert_eq!(data.resolve("{ID}").unwrap(), "route");
        let metadata = data.metadata();
        assert_eq!(metadata.len(), 2);
        assert_eq!(metadata["id"], json!("\"route\""));
    }

    #[test]
    fn hidden_keys_resolve_but_stay_out_of_metadata_until_replaced() {
        let mut data = BindingData::new("f");
        data.add_hidden("QueueTrigger", json!("text"));
        data.add_hidden("Id", Value::Null);
        assert_eq!(data.resolve("{queuetrigger}/[{id}]").unwrap(), "text/[]");
        assert_eq!(data.metadata().len(), 1);
        data.add("id", json!("order-42"));
        assert_eq!(data.metadata()["Id"], json!("\"order-42\""));
    }

    #[test]
    fn base64_follows_dotnet_rules() {
        assert_eq!(dotnet_base64("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(dotnet_base64("aGVs bG8="), Some(b"hello".to_vec()));
        assert_eq!(dotnet_base64(""), Some(Vec::new()));
        assert_eq!(dotnet_base64("abcd"), Some(vec![0x69, 0xb7, 0x1d]));
        assert_eq!(dotnet_base64("hello"), None);
        assert_eq!(dotnet_base64("{\"a\":1}"), None);
        assert_eq!(dotnet_base64("aGVsbG8"), None);
    }

    #[test]
    fn outputs_follow_get_binding_value_unless_binary() {
        assert_eq!(
            Bound::from_output(&json!("aGVsbG8="), None),
            Some(Bound::Bytes(b"hello".to_vec()))
        );
        assert_eq!(
            Bound::from_output(&json!("aGVsbG8="), Some(DataType::Binary)),
            Some(Bound::Text("aGVsbG8=".into()))
        );
        assert_eq!(
            Bound::from_output(&json!("hello world"), None),
            Some(Bound::Text("hello world".into()))
        );
        assert_eq!(
            Bound::from_output(&json!({"a": 1}), None),
            Some(Bound::Json(json!({"a": 1})))
        );
        assert_eq!(Bound::from_output(&Value::Null, None), None);
    }

    #[test]
    fn json_properties_become_dotnet_strings_and_arrays_are_left_out() {
        let mut data = BindingData::new("f");
        data.add_json_properties(
            r#"{"n": 3, "b": true, "s": "x", "o": {"k": 1}, "a": [1], "z": null}"#,
        );
        let metadata = data.metadata();
        assert_eq!(metadata["n"], json!("\"3\""));
        assert_eq!(metadata["b"], json!("\"True\""));
        assert_eq!(metadata["s"], json!("\"x\""));
        assert_eq!(metadata["o"], json!({"k": 1}));
        assert!(metadata.get("a").is_none() && metadata.get("z").is_none());
        assert_eq!(data.resolve("{n}-{s}").unwrap(), "3-x");
    }

    #[test]
    fn blob_outputs_write_numbers_as_dotnet_bit_converter_does() {
        assert_eq!(blob_content(Bound::Json(json!(1))), vec![1, 0, 0, 0]);
        assert_eq!(dotnet_string(&json!(2.0)), "2");
        assert_eq!(dotnet_string(&json!(2.5)), "2.5");
        assert_eq!(blob_content(Bound::Json(json!(true))), vec![1]);
        assert_eq!(
            blob_content(Bound::Json(json!({"a": 1}))),
            b"{\"a\":1}".to_vec()
        );
    }

    #[test]
    fn text_inputs_drop_a_bom_and_binary_inputs_are_base64() {
        assert_eq!(input_value(None, None), json!("null"));
        assert_eq!(input_value(None, Some(DataType::Binary)), json!("null"));
        assert_eq!(input_value(Some(b"\xEF\xBB\xBFhi"), None), json!("\"hi\""));
        assert_eq!(
            input_value(Some(b"hi"), Some(DataType::Binary)),
            json!("aGk=")
        );
    }
}
