//! A typed runtime for Azure Functions custom handlers: write a Functions app in Rust,
//! serve it to the Functions host, and generate its `function.json` files from the same
//! declarations.
//!
//! ```no_run
//! use functions_custom_handler::bindings::{AuthLevel, HttpOutput, HttpTrigger};
//! use functions_custom_handler::{
//!     Function, FunctionApp, HttpResponse, Invocation, InvocationError, Outputs, service_fn,
//! };
//!
//! const REQ: HttpTrigger = HttpTrigger::post("req", "echo").auth(AuthLevel::Anonymous);
//! const RES: HttpOutput = HttpOutput::new("res");
//!
//! async fn echo(mut inv: Invocation) -> Result<Outputs, InvocationError> {
//!     let req = inv.trigger(&REQ)?;
//!     inv.log(log::Level::Info, format!("echoing {} bytes", req.body.len()));
//!     let res = HttpResponse::new(200).bytes("application/octet-stream", req.body);
//!     Ok(Outputs::new().set(&RES, res))
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     FunctionApp::new()
//!         .function(
//!             Function::new("echo")
//!                 .trigger(REQ)
//!                 .output(RES)
//!                 .handler(service_fn(echo)),
//!         )
//!         .main()
//! }
//! ```
//!
//! - [`bindings`]: triggers and bindings, declared once as values the handler reads and
//!   writes through;
//! - [`events`]: the typed events triggers hand over, decoded from what the host sends;
//! - [`Outputs`]: what a function hands back;
//! - [`InvocationError`]: failures, and what the host does with each (nothing is completed as
//!   if it had succeeded);
//! - [`FunctionApp`]: the server the host talks to, and the `manifest` command.
#![warn(missing_docs)]

pub mod bindings;
pub mod events;
mod function;
mod outputs;
mod runtime;
pub mod testing;

// The protocol crate under the names the modules here use.
use functions_custom_handler_protocol::{self as protocol, function_json, host_json, route};

pub use function::{
    ErrorKind, Function, Handler, HandlerFuture, Invocation, InvocationError, InvocationLogger,
    ServiceFn, service_fn,
};
pub use functions_custom_handler_protocol::{DecodeError, HttpRequest, HttpResponse};
pub use outputs::{Json, Outputs, Payload};
pub use runtime::{DEFAULT_BODY_LIMIT, FunctionApp, HttpError, Server, StartError};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
