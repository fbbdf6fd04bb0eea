//! `POST /admin/functions/{name}`: runs any function now, as the real host's admin API does.
//!
//! Followed from azure-functions-host `src/WebJobs.Script.WebHost/Controllers/FunctionsController.cs`
//! (`Invoke`, commit 89dc438): the master key only (Admin level; function keys get 401), a
//! body `{"input": "..."}` (no body: 400), the function found by name in any case (else an
//! empty 404), then 202 at once while the function runs in the background, its outcome only
//! logged. The input becomes the trigger value the way each trigger's binding makes one:
//! - a queue trigger: a message with that text, taken as it is (no base64 decoding), with no
//!   id or pop receipt and a dequeue count of 0 ([`MessageFacts::from_admin_input`]);
//! - a timer trigger: the input is ignored and a `TimerInfo` is made, not past due
//!   (azure-webjobs-sdk-extensions `src/WebJobs.Extensions/Extensions/Timers/Bindings/TimerTriggerBinding.cs`);
//! - an Event Grid trigger: the input must be one event's JSON object
//!   (azure-sdk-for-net `EventGridTriggerAttributeBindingProvider.cs`, `BindAsync`);
//! - an HTTP trigger: accepted, then the invocation fails ("An HttpRequest is required",
//!   WebJobs.Extensions.Http `HttpTriggerAttributeBindingProvider.cs`), as on the host.

use crate::binding_data::{BindingData, format_offset};
use crate::config::{FunctionSpec, Keys};
use crate::invocation::Invoker;
use crate::queue::{MessageFacts, queue_invocation};
use crate::timer::{Schedule, timer_value};
use actix_web::{HttpRequest, HttpResponse, web};
use functions_custom_handler_protocol::function_json::{AuthLevel, Binding};
use serde_json::{Map, Value};
use std::sync::Arc;
use time::OffsetDateTime;

/// What the admin API needs, built once.
#[derive(Debug)]
pub struct Admin {
    /// Every enabled function.
    pub functions: Vec<Arc<FunctionSpec>>,
    /// The keys; only the master key is accepted.
    pub keys: Keys,
    /// Runs the invocations.
    pub invoker: Arc<Invoker>,
    /// The runtime that owns storage and handler connections (not an actix worker's).
    pub runtime: tokio::runtime::Handle,
}

/// The route of the admin API.
pub fn configure(cfg: &mut web::ServiceConfig, admin: Arc<Admin>) {
    cfg.app_data(web::Data::from(admin))
        .service(web::resource("/admin/functions/{name}").route(web::post().to(invoke)));
}

async fn invoke(
    req: HttpRequest,
    name: web::Path<String>,
    body: web::Bytes,
    admin: web::Data<Admin>,
) -> HttpResponse {
    let query = crate::http::query_pairs(req.query_string());
    let presented = crate::http::presented_key(&req, &query);
    if !admin.keys.allows(AuthLevel::Admin, presented.as_deref()) {
        log::info!(
            "POST {} -> 401: the admin API needs the master key",
            req.path()
        );
        return HttpResponse::Unauthorized().finish();
    }
    let Some(function) = admin
        .functions
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(&name))
        .cloned()
    else {
        return HttpResponse::NotFound().finish();
    };
    let Some(input) = parse_input(&body) else {
        log::info!(
            "POST {} -> 400: the body must be JSON like {{\"input\": \"...\"}}",
            req.path()
        );
        return HttpResponse::BadRequest().finish();
    };
    let invoker = Arc::clone(&admin.invoker);
    admin.runtime.spawn(async move {
        let Some((data, binding_data)) = trigger_value(&function, &input) else {
            log::error!(
                "Executed 'Functions.{}' (Failed): the admin API cannot make its trigger's value from this input (an HTTP trigger needs an HTTP request; an Event Grid trigger one JSON event object)",
                function.name
            );
            return;
        };
        let id = uuid::Uuid::new_v4().to_string();
        // Failures are logged by the invoker, as the host logs them.
        let _ = invoker.invoke(&function, &id, data, binding_data).await;
    });
    HttpResponse::Accepted().finish()
}

/// The `input` of a `{"input": ...}` body (the name in any case, as MVC binds it); `None`
/// for a body that is not a JSON object. A missing or null input is empty text.
fn parse_input(body: &[u8]) -> Option<String> {
    let Value::Object(fields) = serde_json::from_slice::<Value>(body).ok()? else {
        return None;
    };
    let input = fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("input"))
        .map(|(_, v)| v);
    Some(match input {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    })
}

/// The trigger value and binding data the host makes of `input` for `function`; `None` when
/// the trigger cannot be made from text.
pub(crate) fn trigger_value(
    function: &FunctionSpec,
    input: &str,
) -> Option<(Map<String, Value>, BindingData)> {
    let now = OffsetDateTime::now_utc();
    match function.json.trigger()? {
        Binding::QueueTrigger(trigger) => Some(queue_invocation(
            &function.name,
            trigger,
            &MessageFacts::from_admin_input(now),
            input.as_bytes(),
        )),
        // `JObject.Parse` of the input, as the extension's `BindAsync` does; text that is not
        // one JSON object fails the invocation.
        Binding::EventGridTrigger(_) => {
            let event = serde_json::from_str(input).ok()?;
            crate::event_grid::trigger_value(function, event).ok()
        }
        Binding::TimerTrigger(trigger) => {
            let next = Schedule::parse(&trigger.schedule)
                .ok()
                .and_then(|s| s.next_after(now))
                .map(format_offset);
            let mut data = Map::new();
            // No schedule monitor here: the status of a timer that never ran.
            data.insert(
                trigger.name.to_string(),
                timer_value(
                    crate::timer::NEVER,
                    next.as_deref(),
                    &format_offset(now),
                    false,
                ),
            );
            Some((data, BindingData::new(&function.name)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_is_read_from_a_json_object_in_any_case() {
        assert_eq!(parse_input(br#"{"input": "hi"}"#).as_deref(), Some("hi"));
        assert_eq!(parse_input(br#"{"Input": "hi"}"#).as_deref(), Some("hi"));
        assert_eq!(parse_input(b"{}").as_deref(), Some(""));
        assert_eq!(parse_input(br#"{"input": null}"#).as_deref(), Some(""));
        assert_eq!(parse_input(b"").as_deref(), None);
        assert_eq!(parse_input(b"[]").as_deref(), None);
        assert_eq!(parse_input(b"\"hi\"").as_deref(), None);
    }
}
