//! Event Grid, blob created: for each file created in `incoming`, queue a message on
//! `uploaded` naming the blob, its size and its type.
//!
//! In Azure, an Event Grid subscription on the storage account sends `BlobCreated` events to
//! the host's webhook (`/runtime/webhooks/eventgrid?functionName=uploaded`); locally,
//! `LOCALHOST_BLOB_EVENTS=uploaded=incoming` makes the local host deliver them the same way.

use functions_custom_handler::bindings::{EventGridTrigger, QueueOutput};
use functions_custom_handler::events::BlobCreated;
use functions_custom_handler::{
    Function, FunctionApp, Invocation, InvocationError, Json, Outputs, service_fn,
};

const EVENT: EventGridTrigger = EventGridTrigger::new("event");
const UPLOADED: QueueOutput = QueueOutput::new("uploaded", "uploaded");

async fn uploaded(mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let event = inv.trigger(&EVENT)?;
    if event.event_type != "Microsoft.Storage.BlobCreated" {
        inv.log(
            log::Level::Info,
            format!("ignoring a {} event", event.event_type),
        );
        return Ok(Outputs::new());
    }
    let created: BlobCreated = event.data_as()?;
    let note = serde_json::json!({
        "subject": event.subject,
        "url": created.url,
        "bytes": created.content_length,
        "contentType": created.content_type,
    });
    Ok(Outputs::new().set(&UPLOADED, Json(note)))
}

fn main() -> std::process::ExitCode {
    // Stdout at Information, as the host collects a worker's output (stderr it logs as errors).
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .target(env_logger::Target::Stdout)
        .init();
    FunctionApp::new()
        .function(
            Function::new("uploaded")
                .trigger(EVENT)
                .output(UPLOADED)
                .handler(service_fn(uploaded)),
        )
        .main()
}
