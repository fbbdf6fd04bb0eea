//! Loads the conformance corpus. Included with `#[path]` by the runtime's tests
//! (`custom-handler/tests/api/conformance.rs`) and the local host's (`local-host/src/conformance.rs`),
//! so both read the same files the same way.

use serde_json::Value;
use std::path::Path;

/// Every file of `conformance/<dir>` as `(file name, JSON)`, in name order. Each must name the
/// host source file it follows in `_source`.
pub fn load(dir: &str) -> Vec<(String, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../conformance")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "the corpus in {} is missing",
        root.display()
    );
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let value: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()));
            assert!(
                value["_source"].as_str().is_some_and(|s| s.contains(".cs")),
                "{} names no host source file",
                p.display()
            );
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, value)
        })
        .collect()
}

/// Asserts that `read` is the HTTP response `expected` (`host_does.http`) records.
pub fn assert_http(
    name: &str,
    read: &functions_custom_handler_protocol::HttpResponse,
    expected: &Value,
) {
    assert_eq!(
        u64::from(read.status),
        expected["status"].as_u64().unwrap(),
        "{name}"
    );
    assert_eq!(
        read.body.as_deref(),
        expected["body"].as_str().map(str::as_bytes),
        "{name}"
    );
    let headers: std::collections::BTreeMap<String, String> =
        serde_json::from_value(expected["headers"].clone()).unwrap();
    assert_eq!(read.headers, headers, "{name}");
}
