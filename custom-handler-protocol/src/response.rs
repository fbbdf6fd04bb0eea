//! The invocation response body: outputs, log lines and the return value.

use super::{DecodeError, HttpResponse};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// What a function hands back to the host: `{"Outputs": {...}, "Logs": [...], "ReturnValue": ...}`.
///
/// The host binds `Outputs.<name>` to the output binding `name`, writes each `Logs` line to its
/// log at Information level, and binds `ReturnValue` to a binding named `$return`.
/// Outputs only take effect when the handler answers the host with a 2xx status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvocationResponse {
    /// One value per output binding, keyed by the binding's `name`.
    #[serde(rename = "Outputs", default, deserialize_with = "null_as_default")]
    pub outputs: Map<String, Value>,
    /// Lines for the host's invocation log.
    #[serde(rename = "Logs", default, deserialize_with = "null_as_default")]
    pub logs: Vec<String>,
    /// The value for a `$return` binding; `null` when there is none.
    #[serde(rename = "ReturnValue", default)]
    pub return_value: Value,
}

impl InvocationResponse {
    /// A response with no outputs, logs or return value.
    pub fn new() -> Self {
        Self::default()
    }

    /// A response whose only output is the `http` output `name`; an error when its body
    /// cannot travel as text (see [`HttpResponse::to_output`]).
    pub fn http(name: impl Into<String>, response: &HttpResponse) -> Result<Self, DecodeError> {
        Ok(Self::new().output(name, response.to_output()?))
    }

    /// Sets output binding `name` to a raw `value`, which the host then converts.
    ///
    /// Prefer [`InvocationResponse::output_bytes`], [`InvocationResponse::output_text`] and
    /// [`InvocationResponse::queue_messages`]: the host rewrites raw values (a string that is
    /// valid base64 becomes bytes; a queue string that looks like JSON is re-serialised
    /// indented; see the protocol module docs).
    pub fn output(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.outputs.insert(name.into(), value.into());
        self
    }

    /// Sets output `name` (a blob or one queue message) to exactly `bytes`.
    ///
    /// Sent as base64, which the host decodes into the bytes it writes or enqueues unchanged
    /// (`GetBindingValue` in `src/WebJobs.Script/Workers/Http/HttpScriptInvocationResultExtensions.cs`,
    /// then `BindAsyncCollectorAsync<byte[]>` / `ConvertValueToStream` in
    /// `src/WebJobs.Script/Binding/FunctionBinding.cs`, azure-functions-host v4.1037.0). The
    /// binding must not be declared `binary`; `Function::validate` in the runtime refuses that.
    pub fn output_bytes(self, name: impl Into<String>, bytes: impl AsRef<[u8]>) -> Self {
        let encoded = STANDARD.encode(bytes.as_ref());
        self.output(name, Value::String(encoded))
    }

    /// Sets output `name` to exactly `text` as UTF-8: compact JSON stays compact, and text
    /// that happens to be valid base64 is not turned into other bytes.
    pub fn output_text(self, name: impl Into<String>, text: impl AsRef<str>) -> Self {
        self.output_bytes(name, text.as_ref().as_bytes())
    }

    /// Sets queue output `name` to one message per text, each enqueued exactly as given.
    ///
    /// Sent as a JSON array of strings: the host enqueues one message per item, each item's
    /// text as it is (`ReadAsEnumerable` takes a `JArray` item by item, and a string item's
    /// `ToString()` is its text; `src/WebJobs.Script/Binding/FunctionBinding.cs`).
    pub fn queue_messages<I, S>(self, name: impl Into<String>, messages: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let items = messages
            .into_iter()
            .map(|m| Value::String(m.into()))
            .collect();
        self.output(name, Value::Array(items))
    }

    /// Appends a line to `Logs`.
    pub fn log(mut self, line: impl Into<String>) -> Self {
        self.logs.push(line.into());
        self
    }

    /// Sets the value for a `$return` binding.
    pub fn return_value(mut self, value: impl Into<Value>) -> Self {
        self.return_value = value.into();
        self
    }

    /// The value of output `name` as the host finds it: `$return` is `ReturnValue`; `None`
    /// when the function did not set it (an output key missing, or `ReturnValue` null).
    pub fn output_value(&self, name: &str) -> Option<&Value> {
        if name == "$return" {
            Some(&self.return_value).filter(|v| !v.is_null())
        } else {
            self.outputs.get(name)
        }
    }

    /// The `http` output bound to `name` as the host reads it, if the function set it
    /// ([`HttpResponse::from_output`]; [`HttpResponse::from_return_value`] for `$return`).
    pub fn http_output(&self, name: &str) -> Option<Result<HttpResponse, DecodeError>> {
        let value = self.output_value(name)?;
        Some(if name == "$return" {
            HttpResponse::from_return_value(value)
        } else {
            HttpResponse::from_output(value)
        })
    }
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_with_the_host_s_pascal_case_keys() {
        let res = InvocationResponse::new()
            .output("msg", "hello")
            .log("queued")
            .return_value(json!({"a": 1}));
        assert_eq!(
            serde_json::to_value(&res).unwrap(),
            json!({"Outputs": {"msg": "hello"}, "Logs": ["queued"], "ReturnValue": {"a": 1}})
        );
    }

    #[test]
    fn exact_outputs_travel_as_base64_and_queue_batches_as_string_arrays() {
        let res = InvocationResponse::new()
            .output_text("blob", "abcd")
            .output_bytes("bytes", [0u8, 255])
            .queue_messages("msgs", ["{\"a\":1}", "two"]);
        assert_eq!(res.outputs["blob"], json!("YWJjZA=="));
        assert_eq!(res.outputs["bytes"], json!("AP8="));
        assert_eq!(res.outputs["msgs"], json!(["{\"a\":1}", "two"]));
    }

    #[test]
    fn deserializes_null_outputs_and_logs_as_empty() {
        let res: InvocationResponse =
            serde_json::from_str(r#"{"Outputs": null, "Logs": null, "ReturnValue": null}"#)
                .unwrap();
        assert_eq!(res, InvocationResponse::default());
        let res: InvocationResponse = serde_json::from_str("{}").unwrap();
        assert_eq!(res, InvocationResponse::default());
    }

    #[test]
    fn http_output_reads_named_outputs_and_return_value() {
        let res = InvocationResponse::http("res", &HttpResponse::new(202).text("ok")).unwrap();
        assert_eq!(res.http_output("res").unwrap().unwrap().status, 202);
        assert!(res.http_output("other").is_none());
        // A ReturnValue is a response only with a body (HttpBinding.CreateResult).
        let res = InvocationResponse::new().return_value(json!({"statusCode": "204", "body": ""}));
        assert_eq!(res.http_output("$return").unwrap().unwrap().status, 204);
        let res = InvocationResponse::new().return_value(json!({"statusCode": "204"}));
        assert_eq!(res.http_output("$return").unwrap().unwrap().status, 200);
    }
}
