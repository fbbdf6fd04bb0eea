//! Any bytes as the body the host posts to `/{FunctionName}`: decoded or refused with a
//! `DecodeError`, never a panic, whatever each binding is declared as.
#![no_main]

use functions_custom_handler::InvocationRequest;
use functions_custom_handler::function_json::DataType;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let Ok(request) = InvocationRequest::from_slice(body) else {
        return;
    };
    let _ = request.sys();
    let _ = request.queue_metadata();
    for name in ["req", "job", "result", "rows", "timer", "blob", "missing"] {
        for data_type in [None, Some(DataType::String), Some(DataType::Binary)] {
            let _ = request.input_bytes(name, data_type);
            let _ = request.input_text(name, data_type);
            let _ = request.queue_message(name, data_type);
            let _ = request.queue_json::<serde_json::Value>(name, data_type);
        }
        let _ = request.timer(name);
        if let Ok(http) = request.http_trigger(name) {
            let _ = http.content_type();
            let _ = http.header("content-encoding");
            let _ = http.body_bytes();
            let _ = http.json::<serde_json::Value>();
        }
    }
});
