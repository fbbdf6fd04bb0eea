//! The generated function.json files and the repo-root host.json, checked against the
//! public schemas in `schemas/` (copied from SchemaStore, see its README) with a real validator.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn schema(name: &str) -> Value {
    let path = repo().join("schemas").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the schema {} must be in the repo: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn manifest() -> (tempdir::Dir, Vec<String>) {
    let dir = tempdir::Dir::new();
    let out = Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(["manifest", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    (dir, names)
}

mod tempdir {
    /// A temporary directory removed on drop.
    pub struct Dir(std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let p = std::env::temp_dir().join(format!("handler-manifest-{}", uuid()));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn uuid() -> String {
        format!("{}-{:?}", std::process::id(), std::time::SystemTime::now())
            .replace([' ', ':', '{', '}', ',', '.'], "")
    }
}

#[test]
fn the_manifest_declares_the_seven_functions() {
    let (_dir, names) = manifest();
    assert_eq!(
        names,
        [
            "housekeeping",
            "job-status",
            "predict",
            "queue-upload",
            "score-job",
            "score-upload",
            "submit-job"
        ]
    );
}

#[test]
fn every_generated_function_json_validates_against_the_public_schema() {
    // The schema says draft 4 but uses `const` (draft 6); custom-handler's tests pin why.
    let validator = jsonschema::draft6::new(&schema("function.schema.json")).unwrap();
    let (dir, names) = manifest();
    for name in names {
        let text = std::fs::read_to_string(dir.path().join(&name).join("function.json")).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(errors(&validator, &doc), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn the_bindings_are_the_ones_the_functions_rely_on() {
    let (dir, _) = manifest();
    let read = |name: &str| -> Value {
        let text = std::fs::read_to_string(dir.path().join(name).join("function.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let predict = read("predict");
    assert_eq!(predict["bindings"][0]["route"], "predict");
    assert_eq!(predict["bindings"][0]["authLevel"], "function");
    assert_eq!(
        predict["bindings"][0]["methods"],
        serde_json::json!(["post"])
    );
    let submit = read("submit-job");
    assert_eq!(submit["bindings"][1]["type"], "queue");
    assert_eq!(submit["bindings"][1]["queueName"], "predict-jobs");
    let score = read("score-job");
    assert_eq!(score["bindings"][0]["type"], "queueTrigger");
    assert_eq!(score["bindings"][3]["path"], "results/{jobId}.json");
    assert_eq!(score["bindings"][3]["direction"], "out");
    let status = read("job-status");
    assert_eq!(status["bindings"][0]["route"], "jobs/{id}");
    // No blob input: the host would build its path from the unchecked route value; the
    // function reads `results/<id>.json` itself once the id is a UUID.
    let types: Vec<&str> = status["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["httpTrigger", "http"]);
    // The file drop answers Event Grid at once with a queue message (see queue_upload.rs),
    // and the scoring streams the blob itself: no blob binding.
    let queued = read("queue-upload");
    assert_eq!(
        queued["bindings"],
        serde_json::json!([
            {"type": "eventGridTrigger", "direction": "in", "name": "event"},
            {"type": "queue", "direction": "out", "name": "upload",
             "queueName": "score-uploads", "connection": "AzureWebJobsStorage"}
        ])
    );
    let upload = read("score-upload");
    assert_eq!(
        upload["bindings"],
        serde_json::json!([{"type": "queueTrigger", "direction": "in", "name": "upload",
            "queueName": "score-uploads", "connection": "AzureWebJobsStorage"}])
    );
    // The schedule is an app setting, so it can change without a deployment.
    let housekeeping = read("housekeeping");
    assert_eq!(housekeeping["bindings"][0]["type"], "timerTrigger");
    assert_eq!(
        housekeeping["bindings"][0]["schedule"],
        "%HOUSEKEEPING_SCHEDULE%"
    );
}

#[test]
fn host_json_validates_against_the_public_schema_and_names_the_handler() {
    let validator = jsonschema::draft7::new(&schema("host.schema.json")).unwrap();
    let text = std::fs::read_to_string(repo().join("host.json")).unwrap();
    let host: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(errors(&validator, &host), Vec::<String>::new());
    assert_eq!(
        host["customHandler"]["description"]["defaultExecutablePath"],
        "handler"
    );
    assert_eq!(host["extensionBundle"]["version"], "[4.*, 5.0.0)");
    assert_eq!(host["extensions"]["queues"]["maxDequeueCount"], 5);
    assert_eq!(host["extensions"]["queues"]["messageEncoding"], "base64");
    // The runtime parses it too, so a field it misreads fails here, not in Azure.
    functions_custom_handler_protocol::host_json::HostJson::from_json(&text).unwrap();
}

#[test]
fn the_validator_rejects_a_broken_host_json() {
    let validator = jsonschema::draft7::new(&schema("host.schema.json")).unwrap();
    let broken =
        serde_json::json!({"version": "2.0", "extensions": {"queues": {"batchSize": "many"}}});
    assert!(!errors(&validator, &broken).is_empty());
}
