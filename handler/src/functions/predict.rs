//! `predict`: `POST /api/predict`, the web app's `/predict` contract, from the same code.

use std::sync::Arc;

use custom_handler::{
    AuthLevel, Function, HttpResponse, HttpTrigger, Invocation, InvocationError,
    InvocationResponse, service_fn,
};

use crate::State;
use crate::respond;

/// The function's declaration.
pub fn function(state: Arc<State>) -> Function {
    Function::new("predict")
        .http_trigger(
            "req",
            HttpTrigger::post("predict").auth(AuthLevel::Function),
        )
        .http_output("res")
        // Forwarded requests: a body over the limit is refused from its head, unread.
        .body_limit(state.predict_limits.max_body_bytes)
        .handler(service_fn(move |inv| handle(state.clone(), inv)))
}

async fn handle(
    state: Arc<State>,
    mut inv: Invocation,
) -> Result<InvocationResponse, InvocationError> {
    // Taken, not copied: the body is the batch.
    let req = inv
        .request_mut()
        .take_http_trigger("req")
        .map_err(|e| super::missing("req", e))?;
    let result = super::body(&req).and_then(|body| {
        house_price::api::predict(
            &state.model,
            &state.predict_limits,
            req.content_type(),
            &body,
        )
    });
    Ok(match result {
        Ok(reply) => InvocationResponse::http(
            "res",
            HttpResponse::new(200)
                .text(String::from_utf8(reply.body).unwrap_or_default())
                .header("Content-Type", reply.content_type),
        ),
        Err(e) => {
            inv.log(log::Level::Info, format!("rejected: {e}"));
            respond::error("res", &e)
        }
    })
}
