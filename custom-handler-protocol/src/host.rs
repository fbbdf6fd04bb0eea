//! What the host does with values: how it encodes an input into `Data` or `Metadata`, and
//! how it applies a function's outputs. A local host builds invocations with these rules, and
//! the runtime's test client reads a function's outputs with them, as Azure would.
//!
//! Each rule follows azure-functions-host v4.1037.0 (paths under `src/WebJobs.Script/`), as
//! named on the function that implements it; the conformance corpus (`conformance/` at the
//! repository root) pins them.

use crate::function_json::DataType;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use serde_json::Value;

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

/// The value [`host_encode`] was given: an object as it is, anything else parsed back from
/// the JSON text it became (text that is not JSON is kept as the string it is).
///
/// ```
/// use functions_custom_handler_protocol::host::{host_decode, host_encode};
/// use serde_json::json;
/// for value in [json!("hello"), json!(3), json!(null), json!([1, "a"]), json!({"id": 7})] {
///     assert_eq!(host_decode(host_encode(&value)), value);
/// }
/// ```
pub fn host_decode(value: Value) -> Value {
    match value {
        Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        other => other,
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

/// The binding data a JSON object's top-level properties add (a queue message or an HTTP
/// body), as `Utility.ApplyBindingData` does (WebJobs.Extensions.Http `Utility.cs`, and the
/// queue extension's copy): objects stay objects, arrays and nulls are left out, every other
/// value becomes its .NET string (`3` → `"3"`, `true` → `"True"`), which Metadata then
/// serialises again (`"\"3\""`). Text that is not a JSON object adds nothing.
pub fn json_properties(text: &str) -> Vec<(String, Value)> {
    if !is_json(text) {
        return Vec::new();
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => map
            .into_iter()
            .filter_map(|(key, value)| match value {
                Value::Null | Value::Array(_) => None,
                Value::Object(_) => Some((key, value)),
                other => Some((key, Value::String(dotnet_string(&other)))),
            })
            .collect(),
        _ => Vec::new(),
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
    use serde_json::json;
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
}
