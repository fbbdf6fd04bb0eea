//! The runtime against the conformance corpus (`conformance/` at the repo root, shared with the
//! local host's tests): every request decodes to what the host was given, and the runtime's
//! output builders produce the answers whose effect the corpus records. Each file names the
//! host source it follows in `_source`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use functions_custom_handler::HttpResponse;
use functions_custom_handler_protocol::function_json::Binding;
use functions_custom_handler_protocol::{InvocationRequest, InvocationResponse};
use serde_json::Value;
use std::collections::BTreeMap;

#[path = "../../../conformance/corpus.rs"]
mod corpus;

fn binding(fixture: &Value) -> Binding {
    serde_json::from_value(fixture["_binding"].clone()).unwrap()
}

fn given_bytes(given: &Value) -> Option<Vec<u8>> {
    if let Some(b64) = given["blob_base64"]
        .as_str()
        .or(given["body_base64"].as_str())
    {
        return Some(STANDARD.decode(b64).unwrap());
    }
    let text = if given.get("blob").is_some() {
        &given["blob"]
    } else {
        &given["body"]
    };
    text.as_str().map(|s| s.as_bytes().to_vec())
}

#[test]
fn every_request_decodes_to_what_the_host_was_given() {
    for (name, fixture) in corpus::load("requests") {
        let request = InvocationRequest::from_slice(fixture.to_string().as_bytes()).unwrap();
        let binding = binding(&fixture);
        let given = &fixture["_given"];
        match &binding {
            Binding::Blob(blob) => {
                let bytes = request.input_bytes(&blob.name, blob.data_type).unwrap();
                assert_eq!(bytes, given_bytes(given), "{name}");
            }
            Binding::QueueTrigger(queue) => {
                let mut inv = functions_custom_handler::Invocation::new(
                    "f",
                    "id",
                    std::sync::Arc::from(vec![binding.clone()]),
                    request.clone(),
                );
                let meta = inv.trigger(queue).unwrap();
                assert_eq!(
                    meta.text().unwrap(),
                    given["message"].as_str().unwrap(),
                    "{name}"
                );
                // A message property `id` replaces the message's own `Id` in Metadata.
                let id = given.get("metadata_id").unwrap_or(&given["id"]);
                assert_eq!(meta.id.as_deref(), id.as_str(), "{name}");
                assert_eq!(meta.pop_receipt.as_deref(), given["popReceipt"].as_str());
                assert_eq!(
                    meta.dequeue_count.map(u64::from),
                    given["dequeueCount"].as_u64()
                );
                assert_eq!(
                    meta.insertion_time.as_deref(),
                    given["insertionTime"].as_str()
                );
                assert_eq!(
                    meta.next_visible_time.as_deref(),
                    given["nextVisibleTime"].as_str()
                );
            }
            Binding::HttpTrigger(trigger) => {
                let http = request.http_trigger(&trigger.name).unwrap();
                assert_eq!(http.method, given["method"].as_str().unwrap(), "{name}");
                assert_eq!(http.url, given["url"].as_str().unwrap(), "{name}");
                let body = given_bytes(given).unwrap_or_default();
                assert_eq!(http.body, body, "{name}");
                let params: BTreeMap<String, String> =
                    serde_json::from_value(given["params"].clone()).unwrap();
                assert_eq!(http.params, params, "{name}");
                for pair in given["headers"].as_array().unwrap() {
                    let (key, value) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
                    assert!(
                        http.headers[key].iter().any(|v| v == value),
                        "{name}: header {key}"
                    );
                }
                let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for (k, v) in
                    url::form_urlencoded::parse(given["query"].as_str().unwrap().as_bytes())
                {
                    query
                        .entry(k.into_owned())
                        .or_default()
                        .push(v.into_owned());
                }
                let joined: BTreeMap<String, String> =
                    query.into_iter().map(|(k, v)| (k, v.join(","))).collect();
                assert_eq!(http.query, joined, "{name}");
            }
            Binding::TimerTrigger(timer) => {
                let info = request.timer(&timer.name).unwrap();
                let status = info.schedule_status.unwrap();
                assert_eq!(status.last.as_deref(), given["last"].as_str());
                assert_eq!(status.next.as_deref(), given["next"].as_str());
                assert_eq!(info.is_past_due, given["isPastDue"].as_bool().unwrap());
            }
            Binding::EventGridTrigger(trigger) => {
                let value = request.binding(&trigger.name).unwrap();
                let event = functions_custom_handler_protocol::as_object(value).unwrap();
                assert_eq!(Value::Object(event.into_owned()), given["event"], "{name}");
            }
            // Decoded into their typed events by `every_trigger_decodes_into_its_typed_event`.
            Binding::BlobTrigger(_)
            | Binding::EventHubTrigger(_)
            | Binding::ServiceBusTrigger(_) => {}
            other => panic!("{name}: no check for a {} binding", other.type_name()),
        }
    }
}

#[test]
fn the_runtime_s_builders_produce_the_answers_of_the_corpus() {
    let mut checked = 0;
    for (name, fixture) in corpus::load("answers") {
        let given = &fixture["_given"];
        if given.is_null() {
            continue;
        }
        let output = fixture["_binding"]["name"].as_str().unwrap();
        let built = if let Some(text) = given["output_text"].as_str() {
            InvocationResponse::new().output_text(output, text).outputs[output].clone()
        } else if let Some(items) = given["queue_messages"].as_array() {
            let items = items.iter().map(|i| i.as_str().unwrap().to_string());
            InvocationResponse::new()
                .queue_messages(output, items)
                .outputs[output]
                .clone()
        } else if let Some(spec) = given.get("runtime_json") {
            let status = u16::try_from(spec["status"].as_u64().unwrap()).unwrap();
            HttpResponse::new(status)
                .json(&spec["body"])
                .unwrap()
                .to_output()
                .unwrap()
        } else {
            panic!("{name}: unknown _given");
        };
        assert_eq!(built, fixture["answer"], "{name}");
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} answers checked");
}

#[test]
fn http_answers_are_read_as_the_host_reads_them() {
    for (name, fixture) in corpus::load("answers") {
        let Some(expected) = fixture["host_does"].get("http") else {
            continue;
        };
        if fixture["answer"].is_null() {
            continue; // not set, or null: the host's default or failure, the local host's to apply
        }
        let read = if fixture["_binding"]["name"] == "$return" {
            HttpResponse::from_return_value(&fixture["answer"]).unwrap()
        } else {
            HttpResponse::from_output(&fixture["answer"]).unwrap()
        };
        corpus::assert_http(&name, &read, expected);
    }
}

/// Every trigger fixture decodes into its typed event ([`functions_custom_handler::events`])
/// through the same `Invocation::trigger` a handler calls, with what the host was given.
#[test]
fn every_trigger_decodes_into_its_typed_event() {
    use functions_custom_handler::Invocation;
    use functions_custom_handler::events::BlobCreated;
    use std::sync::Arc;
    let mut decoded = 0;
    for (name, fixture) in corpus::load("requests") {
        let binding = binding(&fixture);
        let given = &fixture["_given"];
        let request = InvocationRequest::from_slice(fixture.to_string().as_bytes()).unwrap();
        let mut inv = Invocation::new("f", "id", Arc::from(vec![binding.clone()]), request);
        match binding {
            Binding::QueueTrigger(trigger) => {
                let message = inv.trigger(&trigger).unwrap();
                assert_eq!(
                    message.text().unwrap(),
                    given["message"].as_str().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    message.dequeue_count.map(u64::from),
                    given["dequeueCount"].as_u64(),
                    "{name}"
                );
            }
            Binding::HttpTrigger(trigger) => {
                let request = inv.trigger(&trigger).unwrap();
                assert_eq!(
                    request.body,
                    given_bytes(given).unwrap_or_default(),
                    "{name}"
                );
            }
            Binding::TimerTrigger(trigger) => {
                let timer = inv.trigger(&trigger).unwrap();
                assert_eq!(
                    Some(timer.is_past_due),
                    given["isPastDue"].as_bool(),
                    "{name}"
                );
            }
            Binding::EventGridTrigger(trigger) if given["event"].get("specversion").is_some() => {
                let event = inv
                    .trigger(&functions_custom_handler::bindings::CloudEventTrigger(
                        trigger,
                    ))
                    .unwrap();
                assert_eq!(event.id, given["event"]["id"].as_str().unwrap(), "{name}");
                assert_eq!(event.event_type, given["event"]["type"].as_str().unwrap());
                let created: BlobCreated = event.data_as().unwrap();
                assert_eq!(created.url, given["event"]["data"]["url"].as_str().unwrap());
            }
            Binding::EventGridTrigger(trigger) => {
                let event = inv.trigger(&trigger).unwrap();
                assert_eq!(event.id, given["event"]["id"].as_str().unwrap(), "{name}");
                assert_eq!(event.subject, given["event"]["subject"].as_str().unwrap());
                let created: BlobCreated = event.data_as().unwrap();
                assert_eq!(
                    created.e_tag.as_deref(),
                    given["event"]["data"]["eTag"].as_str()
                );
                assert_eq!(
                    created.content_length,
                    given["event"]["data"]["contentLength"].as_u64()
                );
            }
            Binding::EventHubTrigger(trigger) if given.get("events").is_some() => {
                let batch = inv
                    .trigger(
                        &functions_custom_handler::bindings::EventHubBatchTrigger::new(
                            trigger.clone(),
                        ),
                    )
                    .unwrap();
                let events = given["events"].as_array().unwrap();
                assert_eq!(batch.events.len(), events.len(), "{name}");
                // Without a dataType the host parses each body as JSON (Json.NET, which
                // rewrites dates) and sends the batch as one string holding the array.
                let data = fixture["Data"][trigger.name.as_ref()].as_str().unwrap();
                let sent: Vec<Value> = serde_json::from_str(data).unwrap();
                for ((event, given), sent) in batch.events.iter().zip(events).zip(sent) {
                    let body: Value = serde_json::from_slice(&event.body).unwrap();
                    assert_eq!(body, sent, "{name}");
                    let original: Value =
                        serde_json::from_str(given["body"].as_str().unwrap()).unwrap();
                    assert_eq!(body["deviceId"], original["deviceId"], "{name}");
                    assert_eq!(event.sequence_number, given["sequenceNumber"].as_i64());
                    assert_eq!(event.partition_context.partition_id.as_deref(), Some("3"));
                    assert!(event.enqueued_time.is_some(), "{name}");
                }
            }
            Binding::EventHubTrigger(trigger) => {
                let event = inv.trigger(&trigger).unwrap();
                assert_eq!(
                    event.text().unwrap(),
                    given["body"].as_str().unwrap(),
                    "{name}"
                );
                assert_eq!(event.sequence_number, given["sequenceNumber"].as_i64());
                assert_eq!(event.offset.as_deref(), given["offsetString"].as_str());
                assert_eq!(
                    event.partition_context.event_hub_name.as_deref(),
                    given["eventHubName"].as_str()
                );
                assert_eq!(event.properties["source"], given["properties"]["source"]);
                assert!(event.enqueued_time.is_some(), "{name}");
            }
            Binding::ServiceBusTrigger(trigger) => {
                let message = inv.trigger(&trigger).unwrap();
                assert_eq!(
                    message.text().unwrap(),
                    given["body"].as_str().unwrap(),
                    "{name}"
                );
                assert_eq!(message.message_id.as_deref(), given["messageId"].as_str());
                assert_eq!(
                    message.delivery_count.map(u64::from),
                    given["deliveryCount"].as_u64()
                );
                assert_eq!(message.sequence_number, given["sequenceNumber"].as_i64());
                assert_eq!(
                    message.correlation_id.as_deref(),
                    given["correlationId"].as_str()
                );
                assert_eq!(message.subject.as_deref(), given["subject"].as_str());
                assert_eq!(message.session_id, None, "{name}: absent when null");
                assert_eq!(
                    message.application_properties["tenant"],
                    given["applicationProperties"]["tenant"]
                );
            }
            Binding::BlobTrigger(trigger) => {
                let blob = inv.trigger(&trigger).unwrap();
                assert_eq!(blob.content, given_bytes(given).unwrap(), "{name}");
                assert_eq!(blob.uri.as_deref(), given["url"].as_str(), "{name}");
                assert_eq!(blob.captures["name"], "houses.csv", "{name}");
                assert_eq!(blob.metadata["uploadedBy"], "cli", "{name}");
            }
            // Inputs, not triggers: `every_request_decodes_to_what_the_host_was_given`.
            Binding::Blob(_) => continue,
            other => panic!("{name}: no check for a {} binding", other.type_name()),
        }
        decoded += 1;
    }
    assert!(decoded >= 12, "only {decoded} trigger fixtures decoded");
}
