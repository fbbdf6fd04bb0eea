//! `predict`: `POST /api/predict`, the web app's `/predict` contract, from the same code.

use std::sync::Arc;

use functions_custom_handler::bindings::{AuthLevel, HttpOutput, HttpTrigger};
use functions_custom_handler::{
    Function, HttpResponse, Invocation, InvocationError, Outputs, service_fn,
};

use crate::State;
use crate::respond;

const REQ: HttpTrigger = HttpTrigger::post("req", "predict").auth(AuthLevel::Function);
const RES: HttpOutput = HttpOutput::new("res");

/// The function's declaration.
pub fn function(state: Arc<State>) -> Function {
    Function::new("predict")
        .trigger(REQ)
        .output(RES)
        // Forwarded requests: a body over the limit is refused from its head, unread.
        .body_limit(state.predict_limits.max_body_bytes)
        .handler(service_fn(move |inv| handle(state.clone(), inv)))
}

async fn handle(state: Arc<State>, mut inv: Invocation) -> Result<Outputs, InvocationError> {
    // Taken, not copied: the body is the batch.
    let req = inv.trigger(&REQ)?;
    let result = super::body(&req).and_then(|body| {
        house_price::api::predict(
            &state.model,
            &state.predict_limits,
            req.content_type(),
            body,
        )
    });
    Ok(match result {
        Ok(reply) => Outputs::new().set(
            &RES,
            HttpResponse::new(200).bytes(reply.content_type, reply.body),
        ),
        Err(e) => {
            inv.log(log::Level::Info, format!("rejected: {e}"));
            respond::error(&RES, &e)
        }
    })
}
