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

use custom_handler::{Function, Invocation, InvocationError, InvocationResponse, service_fn};
use house_price::uploads::{CONTAINER as UPLOADS, QUEUE, ScoreUpload};
use serde_json::{Map, Value};

/// The function's declaration.
pub fn function() -> Function {
    Function::new("queue-upload")
        .event_grid_trigger("event")
        .queue_output("upload", QUEUE)
        .handler(service_fn(handle))
}

async fn handle(inv: Invocation) -> Result<InvocationResponse, InvocationError> {
    let event = inv
        .request()
        .event_grid_event("event")
        .map_err(|e| super::missing("event", e))?;
    let Some(request) = score_request(&event) else {
        inv.log(
            log::Level::Info,
            "not a blob created in uploads/: nothing to score",
        );
        return Ok(InvocationResponse::new());
    };
    let text = serde_json::to_string(&request)
        .map_err(|e| InvocationError::permanent(format!("the request to score: {e}")))?;
    inv.log(
        log::Level::Info,
        format!("uploads/{}: queued for scoring", request.blob),
    );
    Ok(InvocationResponse::new().output_text("upload", text))
}

/// What to score for a `BlobCreated` event: the blob in `uploads` its subject names
/// (`/blobServices/default/containers/<container>/blobs/<name>`) and the version its
/// `data.eTag` names. CloudEvents carry the same subject and name the event `type` instead
/// of `eventType`.
pub fn score_request(event: &Map<String, Value>) -> Option<ScoreUpload> {
    let kind = event
        .get("eventType")
        .or_else(|| event.get("type"))
        .and_then(Value::as_str)?;
    if kind != "Microsoft.Storage.BlobCreated" {
        return None;
    }
    let subject = event.get("subject").and_then(Value::as_str)?;
    let name = subject.strip_prefix(&format!(
        "/blobServices/default/containers/{UPLOADS}/blobs/"
    ))?;
    if name.is_empty() {
        return None;
    }
    let etag = event
        .get("data")
        .and_then(|d| d.get("eTag"))
        .and_then(Value::as_str)
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
    use serde_json::json;

    fn event(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
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
        let cloud = event(json!({"type": "Microsoft.Storage.BlobCreated",
            "subject": "/blobServices/default/containers/uploads/blobs/c.csv"}));
        assert_eq!(
            score_request(&cloud),
            Some(ScoreUpload {
                blob: "c.csv".to_owned(),
                etag: None
            })
        );
    }
}
