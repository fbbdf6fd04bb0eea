//! The local host against the conformance corpus (`conformance/` at the repo root, shared with
//! the runtime's tests): from each request's `_given` inputs it must build exactly the host's
//! `Data` and `Metadata`, and it must apply each answer as the host does. Each file names the
//! host source it follows in `_source`.

use crate::http::{RequestParts, http_invocation, query_pairs};
use crate::invocation::{queue_wire_messages, read_answer};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use functions_custom_handler_protocol::function_json::Binding;
use functions_custom_handler_protocol::host::{self, Bound};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use storage::{MessageEncoding, ReceivedMessage};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[path = "../../conformance/corpus.rs"]
mod corpus;

/// Metadata without `sys`, which is per invocation.
fn stable(metadata: Map<String, Value>) -> Map<String, Value> {
    metadata.into_iter().filter(|(k, _)| k != "sys").collect()
}

/// Header names compared ignoring case (this host's server lower-cases them; the README says so).
fn lower_header_names(value: &mut Value) {
    if let Some(headers) = value.get_mut("Headers").and_then(Value::as_object_mut) {
        *headers = std::mem::take(headers)
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
    }
}

fn time(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).unwrap()
}

/// The fixture's `_expressions`: each template resolves to its text, or fails with the
/// host's words (`{"fails": "..."}`).
fn check_expressions(name: &str, fixture: &Value, binding_data: &crate::binding_data::BindingData) {
    let Some(expressions) = fixture.get("_expressions").and_then(Value::as_object) else {
        return;
    };
    for (template, expected) in expressions {
        let resolved = binding_data.resolve(template);
        match expected.get("fails").and_then(Value::as_str) {
            Some(words) => assert_eq!(resolved, Err(words.to_owned()), "{name}: {template}"),
            None => assert_eq!(
                resolved.as_deref(),
                Ok(expected.as_str().unwrap()),
                "{name}: {template}"
            ),
        }
    }
}

#[test]
fn every_request_is_built_as_the_host_builds_it() {
    for (name, fixture) in corpus::load("requests") {
        let binding: Binding = serde_json::from_value(fixture["_binding"].clone()).unwrap();
        let given = &fixture["_given"];
        let (data, metadata) = match &binding {
            Binding::Blob(blob) => {
                let bytes = match (given["blob"].as_str(), given["blob_base64"].as_str()) {
                    (Some(text), _) => Some(text.as_bytes().to_vec()),
                    (None, Some(b64)) => Some(STANDARD.decode(b64).unwrap()),
                    (None, None) => None,
                };
                let mut data = Map::new();
                data.insert(
                    blob.name.to_string(),
                    host::input_value(bytes.as_deref(), blob.data_type),
                );
                (data, None)
            }
            Binding::QueueTrigger(queue) => {
                let facts = if given["admin_input"].as_bool() == Some(true) {
                    crate::queue::MessageFacts::from_admin_input(time(
                        given["insertionTime"].as_str().unwrap(),
                    ))
                } else {
                    crate::queue::MessageFacts::received(&ReceivedMessage {
                        id: given["id"].as_str().unwrap().into(),
                        pop_receipt: given["popReceipt"].as_str().unwrap().into(),
                        text: String::new(),
                        dequeue_count: u32::try_from(given["dequeueCount"].as_u64().unwrap())
                            .unwrap(),
                        insertion_time: time(given["insertionTime"].as_str().unwrap()),
                        expiration_time: time(given["expirationTime"].as_str().unwrap()),
                        next_visible_time: time(given["nextVisibleTime"].as_str().unwrap()),
                    })
                };
                let bytes = given["message"].as_str().unwrap().as_bytes();
                let (data, binding_data) =
                    crate::queue::queue_invocation("f", queue, &facts, bytes);
                check_expressions(&name, &fixture, &binding_data);
                (data, Some(binding_data.metadata()))
            }
            Binding::HttpTrigger(trigger) => {
                let body = match (given["body"].as_str(), given["body_base64"].as_str()) {
                    (Some(text), _) => text.as_bytes().to_vec(),
                    (None, Some(b64)) => STANDARD.decode(b64).unwrap(),
                    (None, None) => Vec::new(),
                };
                let headers: Vec<(String, String)> = given["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
                    .collect();
                let header = |n: &str| {
                    headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(n))
                        .map(|(_, v)| v.clone())
                };
                let parts = RequestParts {
                    method: given["method"].as_str().unwrap().into(),
                    url: given["url"].as_str().unwrap().into(),
                    path_and_query: String::new(),
                    query: query_pairs(given["query"].as_str().unwrap()),
                    has_length: header("content-length")
                        .and_then(|l| l.parse::<u64>().ok())
                        .is_some_and(|l| l > 0),
                    content_type: header("content-type"),
                    headers,
                    body: body.into(),
                    identities: json!([]),
                };
                let params: BTreeMap<String, String> =
                    serde_json::from_value(given["params"].clone()).unwrap();
                let (data, binding_data) =
                    http_invocation("f", &trigger.name, &parts, params).unwrap();
                (data, Some(binding_data.metadata()))
            }
            Binding::TimerTrigger(timer) => {
                let value = crate::timer::timer_value(
                    given["last"].as_str().unwrap(),
                    given["next"].as_str(),
                    given["lastUpdated"].as_str().unwrap(),
                    given["isPastDue"].as_bool().unwrap(),
                );
                let mut data = Map::new();
                data.insert(timer.name.to_string(), value);
                (data, None)
            }
            Binding::EventGridTrigger(trigger) => {
                let (data, binding_data) =
                    crate::event_grid::event_invocation("f", &trigger.name, given["event"].clone())
                        .unwrap();
                (data, Some(binding_data.metadata()))
            }
            // Triggers the local host does not run (config refuses them): the runtime's
            // tests decode these fixtures.
            Binding::BlobTrigger(_)
            | Binding::EventHubTrigger(_)
            | Binding::ServiceBusTrigger(_) => {
                continue;
            }
            other => panic!("{name}: no check for a {} binding", other.type_name()),
        };
        let mut expected = fixture["Data"].clone();
        let mut built = Value::Object(data);
        if let Binding::HttpTrigger(trigger) = &binding {
            for value in [&mut expected, &mut built] {
                let req = &mut value[trigger.name.as_ref()];
                lower_header_names(req);
                req.as_object_mut().unwrap().remove("Identities");
            }
        }
        assert_eq!(built, expected, "{name}: Data");
        if let Some(metadata) = metadata {
            let mut expected = fixture["Metadata"].as_object().unwrap().clone();
            let mut built = metadata;
            for map in [&mut expected, &mut built] {
                if let Some(headers) = map.get_mut("Headers") {
                    let mut wrapped = json!({"Headers": headers.take()});
                    lower_header_names(&mut wrapped);
                    *headers = wrapped["Headers"].take();
                }
            }
            assert_eq!(stable(built), stable(expected), "{name}: Metadata");
        }
    }
}

#[test]
fn every_answer_is_applied_as_the_host_applies_it() {
    for (name, fixture) in corpus::load("answers") {
        let does = &fixture["host_does"];
        if let Some(reply) = fixture.get("reply") {
            let status = reqwest::StatusCode::from_u16(
                u16::try_from(reply["status"].as_u64().unwrap()).unwrap(),
            )
            .unwrap();
            let body = reply["body"].as_str().unwrap().as_bytes();
            let err = read_answer(status, reply["content_type"].as_str(), body).unwrap_err();
            assert!(
                err.contains(does["fails"].as_str().unwrap()),
                "{name}: {err}"
            );
            continue;
        }
        let binding: Binding = serde_json::from_value(fixture["_binding"].clone()).unwrap();
        let answer = &fixture["answer"];
        match &binding {
            Binding::Queue(queue) => {
                let sent = queue_wire_messages(answer, queue.data_type, MessageEncoding::Base64);
                match does.get("fails") {
                    Some(fails) => {
                        let err = sent.unwrap_err();
                        assert!(err.contains(fails.as_str().unwrap()), "{name}: {err}");
                    }
                    None => {
                        let texts: Vec<String> = sent
                            .unwrap()
                            .iter()
                            .map(|w| String::from_utf8(STANDARD.decode(w).unwrap()).unwrap())
                            .collect();
                        let expected: Vec<String> =
                            serde_json::from_value(does["queue_messages"].clone()).unwrap();
                        assert_eq!(texts, expected, "{name}");
                    }
                }
            }
            Binding::Blob(blob) => {
                let written =
                    host::blob_content(Bound::from_output(answer, blob.data_type).unwrap());
                match (does["blob_utf8"].as_str(), does["blob_hex"].as_str()) {
                    (Some(text), _) => assert_eq!(written, text.as_bytes(), "{name}"),
                    (None, Some(_)) => {
                        let hex: String = written.iter().map(|b| format!("{b:02x}")).collect();
                        assert_eq!(hex, does["blob_hex"].as_str().unwrap(), "{name}");
                    }
                    (None, None) => panic!("{name}: nothing to compare"),
                }
            }
            Binding::Http(_) => {
                let name = fixture["_binding"]["name"].as_str().unwrap();
                let mut reply = functions_custom_handler_protocol::InvocationResponse::new();
                if name == "$return" {
                    reply = reply.return_value(answer.clone());
                } else if let Some(set) = fixture.get("answer") {
                    // `answer` absent: not set; `answer` null: set to null.
                    if fixture["_unset"].as_bool() != Some(true) {
                        reply = reply.output(name, set.clone());
                    }
                }
                let read = match crate::invocation::http_output(&reply, name) {
                    Ok(read) => read,
                    Err(e) => {
                        let fails = does["fails"]
                            .as_str()
                            .unwrap_or_else(|| panic!("{name}: {e}"));
                        assert!(e.contains(fails), "{name}: {e}");
                        continue;
                    }
                };
                let expected = &does["http"];
                corpus::assert_http(name, &read, expected);
            }
            other => panic!("{name}: no check for a {} output", other.type_name()),
        }
    }
}
