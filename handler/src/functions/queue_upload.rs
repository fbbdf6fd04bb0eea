//! `queue-upload`: answers Event Grid's `BlobCreated` event for a file dropped into `uploads`
//! by queuing it for `score-upload`, and nothing more.
//!
//! Why not score here: Event Grid waits 30 s for the webhook's answer and the host answers
//! only when the function has finished (azure-sdk-for-net
//! `Microsoft.Azure.WebJobs.Extensions.EventGrid/src/TriggerBinding/HttpRequestProcessor.cs`
//! awaits every invocation before its 202). A file that takes longer to score would be
//! delivered again while it is still being scored, up to 30 times
//! (learn.microsoft.com/azure/event-grid/delivery-and-retry). A queue message is where long
//! runs are normal: the host keeps it invisible while it runs, retries it, then poisons it.
//!
//! Why not a `blobTrigger`: Flex Consumption supports the blob trigger only with `"source":
//! "EventGrid"`, and that trigger hands the function the whole blob inline, base64 in the
//! invocation (azure-sdk-for-net `Microsoft.Azure.WebJobs.Extensions.Storage.Blobs`,
//! `Listeners/BlobListenerFactory.cs`): the file held in memory twice over and capped by
//! what one request can carry.

use functions_custom_handler::bindings::{EventGridTrigger, QueueOutput};
use functions_custom_handler::events::EventGridEvent;
use functions_custom_handler::{Function, Invocation, InvocationError, Json, Outputs, service_fn};
use house_price::uploads::{CONTAINER as UPLOADS, QUEUE, ScoreUpload};

const EVENT: EventGridTrigger = EventGridTrigger::new("event");
const UPLOAD: QueueOutput = QueueOutput::new("upload", QUEUE);

/// The function's declaration.
pub fn function() -> Function {
    Function::new("queue-upload")
        .trigger(EVENT)
        .output(UPLOAD)
        .handler(service_fn(handle))
}

async fn handle(mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let event = inv.trigger(&EVENT)?;
    let Some(request) = score_request(&event) else {
        inv.log(
            log::Level::Info,
            "not a blob created in uploads/: nothing to score",
        );
        return Ok(Outputs::new());
    };
    inv.log(
        log::Level::Info,
        format!("uploads/{}: queued for scoring", request.blob),
    );
    Ok(Outputs::new().set(&UPLOAD, Json(&request)))
}

/// What to score for a `BlobCreated` event: the blob in `uploads` its subject names
/// (`/blobServices/default/containers/<container>/blobs/<name>`) and the version its
/// `data.eTag` names.
pub fn score_request(event: &EventGridEvent) -> Option<ScoreUpload> {
    if event.event_type != "Microsoft.Storage.BlobCreated" {
        return None;
    }
    let name = event.subject.strip_prefix(&format!(
        "/blobServices/default/containers/{UPLOADS}/blobs/"
    ))?;
    if name.is_empty() {
        return None;
    }
    let etag = event
        .data
        .get("eTag")
        .and_then(|e| e.as_str())
        .filter(|e| !e.is_empty())
        .map(str::to_owned);
    Some(ScoreUpload {
        blob: name.to_owned(),
        etag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn event(mut value: Value) -> EventGridEvent {
        value["id"] = json!("1");
        value["eventTime"] = json!("2026-12-01T12:00:00Z");
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn only_blobs_created_in_uploads_are_queued_with_their_version() {
        let created = |subject: &str| {
            event(
                json!({"eventType": "Microsoft.Storage.BlobCreated", "subject": subject,
                "data": {"eTag": "\"0x8D4BCC2E4835CD0\""}}),
            )
        };
        assert_eq!(
            score_request(&created(
                "/blobServices/default/containers/uploads/blobs/a/b.csv"
            )),
            Some(ScoreUpload {
                blob: "a/b.csv".to_owned(),
                etag: Some("\"0x8D4BCC2E4835CD0\"".to_owned())
            })
        );
        assert_eq!(
            score_request(&created(
                "/blobServices/default/containers/results/blobs/b.csv"
            )),
            None
        );
        assert_eq!(
            score_request(&created("/blobServices/default/containers/uploads/blobs/")),
            None
        );
        let deleted = event(json!({"eventType": "Microsoft.Storage.BlobDeleted",
            "subject": "/blobServices/default/containers/uploads/blobs/b.csv"}));
        assert_eq!(score_request(&deleted), None);
    }
}
