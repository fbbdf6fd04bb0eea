//! Bindings of extensions the runtime has no type for (Cosmos DB, Table, Service Bus
//! output, ...): declared with their properties, read and written as JSON over the real
//! server, with the host's encodings both ways.

use crate::helpers::spawn;
use functions_custom_handler::bindings::{
    ExtensionInput, ExtensionOutput, ExtensionTrigger, Property,
};
use functions_custom_handler::testing::{Event, TestClient};
use functions_custom_handler::{
    Function, FunctionApp, Invocation, InvocationError, Outputs, service_fn,
};
use functions_custom_handler_protocol::InvocationResponse;
use serde_json::{Value, json};

const CHANGES: ExtensionTrigger =
    ExtensionTrigger::new("cosmosDBTrigger", "documents").properties(&[
        ("connection", Property::Text("CosmosConnection")),
        ("databaseName", Property::Text("shop")),
        ("containerName", Property::Text("orders")),
        ("createLeaseContainerIfNotExists", Property::Bool(true)),
        ("maxItemsPerInvocation", Property::Number(100)),
    ]);
const CUSTOMER: ExtensionInput = ExtensionInput::new("cosmosDB", "customer").properties(&[
    ("databaseName", Property::Text("shop")),
    ("containerName", Property::Text("customers")),
    ("id", Property::Text("{customerId}")),
]);
const ROW: ExtensionOutput =
    ExtensionOutput::new("table", "row").properties(&[("tableName", Property::Text("totals"))]);
const NOTE: ExtensionOutput = ExtensionOutput::new("serviceBus", "note")
    .properties(&[("queueName", Property::Text("notes"))]);

async fn totals(mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let documents = inv.trigger(&CHANGES)?;
    let customer = inv.input(&CUSTOMER)?;
    let documents = documents
        .as_array()
        .ok_or_else(|| InvocationError::permanent("the change feed sent no array"))?;
    let total: f64 = documents.iter().filter_map(|d| d["total"].as_f64()).sum();
    Ok(Outputs::new()
        .set(
            &ROW,
            json!({"PartitionKey": "totals", "RowKey": customer["id"], "total": total}),
        )
        // Four letters that are also base64: the host must not take them for bytes.
        .set(&NOTE, "abcd"))
}

fn app() -> FunctionApp {
    FunctionApp::new().function(
        Function::new("totals")
            .trigger(CHANGES)
            .input(CUSTOMER)
            .output(ROW)
            .output(NOTE)
            .handler(service_fn(totals)),
    )
}

#[test]
fn the_manifest_writes_each_extension_binding_with_its_properties() {
    let function = app().functions()[0].function_json();
    let written = serde_json::to_value(&function).unwrap();
    assert_eq!(
        written["bindings"][0],
        json!({"type": "cosmosDBTrigger", "direction": "in", "name": "documents",
            "connection": "CosmosConnection", "databaseName": "shop", "containerName": "orders",
            "createLeaseContainerIfNotExists": true, "maxItemsPerInvocation": 100})
    );
    assert_eq!(
        written["bindings"][2],
        json!({"type": "table", "direction": "out", "name": "row", "tableName": "totals"})
    );
}

/// The host encodes a value that is not an object as JSON text (an array of documents
/// included) and an object as it is (`GetHttpScriptInvocationContextValue`,
/// `Workers/MessageExtensions/ScriptInvocationContextExtensions.cs`); it reads an output
/// string as base64 when it can (`GetBindingValue`,
/// `Workers/Http/HttpScriptInvocationResultExtensions.cs`).
#[tokio::test]
async fn an_extension_trigger_and_input_arrive_as_json_and_outputs_leave_as_the_host_reads_them() {
    let server = spawn(app()).await;
    let request = json!({
        "Data": {
            "documents": "[{\"id\":\"o-1\",\"total\":12.5},{\"id\":\"o-2\",\"total\":7.5}]",
            "customer": {"id": "c-9", "name": "Ada"}
        },
        "Metadata": {"sys": {"MethodName": "totals", "UtcNow": "2026-01-01T00:00:00Z", "RandGuid": "r"}}
    });
    let response = server.invoke_json("totals", &request).await;
    assert_eq!(response.status().as_u16(), 200);
    let answer: InvocationResponse = response.json().await.unwrap();
    assert_eq!(
        answer.outputs["row"],
        json!({"PartitionKey": "totals", "RowKey": "c-9", "total": 20.0})
    );
    assert_eq!(answer.outputs["note"], "YWJjZA==");
}

#[tokio::test]
async fn the_test_client_builds_extension_events_and_reads_their_outputs() {
    let client = TestClient::new(app()).unwrap();
    let event = Event::extension(&CHANGES, json!([{"id": "o-1", "total": 3}]))
        .with_input(&CUSTOMER, json!({"id": "c-1"}));
    let invoked = client.invoke("totals", event).await;
    assert_eq!(invoked.failure(), None);
    assert_eq!(invoked.value(&ROW).unwrap()["total"], 3.0);
    assert_eq!(invoked.value(&NOTE), Some(Value::from("abcd")));

    // No documents at all: the function's own permanent failure, so the batch is retried.
    let invoked = client
        .invoke("totals", Event::extension(&CHANGES, json!({"id": "o-1"})))
        .await;
    assert!(
        invoked
            .failure()
            .unwrap()
            .contains("the change feed sent no array"),
        "{:?}",
        invoked.failure()
    );
    assert!(invoked.value(&ROW).is_none());
}
