//! End-to-end tests: the real host, the real test handler process, real Azurite.
//! They need `AZURITE_CONNECTION_STRING` (see `helpers::azurite`).

mod admin;
mod blobs;
mod event_grid;
mod forwarding;
mod helpers;
mod http_protocol;
mod lifecycle;
mod queues;
