//! Queue → blob: each order on the `orders` queue gets a receipt in `receipts/{orderId}.json`.
//!
//! A message that is not an order fails its invocation: the host retries it, then keeps it in
//! `orders-poison`. Nothing is lost, nothing is completed as if it had succeeded.

use functions_custom_handler::bindings::{BlobOutput, QueueTrigger};
use functions_custom_handler::{
    Function, FunctionApp, Invocation, InvocationError, Json, Outputs, service_fn,
};
use serde::{Deserialize, Serialize};

const ORDER: QueueTrigger = QueueTrigger::new("order", "orders");
/// `{orderId}` is the message's own property, as the host resolves it.
const RECEIPT: BlobOutput = BlobOutput::new("receipt", "receipts/{orderId}.json");

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Order {
    order_id: String,
    item: String,
    quantity: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Receipt {
    order_id: String,
    item: String,
    quantity: u32,
    attempt: u32,
}

async fn receipt(mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let message = inv.trigger(&ORDER)?;
    let order: Order = message.json()?;
    if order.quantity == 0 {
        return Err(InvocationError::bad_input(
            "an order needs a quantity of at least 1",
        ));
    }
    inv.log(
        log::Level::Info,
        format!(
            "order {}: {} x {}",
            order.order_id, order.quantity, order.item
        ),
    );
    let receipt = Receipt {
        order_id: order.order_id,
        item: order.item,
        quantity: order.quantity,
        attempt: message.dequeue_count.unwrap_or(1),
    };
    Ok(Outputs::new().set(&RECEIPT, Json(receipt)))
}

fn main() -> std::process::ExitCode {
    // Stdout at Information, as the host collects a worker's output (stderr it logs as errors).
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .target(env_logger::Target::Stdout)
        .init();
    FunctionApp::new()
        .function(
            Function::new("receipt")
                .trigger(ORDER)
                .output(RECEIPT)
                .handler(service_fn(receipt)),
        )
        .main()
}
