//! What a function hands back: its output bindings' values, typed by their declarations.

use crate::bindings::Output;
use crate::function_json::{Binding, DataType, Text};
use crate::protocol::{HttpResponse, InvocationResponse};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::Value;

/// The value of a blob output or of one queue message: text, bytes, or JSON.
///
/// ```
/// use functions_custom_handler::{Json, Payload};
/// let text = Payload::from("hello");
/// let bytes = Payload::from(vec![0u8, 159, 146, 150]);
/// let json = Payload::from(Json(serde_json::json!({"ok": true})));
/// assert_eq!(json.bytes().unwrap(), &b"{\"ok\":true}"[..]);
/// # let _ = (text, bytes);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload(Result<Bytes, String>);

impl Payload {
    /// The bytes the host will write, or why the value could not be serialized.
    pub fn bytes(&self) -> Result<&Bytes, &str> {
        self.0.as_ref().map_err(String::as_str)
    }
}

impl From<Bytes> for Payload {
    fn from(bytes: Bytes) -> Self {
        Self(Ok(bytes))
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Ok(bytes.into()))
    }
}

impl From<&'static [u8]> for Payload {
    fn from(bytes: &'static [u8]) -> Self {
        Self(Ok(Bytes::from_static(bytes)))
    }
}

impl From<String> for Payload {
    fn from(text: String) -> Self {
        Self(Ok(text.into()))
    }
}

impl From<&str> for Payload {
    fn from(text: &str) -> Self {
        Self(Ok(Bytes::copy_from_slice(text.as_bytes())))
    }
}

/// A serde value to be written as compact JSON.
///
/// ```
/// use functions_custom_handler::bindings::BlobOutput;
/// use functions_custom_handler::{Json, Outputs};
///
/// #[derive(serde::Serialize)]
/// struct Report { rows: u32 }
///
/// const REPORT: BlobOutput = BlobOutput::new("report", "reports/{rand-guid}.json");
/// let outputs = Outputs::new().set(&REPORT, Json(Report { rows: 3 }));
/// assert_eq!(outputs.blob(&REPORT).unwrap().bytes().unwrap(), &b"{\"rows\":3}"[..]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> From<Json<T>> for Payload {
    fn from(Json(value): Json<T>) -> Self {
        Self(
            serde_json::to_vec(&value)
                .map(Bytes::from)
                .map_err(|e| format!("the value could not be serialized as JSON ({e})")),
        )
    }
}

#[derive(Debug, Clone)]
enum Entry {
    Http(HttpResponse),
    Payload(Payload),
    Messages(Vec<Payload>),
    Value(Value),
}

/// The outputs of one invocation, set through the declarations they belong to.
///
/// ```
/// use functions_custom_handler::bindings::{BlobOutput, HttpOutput, QueueOutput};
/// use functions_custom_handler::{HttpResponse, Json, Outputs};
///
/// const RES: HttpOutput = HttpOutput::new("res");
/// const NEXT: QueueOutput = QueueOutput::new("next", "shipments");
/// const RECEIPT: BlobOutput = BlobOutput::new("receipt", "receipts/{id}.json");
///
/// let outputs = Outputs::new()
///     .set(&RES, HttpResponse::new(202).text("queued"))
///     .set(&NEXT, "ship order 7")
///     .set(&NEXT, "ship order 8") // a queue output collects one message per call
///     .set(&RECEIPT, Json(serde_json::json!({"id": 7})));
/// assert_eq!(outputs.messages(&NEXT).len(), 2);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    values: Vec<(Text, Entry)>,
}

impl Outputs {
    /// No outputs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `output` to `value`. Setting a queue output again adds another message; setting
    /// any other output again replaces its value.
    pub fn set<O: Output>(mut self, output: &O, value: impl Into<O::Value>) -> Self {
        output.store(&mut self, value.into());
        self
    }

    /// The HTTP response set for `output`, if any.
    pub fn http(&self, output: &crate::bindings::HttpOutput) -> Option<&HttpResponse> {
        self.find(&output.name).and_then(|v| match v {
            Entry::Http(response) => Some(response),
            _ => None,
        })
    }

    /// The value set for the blob `output`, if any.
    pub fn blob(&self, output: &crate::bindings::BlobOutput) -> Option<&Payload> {
        self.find(output.name()).and_then(|v| match v {
            Entry::Payload(payload) => Some(payload),
            _ => None,
        })
    }

    /// The messages set for the queue `output`, in order.
    pub fn messages(&self, output: &crate::bindings::QueueOutput) -> &[Payload] {
        match self.find(&output.name) {
            Some(Entry::Messages(messages)) => messages,
            _ => &[],
        }
    }

    /// The value set for the extension `output`, if any.
    ///
    /// ```
    /// use functions_custom_handler::bindings::ExtensionOutput;
    /// use functions_custom_handler::Outputs;
    /// const ROW: ExtensionOutput = ExtensionOutput::new("table", "row");
    /// assert!(Outputs::new().extension_value(&ROW).is_none());
    /// ```
    pub fn extension_value(&self, output: &crate::bindings::ExtensionOutput) -> Option<&Value> {
        self.find(&output.0.name).and_then(|v| match v {
            Entry::Value(value) => Some(value),
            _ => None,
        })
    }

    fn find(&self, name: &str) -> Option<&Entry> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub(crate) fn put_http(&mut self, name: &Text, response: HttpResponse) {
        self.replace(name, Entry::Http(response));
    }

    pub(crate) fn put_payload(&mut self, name: &Text, payload: Payload) {
        self.replace(name, Entry::Payload(payload));
    }

    pub(crate) fn put_value(&mut self, name: &Text, value: Value) {
        self.replace(name, Entry::Value(value));
    }

    pub(crate) fn push_message(&mut self, name: &Text, payload: Payload) {
        match self.values.iter_mut().find(|(n, _)| n == name) {
            Some((_, Entry::Messages(messages))) => messages.push(payload),
            Some((_, other)) => *other = Entry::Messages(vec![payload]),
            None => self
                .values
                .push((name.clone(), Entry::Messages(vec![payload]))),
        }
    }

    fn replace(&mut self, name: &Text, value: Entry) {
        match self.values.iter_mut().find(|(n, _)| n == name) {
            Some((_, slot)) => *slot = value,
            None => self.values.push((name.clone(), value)),
        }
    }

    /// Takes the response set for the `http` output `name` (a forwarded function's answer).
    pub(crate) fn take_http(&mut self, name: &str) -> Option<HttpResponse> {
        let index = self.values.iter().position(|(n, _)| n == name)?;
        match self.values.swap_remove(index).1 {
            Entry::Http(response) => Some(response),
            _ => None,
        }
    }

    /// The answer's wire form, each value encoded so the host writes exactly it:
    /// - a blob or a single queue message as base64, which the host decodes into the bytes it
    ///   writes (`GetBindingValue` in `Workers/Http/HttpScriptInvocationResultExtensions.cs`,
    ///   azure-functions-host v4.1037.0);
    /// - several queue messages as an array of strings, one message per item, each its text
    ///   as it is (`ReadAsEnumerable` in `Binding/FunctionBinding.cs`);
    /// - an HTTP response as `{statusCode, headers, body}` with a text body.
    ///
    /// An output the declaration lacks, or a value that cannot travel, is an error sentence.
    pub(crate) fn into_wire(self, declared: &[Binding]) -> Result<InvocationResponse, String> {
        let mut response = InvocationResponse::new();
        for (name, value) in self.values {
            let declared_as = declared.iter().find(|b| b.name() == name);
            let fits = matches!(
                (&value, declared_as),
                (Entry::Http(_), Some(Binding::Http(_)))
                    | (Entry::Messages(_), Some(Binding::Queue(_)))
                    | (Entry::Payload(_), Some(Binding::Blob(_)))
                    | (Entry::Value(_), Some(Binding::Extension(_)))
            ) && declared_as
                .is_some_and(|b| b.direction() != crate::function_json::Direction::In);
            if !fits {
                return Err(match declared_as {
                    None => format!(
                        "the function set the output `{name}`, which its declaration lacks: add it with .output(...)"
                    ),
                    Some(b) => format!(
                        "the function set the output `{name}`, which is declared as a {} {} binding of another kind",
                        b.direction(),
                        b.type_name()
                    ),
                });
            }
            let wire = match value {
                Entry::Http(http) => {
                    let mut wire = http
                        .to_output()
                        .map_err(|e| format!("the http output `{name}`: {e}"))?;
                    // A `$return` object is a response only when it has a body
                    // (`HttpBinding.CreateResult`): otherwise the host sends it as the body.
                    if name == "$return"
                        && let Value::Object(map) = &mut wire
                    {
                        map.entry("body")
                            .or_insert_with(|| Value::String(String::new()));
                    }
                    wire
                }
                Entry::Payload(payload) => {
                    let bytes = payload.0.map_err(|e| format!("the output `{name}`: {e}"))?;
                    Value::String(STANDARD.encode(&bytes))
                }
                Entry::Messages(mut messages) if messages.len() == 1 => {
                    let bytes = messages
                        .remove(0)
                        .0
                        .map_err(|e| format!("the queue output `{name}`: {e}"))?;
                    Value::String(STANDARD.encode(&bytes))
                }
                // Unless the binding says `dataType: binary`, the host reads a string as base64
                // when it can (`GetBindingValue`, as above): such text goes as base64 of its
                // UTF-8, so the host's bytes are the text's own (see `ExtensionOutput`).
                // Anything else is handed to the extension as the JSON it is.
                Entry::Value(Value::String(text))
                    if declared_as.and_then(Binding::data_type) != Some(DataType::Binary)
                        && crate::protocol::host::dotnet_base64(&text).is_some() =>
                {
                    Value::String(STANDARD.encode(text.as_bytes()))
                }
                Entry::Value(value) => value,
                Entry::Messages(messages) => {
                    let mut items = Vec::with_capacity(messages.len());
                    for message in messages {
                        let bytes = message
                            .0
                            .map_err(|e| format!("the queue output `{name}`: {e}"))?;
                        let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                            format!(
                                "the queue output `{name}` has several messages and one is not UTF-8 text; the host enqueues a batch as text, so send bytes one message per invocation"
                            )
                        })?;
                        items.push(Value::String(text));
                    }
                    Value::Array(items)
                }
            };
            if name == "$return" {
                response.return_value = wire;
            } else {
                response.outputs.insert(name.into_owned(), wire);
            }
        }
        Ok(response)
    }
}
