//! Integration tests against a real Azurite, one test binary.
//!
//! They need `AZURITE_CONNECTION_STRING` and fail (never skip) without it:
//! `scripts/azurite.sh run -- cargo test -p storage`, or
//! `eval "$(scripts/azurite.sh start)"` once per shell, then `cargo test -p storage`.

mod auth;
mod blobs;
mod helpers;
mod queues;
