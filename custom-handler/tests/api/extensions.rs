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
const STATUS: ExtensionOutput =
    ExtensionOutput::new("signalR", "status").properties(&[("hubName", Property::Text("orders"))]);

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
        // Four letters that are also base64: the host must not take them for other bytes.
        .set(&NOTE, "abcd")
        // Text that is not base64 goes as it is.
        .set(
            &STATUS,
            format!("{} orders, {total} in all", documents.len()),
        ))
}

fn app() -> FunctionApp {
    FunctionApp::new().function(
        Function::new("totals")
            .trigger(CHANGES)
            .input(CUSTOMER)
            .output(ROW)
            .output(NOTE)
            .output(STATUS)
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

/// An extension without a binding rule of its own (Cosmos DB's trigger among them) has its
/// value bound as text (`JobHostMetadataProvider.GetDefaultType`, azure-webjobs-sdk
/// `src/Microsoft.Azure.WebJobs.Host/Extensions/JobHostMetadataProvider.cs`), which the host
/// serialises once more, as it does every value that is not an object; an object stays one
/// (`GetHttpScriptInvocationContextValue`,
/// `Workers/MessageExtensions/ScriptInvocationContextExtensions.cs`). It reads an output
/// string as base64 when it can (`GetBindingValue`,
/// `Workers/Http/HttpScriptInvocationResultExtensions.cs`).
#[tokio::test]
async fn an_extension_trigger_and_input_arrive_as_json_and_outputs_leave_as_the_host_reads_them() {
    let server = spawn(app()).await;
    let documents = json!([{"id": "o-1", "total": 12.5}, {"id": "o-2", "total": 7.5}]).to_string();
    let request = json!({
        "Data": {
            "documents": Value::String(documents).to_string(),
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
    // "abcd" is base64 to the host: it goes as base64 of its own bytes.
    assert_eq!(answer.outputs["note"], "YWJjZA==");
    assert_eq!(answer.outputs["status"], "2 orders, 20 in all");

    // A list the extension binds as a list (no second layer) reads the same.
    let mut once = request.clone();
    once["Data"]["documents"] = json!("[{\"id\":\"o-3\",\"total\":1}]");
    let answer: InvocationResponse = server
        .invoke_json("totals", &once)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer.outputs["row"]["total"], 1.0);
}

/// With `dataType: binary` the host sends an input as base64 and passes an output string
/// through unread (the same two files).
#[tokio::test]
async fn binary_extension_bindings_keep_base64_in_and_text_out_as_they_are() {
    const RAW: ExtensionTrigger =
        ExtensionTrigger::new("rabbitMQTrigger", "message").properties(&[
            ("queueName", Property::Text("in")),
            ("dataType", Property::Text("binary")),
        ]);
    const SAID: ExtensionOutput = ExtensionOutput::new("rabbitMQ", "said").properties(&[
        ("queueName", Property::Text("out")),
        ("dataType", Property::Text("binary")),
    ]);
    async fn echo(mut inv: Invocation) -> Result<Outputs, InvocationError> {
        let sent = inv.trigger(&RAW)?;
        Ok(Outputs::new().set(&SAID, sent))
    }
    let app = FunctionApp::new().function(
        Function::new("echo")
            .trigger(RAW)
            .output(SAID)
            .handler(service_fn(echo)),
    );
    let request = json!({"Data": {"message": "MTIzNA=="}, "Metadata": {}});
    let answer: InvocationResponse = spawn(app)
        .await
        .invoke_json("echo", &request)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer.outputs["said"], "MTIzNA==");
}

#[test]
fn an_extension_binding_that_renames_itself_or_shadows_a_typed_one_is_refused() {
    let renamed = Function::new("f")
        .trigger(CHANGES)
        .output(ExtensionOutput::new("table", "row").property("NAME", "other"))
        .handler(service_fn(totals));
    let err = renamed.validate().unwrap_err();
    assert!(err.contains("sets the property `NAME`"), "{err}");
    let shadow = Function::new("f")
        .trigger(CHANGES)
        .output(ExtensionOutput::new("Queue", "q"))
        .handler(service_fn(totals));
    let err = shadow.validate().unwrap_err();
    assert!(err.contains("use the `queue` one"), "{err}");
}

#[tokio::test]
async fn the_test_client_builds_extension_events_and_reads_their_outputs() {
    let client = TestClient::new(app()).unwrap();
    let event = Event::extension(&CHANGES, json!([{"id": "o-1", "total": 3}]))
        .with_extension_input(&CUSTOMER, json!({"id": "c-1"}));
    let invoked = client.invoke("totals", event).await;
    assert_eq!(invoked.failure(), None);
    assert_eq!(invoked.extension_value(&ROW).unwrap()["total"], 3.0);
    assert_eq!(invoked.extension_value(&NOTE), Some(Value::from("abcd")));
    assert_eq!(
        invoked.extension_value(&STATUS),
        Some(Value::from("1 orders, 3 in all"))
    );

    // A single document where a list was expected: the function's own permanent failure,
    // so nothing is written.
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
    assert!(invoked.extension_value(&ROW).is_none());
}
