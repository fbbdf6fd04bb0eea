//! Any bytes as the body the host posts to `/{FunctionName}`: decoded or refused with a
//! `DecodeError`, never a panic, whatever each binding is declared as and whichever typed
//! event a handler asks for.
#![no_main]

use functions_custom_handler::Invocation;
use functions_custom_handler::bindings::{
    BlobTrigger, CloudEventTrigger, Declaration, EventGridTrigger, EventHubBatchTrigger,
    EventHubTrigger, HttpTrigger, QueueTrigger,
    ServiceBusTrigger, TimerTrigger,
};
use functions_custom_handler_protocol::function_json::DataType;
use functions_custom_handler_protocol::InvocationRequest;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|body: &[u8]| {
    let Ok(request) = InvocationRequest::from_slice(body) else {
        return;
    };
    let _ = request.sys();
    for name in ["req", "job", "result", "rows", "timer", "blob", "missing"] {
        for data_type in [None, Some(DataType::String), Some(DataType::Binary)] {
            let _ = request.input_bytes(name, data_type);
            let _ = request.input_text(name, data_type);
        }
        if let Ok(http) = request.http_trigger(name) {
            let _ = http.content_type();
            let _ = http.header("content-encoding");
            let _ = http.json::<serde_json::Value>();
        }
    }
    let http = HttpTrigger::post("req", "r");
    let queue = QueueTrigger::new("job", "q");
    let binary_queue = QueueTrigger::new("job", "q").data_type(DataType::Binary);
    let timer = TimerTrigger::new("timer", "0 * * * * *");
    let grid = EventGridTrigger::new("event");
    let blob = BlobTrigger::new("blob", "c/{name}");
    let hub = EventHubTrigger::new("hub", "h");
    let bus = ServiceBusTrigger::queue("job", "q");
    let declared: Arc<[_]> = Arc::from(vec![
        http.binding(),
        queue.binding(),
        timer.binding(),
        grid.binding(),
        blob.binding(),
        hub.binding(),
        bus.binding(),
    ]);
    let invocation = || Invocation::new("f", "id", Arc::clone(&declared), request.clone());
    let _ = invocation().trigger(&http);
    let _ = invocation().trigger(&queue).map(|m| m.json::<serde_json::Value>());
    let _ = invocation().trigger(&binary_queue);
    let _ = invocation().trigger(&timer);
    let _ = invocation().trigger(&grid);
    let _ = invocation().trigger(&CloudEventTrigger(grid.clone()));
    let _ = invocation().trigger(&blob);
    let _ = invocation().trigger(&hub);
    let _ = invocation().trigger(&EventHubBatchTrigger::new(hub.clone()));
    let _ = invocation().trigger(&bus);
});
