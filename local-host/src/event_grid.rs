//! Event Grid deliveries: `/runtime/webhooks/eventgrid?functionName=<name>`, as the host's
//! Event Grid extension serves them, and the trigger value of one event.
//!
//! Followed from azure-sdk-for-net `sdk/eventgrid/Microsoft.Azure.WebJobs.Extensions.EventGrid`
//! (`TriggerBinding/HttpRequestProcessor.cs`, `EventGridExtensionConfigProvider.cs`,
//! `TriggerBinding/EventGridTriggerAttributeBindingProvider.cs`) and azure-functions-host
//! `src/WebJobs.Script.WebHost/Controllers/HostController.cs` (the webhook route):
//! - the key is a system key or the master key (`code=` or `x-functions-key`); this host
//!   has only the master key;
//! - `functionName` is the function's folder name, matched with case (else 404
//!   `cannot find function: '<name>'`);
//! - `aeg-event-type: SubscriptionValidation` is answered `{"validationResponse": code}` with
//!   the code of the first event; `Notification` runs the function once per event, all at
//!   once, and answers 202 when every run succeeded, else 500 (Event Grid then delivers the
//!   whole batch again); `Unsubscribe` is 202; any other or no type is 400;
//! - a CloudEvents `OPTIONS` handshake is answered 200 with `Webhook-Allowed-Origin`;
//! - the function gets the event as an object, and Metadata its `data`.

use crate::admin::Admin;
use crate::binding_data::BindingData;
use crate::config::FunctionSpec;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use functions_custom_handler_protocol::function_json::{AuthLevel, Binding};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The origins the extension echoes in `Webhook-Allowed-Origin`; anything else gets the first.
const EVENT_GRID_ORIGINS: [&str; 5] = [
    "eventgrid.azure.net",
    "eventgrid.azure.us",
    "eventgrid.azure.cn",
    "eventgrid.eaglex.ic.gov",
    "eventgrid.microsoft.scloud",
];

/// The webhook route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/runtime/webhooks/eventgrid")
            .route(web::post().to(webhook))
            .route(web::method(Method::OPTIONS).to(webhook)),
    );
}

async fn webhook(req: HttpRequest, body: web::Bytes, admin: web::Data<Admin>) -> HttpResponse {
    let query = crate::http::query_pairs(req.query_string());
    let presented = crate::http::presented_key(&req, &query);
    if !admin.keys.allows(AuthLevel::Admin, presented.as_deref()) {
        log::info!(
            "{} {} -> 401: the Event Grid webhook needs the master key",
            req.method(),
            req.path()
        );
        return HttpResponse::Unauthorized().finish();
    }
    let name = query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("functionName"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let Some(function) = admin
        .functions
        .iter()
        .find(|f| f.name == name && matches!(f.json.trigger(), Some(Binding::EventGridTrigger(_))))
        .cloned()
    else {
        return HttpResponse::NotFound().body(format!("cannot find function: '{name}'"));
    };
    if req.method() == Method::OPTIONS {
        let origin = req
            .headers()
            .get("webhook-request-origin")
            .and_then(|v| v.to_str().ok())
            .filter(|o| {
                EVENT_GRID_ORIGINS
                    .iter()
                    .any(|known| o.eq_ignore_ascii_case(known))
            })
            .unwrap_or(EVENT_GRID_ORIGINS[0])
            .to_owned();
        return HttpResponse::Ok()
            .insert_header(("Webhook-Allowed-Origin", origin))
            .finish();
    }
    let kind = req
        .headers()
        .get("aeg-event-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let Some(events) = events(&body) else {
        return HttpResponse::BadRequest().body("the body is not a JSON event or array of events");
    };
    match kind.as_str() {
        "SubscriptionValidation" => {
            let code = events
                .first()
                .and_then(|e| e.get("data"))
                .and_then(|d| d.get("validationCode"))
                .and_then(Value::as_str);
            match code {
                Some(code) => HttpResponse::Ok().body(json!({ "validationResponse": code }).to_string()),
                None => HttpResponse::BadRequest().body("the validation event has no data.validationCode"),
            }
        }
        "Notification" => {
            let invoker = Arc::clone(&admin.invoker);
            let joined = admin
                .runtime
                .spawn(async move { deliver(&invoker, &function, events).await })
                .await;
            match joined {
                Ok(Ok(())) => HttpResponse::Accepted().finish(),
                Ok(Err(first_failure)) => HttpResponse::InternalServerError().body(first_failure),
                Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
            }
        }
        "Unsubscribe" => HttpResponse::Accepted().finish(),
        _ => HttpResponse::BadRequest().body(format!(
            "aeg-event-type is {kind:?}; expected SubscriptionValidation, Notification or Unsubscribe"
        )),
    }
}

/// The events of a delivery: an array as it is, one object (CloudEvents structured mode) as
/// an array of one.
fn events(body: &[u8]) -> Option<Vec<Value>> {
    match serde_json::from_slice(body).ok()? {
        Value::Array(events) => Some(events),
        event @ Value::Object(_) => Some(vec![event]),
        _ => None,
    }
}

/// Runs `function` once per event, all at once; the first failure, if any.
pub(crate) async fn deliver(
    invoker: &Arc<crate::invocation::Invoker>,
    function: &Arc<FunctionSpec>,
    events: Vec<Value>,
) -> Result<(), String> {
    let mut runs = tokio::task::JoinSet::new();
    for event in events {
        let (invoker, function) = (Arc::clone(invoker), Arc::clone(function));
        runs.spawn(async move {
            let (data, binding_data) = trigger_value(&function, event)?;
            let id = uuid::Uuid::new_v4().to_string();
            invoker
                .invoke(&function, &id, data, binding_data)
                .await
                .map(|_| ())
        });
    }
    let mut first_failure = None;
    while let Some(done) = runs.join_next().await {
        let outcome = done.map_err(|e| e.to_string()).and_then(|r| r);
        if let Err(e) = outcome {
            first_failure.get_or_insert(e);
        }
    }
    first_failure.map_or(Ok(()), Err)
}

/// The trigger value and binding data of one event: the event as an object, and its `data`
/// in Metadata. `Err` for an event that is not an object.
pub(crate) fn trigger_value(
    function: &FunctionSpec,
    event: Value,
) -> Result<(Map<String, Value>, BindingData), String> {
    let Some(Binding::EventGridTrigger(trigger)) = function.json.trigger() else {
        return Err(format!("`{}` has no Event Grid trigger", function.name));
    };
    event_invocation(&function.name, &trigger.name, event)
}

/// [`trigger_value`] for a trigger binding named `trigger` of `function`: what the shared
/// conformance corpus (`conformance/requests/event_grid_blob_created.json`) pins.
pub(crate) fn event_invocation(
    function: &str,
    trigger: &str,
    event: Value,
) -> Result<(Map<String, Value>, BindingData), String> {
    if !event.is_object() {
        return Err("an Event Grid event must be a JSON object".to_owned());
    }
    let mut binding_data = BindingData::new(function);
    if let Some(data) = event.get("data") {
        binding_data.add("data", data.clone());
    }
    let mut values = Map::new();
    values.insert(trigger.to_owned(), event);
    Ok((values, binding_data))
}
