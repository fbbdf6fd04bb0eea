//! HTTP-level tests: the real server on a random loopback port, called with reqwest, plus the
//! captured-shape fixtures and manifest generation. One binary, one module per concern.

mod conformance;
mod extensions;
mod forwarding;
mod helpers;
mod invoke;
mod manifest;
mod shutdown;
mod test_client;
