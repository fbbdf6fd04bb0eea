//! Reading an invocation whose HTTP body is a 10,000-row pandas batch: a megabyte of JSON
//! inside a JSON string, with two escaped quotes per cell (issue 12's handler figure).
//!
//!     cargo bench -p functions-custom-handler --bench invocation

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use functions_custom_handler_protocol::InvocationRequest;
use serde_json::Value;

/// The shared fixture of an HTTP trigger's invocation, its body replaced by the batch.
fn invocation() -> Vec<u8> {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../conformance/requests/http_trigger_with_body.json"
    );
    let mut envelope: Value =
        serde_json::from_slice(&std::fs::read(fixture).expect("the fixture")).expect("JSON");
    let features = ["CHAS", "RM", "TAX", "PTRATIO", "B", "LSTAT"];
    let columns: Vec<String> = features
        .iter()
        .enumerate()
        .map(|(f, name)| {
            let cells: Vec<String> = (0..10_000)
                .map(|r| format!("\"{r}\":{}", (r * 7 + f * 13) % 997) + ".25")
                .collect();
            format!("\"{name}\":{{{}}}", cells.join(","))
        })
        .collect();
    let body = format!("{{{}}}", columns.join(","));
    let req = envelope
        .pointer_mut("/Data/req")
        .and_then(Value::as_object_mut)
        .expect("the fixture has Data.req");
    req.insert("Body".to_owned(), Value::String(body));
    serde_json::to_vec(&envelope).expect("serializable")
}

fn read(c: &mut Criterion) {
    let body = invocation();
    let mut group = c.benchmark_group("invocation");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("read_10000_row_pandas_invocation", |b| {
        b.iter(|| InvocationRequest::from_slice(black_box(&body)).map(|r| black_box(r).data.len()))
    });
    group.finish();
}

criterion_group!(benches, read);
criterion_main!(benches);
