//! The captured-shape fixtures in `tests/data` (see its README for where each shape comes from),
//! parsed with the typed accessors.

use custom_handler::protocol::{QueueMetadata, ScheduleStatus, Sys, TimerInfo, TimerSchedule};
use custom_handler::{HttpRequest, InvocationRequest};

fn parse(text: &str) -> InvocationRequest {
    InvocationRequest::from_slice(text.as_bytes()).unwrap()
}

#[test]
fn documented_http_post_with_a_query_string_of_braces() {
    let req = parse(include_str!("../data/http_trigger_post_documented.json"));
    assert!(req.metadata.is_empty());
    let http = req.http_trigger("req").unwrap();
    assert_eq!(http.url, "http://localhost:7071/api/order");
    assert_eq!(http.method, "POST");
    assert!(http.query.is_empty());
    assert_eq!(http.content_type(), Some("application/json"));
    let order: serde_json::Value = http.json().unwrap();
    assert_eq!(order["id"], 1005);
    assert_eq!(order["color"], "black");
}

#[test]
fn core_tools_http_post_with_header_arrays_and_a_query_object() {
    let req = parse(include_str!("../data/http_trigger_post_core_tools.json"));
    let http = req.http_trigger("req").unwrap();
    assert_eq!(http.query["tag"], "a,b");
    assert_eq!(http.query["verbose"], "1");
    assert_eq!(http.header("user-agent"), Some("curl/8.5.0"));
    assert_eq!(http.headers["X-Trace"], vec!["one", "two"]);
    assert_eq!(http.content_type(), Some("application/json; charset=utf-8"));
    assert!(http.identities.is_array());
    assert_eq!(http.body_bytes().unwrap(), br#"{"message":"hello, world"}"#);
    assert_eq!(
        req.sys(),
        Sys {
            method_name: Some("echo".into()),
            utc_now: Some("2024-05-13T09:21:44.5236126Z".into()),
            rand_guid: Some("0f3c52a4-2e0b-4a5e-9bd0-7f2f6d3c1a55".into()),
        }
    );
}

#[test]
fn http_get_without_a_body_has_route_params_and_an_empty_body() {
    let req = parse(include_str!("../data/http_trigger_no_body.json"));
    let http = req.http_trigger("req").unwrap();
    assert_eq!(http.method, "GET");
    assert_eq!(http.body, None);
    assert!(http.body_bytes().unwrap().is_empty());
    assert_eq!(http.params["id"], "5b0f2e8c-0c4e-4d7f-9a51-0f6a0d5e3c21");
}

#[test]
fn octet_stream_bodies_are_base64_decoded() {
    let req = parse(include_str!(
        "../data/http_trigger_octet_stream_base64.json"
    ));
    let http = req.http_trigger("req").unwrap();
    assert_eq!(
        http.body_bytes().unwrap(),
        vec![0x00, 0x01, 0x02, 0xfd, 0xfe, 0xff]
    );
}

#[test]
fn core_tools_queue_message_is_unquoted_and_its_metadata_read() {
    let req = parse(include_str!("../data/queue_trigger_core_tools.json"));
    assert_eq!(
        req.queue_message("job").unwrap(),
        r#"{"jobId":"5b0f2e8c-0c4e-4d7f-9a51-0f6a0d5e3c21","rows":2}"#
    );
    let job: serde_json::Value = req.queue_json("job").unwrap();
    assert_eq!(job["rows"], 2);
    assert_eq!(
        req.queue_metadata(),
        QueueMetadata {
            id: Some("52d5b3a4-8c1e-4f6a-9b7d-3e2f1a0c9d8e".into()),
            dequeue_count: Some(1),
            insertion_time: Some("2024-05-13T09:21:44+00:00".into()),
            expiration_time: Some("2024-05-20T09:21:44+00:00".into()),
            next_visible_time: Some("2024-05-13T09:31:45+00:00".into()),
            pop_receipt: Some("AgAAAAMAAAAAAAAA1x5c3j6l2gE=".into()),
        }
    );
    assert_eq!(req.sys().method_name.as_deref(), Some("score-job"));
}

#[test]
fn documented_queue_message_has_plain_metadata() {
    let req = parse(include_str!("../data/queue_trigger_documented.json"));
    assert_eq!(
        req.queue_message("myQueueItem").unwrap(),
        r#"{ message: "Message sent" }"#
    );
    let meta = req.queue_metadata();
    assert_eq!(meta.dequeue_count, Some(1));
    assert_eq!(
        meta.id.as_deref(),
        Some("800ae4b3-bdd2-4c08-badd-f08e5a34b865")
    );
    assert_eq!(
        meta.pop_receipt.as_deref(),
        Some("AgAAAAMAAAAAAAAAAgtnj8x+1QE=")
    );
    assert_eq!(req.sys().method_name.as_deref(), Some("QueueTrigger"));
}

#[test]
fn both_queue_metadata_shapes_give_the_same_typed_values_for_the_same_facts() {
    let core = parse(include_str!("../data/queue_trigger_core_tools.json")).queue_metadata();
    let docs = parse(include_str!("../data/queue_trigger_documented.json")).queue_metadata();
    assert_eq!(core.dequeue_count, docs.dequeue_count);
    // Neither keeps the quotes the host added.
    assert!(!core.id.unwrap().contains('"'));
    assert!(!docs.id.unwrap().contains('"'));
}

#[test]
fn timer_trigger_value_is_typed() {
    let req = parse(include_str!("../data/timer_trigger.json"));
    assert_eq!(
        req.timer("timer").unwrap(),
        TimerInfo {
            schedule: Some(TimerSchedule {
                adjust_for_dst: true
            }),
            schedule_status: Some(ScheduleStatus {
                last: Some("2024-05-13T09:15:00+00:00".into()),
                next: Some("2024-05-13T09:20:00+00:00".into()),
                last_updated: Some("2024-05-13T09:15:00.0152891+00:00".into()),
            }),
            is_past_due: false,
        }
    );
}

#[test]
fn every_fixture_round_trips_through_the_request_type() {
    for text in [
        include_str!("../data/http_trigger_post_documented.json"),
        include_str!("../data/http_trigger_post_core_tools.json"),
        include_str!("../data/http_trigger_no_body.json"),
        include_str!("../data/http_trigger_octet_stream_base64.json"),
        include_str!("../data/queue_trigger_core_tools.json"),
        include_str!("../data/queue_trigger_documented.json"),
        include_str!("../data/timer_trigger.json"),
    ] {
        let req = parse(text);
        let again: InvocationRequest =
            serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
        assert_eq!(again, req);
    }
}

#[test]
fn an_http_request_serializes_to_the_host_shape_and_back() {
    let req = parse(include_str!("../data/http_trigger_post_core_tools.json"));
    let http = req.http_trigger("req").unwrap();
    let value = serde_json::to_value(&http).unwrap();
    assert!(value["Headers"]["Accept"].is_array());
    assert_eq!(value["Query"]["tag"], "a,b");
    let back: HttpRequest = serde_json::from_value(value).unwrap();
    assert_eq!(back, http);
}
