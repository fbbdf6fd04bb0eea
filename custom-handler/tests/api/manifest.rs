//! `manifest --out DIR`: function.json files generated from the declarations, checked against
//! the public function.json schema with a real validator.

use crate::helpers::toy_app;
use serde_json::Value;
use std::path::{Path, PathBuf};

const FUNCTION_SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../schemas/function.schema.json"
);

fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("custom-handler-{label}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn schema() -> Value {
    let text = std::fs::read_to_string(FUNCTION_SCHEMA)
        .unwrap_or_else(|e| panic!("cannot read {FUNCTION_SCHEMA}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// The schema declares draft 4 but uses `const`, a draft 6 keyword. Under draft 4 rules `const`
/// is ignored, which leaves the `sql`/`mysql` branches matching every binding, so the `oneOf`
/// rejects even Microsoft's documented examples. Draft 6 is the first draft where the schema
/// means what it says; `the_schema_is_validated_as_draft_6_because_it_uses_const` pins this.
fn schema_validator() -> jsonschema::Validator {
    jsonschema::draft6::new(&schema()).unwrap()
}

/// The documented HTTP example from the notes (and Microsoft's docs).
fn documented_http_function() -> Value {
    serde_json::json!({"bindings": [
        {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "function", "methods": ["post"], "route": "predict"},
        {"type": "http", "direction": "out", "name": "res"}]})
}

#[test]
fn the_schema_is_validated_as_draft_6_because_it_uses_const() {
    let schema = schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-04/schema#");
    assert!(schema.to_string().contains("\"const\""));
    let draft4 = jsonschema::draft4::new(&schema).unwrap();
    assert!(
        !draft4.is_valid(&documented_http_function()),
        "the schema now accepts documented bindings as draft 4: validate it as declared"
    );
    assert!(schema_validator().is_valid(&documented_http_function()));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn manifest_writes_one_function_json_per_function() {
    let dir = temp_dir("manifest");
    toy_app()
        .run_cli(["manifest", "--out", dir.to_str().unwrap()])
        .unwrap();
    let mut folders: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(
        folders,
        [
            "broken", "echo", "flaky", "item", "panicky", "picture", "slow", "submit", "typo",
            "work"
        ]
    );
    let work = read(&dir.join("work/function.json"));
    assert_eq!(
        work,
        r#"{
  "bindings": [
    {
      "type": "queueTrigger",
      "direction": "in",
      "name": "job",
      "queueName": "work-items",
      "connection": "AzureWebJobsStorage"
    },
    {
      "type": "queue",
      "direction": "out",
      "name": "next",
      "queueName": "work-done",
      "connection": "AzureWebJobsStorage"
    },
    {
      "type": "blob",
      "direction": "out",
      "name": "result",
      "path": "results/{jobId}.json",
      "connection": "AzureWebJobsStorage"
    }
  ]
}
"#
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn manifest_output_is_stable_between_runs() {
    let (a, b) = (temp_dir("stable-a"), temp_dir("stable-b"));
    toy_app().write_manifest(&a).unwrap();
    toy_app().write_manifest(&b).unwrap();
    for function in toy_app().functions() {
        let name = function.name();
        assert_eq!(
            read(&a.join(name).join("function.json")),
            read(&b.join(name).join("function.json")),
            "{name}"
        );
    }
    std::fs::remove_dir_all(&a).unwrap();
    std::fs::remove_dir_all(&b).unwrap();
}

#[test]
fn every_generated_function_json_validates_against_the_public_schema() {
    let validator = schema_validator();
    let dir = temp_dir("schema");
    let written = toy_app().write_manifest(&dir).unwrap();
    assert_eq!(written.len(), toy_app().functions().len());
    for path in written {
        let value: Value = serde_json::from_str(&read(&path)).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        // And the local host can read back what the handler wrote.
        let parsed: functions_custom_handler_protocol::function_json::FunctionJson =
            serde_json::from_value(value).unwrap();
        assert!(!parsed.bindings.is_empty());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_schema_check_can_fail() {
    // Guards the test above: a binding with a wrong direction must be reported.
    let validator = schema_validator();
    let bad: Value = serde_json::json!({"bindings": [
        {"type": "queueTrigger", "direction": "out", "name": "job", "queueName": "q"}]});
    assert!(!validator.is_valid(&bad));
}

#[test]
fn manifest_into_a_file_path_fails_with_one_sentence() {
    let dir = temp_dir("blocked");
    let file = dir.join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let err = toy_app()
        .run_cli(["manifest", "--out", file.to_str().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("could not write "), "{err}");
    assert!(!err.contains('\n'));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn manifest_refuses_invalid_declarations() {
    let app = toy_app().function(functions_custom_handler::Function::new("echo"));
    let err = app.write_manifest(&temp_dir("invalid")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the function `echo` has 0 triggers; declare exactly one"
    );
}
