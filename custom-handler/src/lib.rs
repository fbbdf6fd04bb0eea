//! A small typed runtime for Azure Functions custom handlers.
//!
//! Declare functions in code, serve them to the Functions host, and generate their
//! `function.json` files from the same declarations:
//!
//! ```no_run
//! use custom_handler::{
//!     AuthLevel, Function, FunctionApp, HttpResponse, HttpTrigger, Invocation, InvocationError,
//!     InvocationResponse, service_fn,
//! };
//!
//! async fn echo(inv: Invocation) -> Result<InvocationResponse, InvocationError> {
//!     let req = inv.request().http_trigger("req")?;
//!     inv.log(log::Level::Info, format!("echoing {} bytes", req.body_bytes()?.len()));
//!     Ok(InvocationResponse::http("res", HttpResponse::new(200).text(req.body.unwrap_or_default())))
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     FunctionApp::new()
//!         .function(
//!             Function::new("echo")
//!                 .http_trigger("req", HttpTrigger::post("echo").auth(AuthLevel::Anonymous))
//!                 .http_output("res")
//!                 .handler(service_fn(echo)),
//!         )
//!         .main()
//! }
//! ```
//!
//! The crate knows nothing about what the functions do. A local host can reuse its
//! [`bindings`], [`host_json`] and [`protocol`] types to read the same files and speak the same
//! protocol. Facts about the real host that shaped it are in the module docs.
#![warn(missing_docs)]

pub mod bindings;
mod function;
pub mod host_json;
pub mod protocol;
pub mod route;
mod runtime;

pub use bindings::{AuthLevel, Binding, FunctionJson, HttpMethod, HttpTrigger, is_forwardable};
pub use function::{
    ErrorKind, Function, Handler, HandlerFuture, Invocation, InvocationError, InvocationLogger,
    ServiceFn, service_fn,
};
pub use host_json::HostJson;
pub use protocol::{DecodeError, HttpRequest, HttpResponse, InvocationRequest, InvocationResponse};
pub use runtime::{
    APP_ROOT_VAR, DEFAULT_BODY_LIMIT, FunctionApp, LEGACY_PORT_VAR, PORT_VAR, Server, StartError,
};
