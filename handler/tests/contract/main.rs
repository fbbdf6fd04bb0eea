//! Contract tests: the real handler app, served on a random loopback port, answering the
//! invocations the Functions host sends (fixtures in `tests/data/`). One test binary.

mod forwarding;
mod helpers;
mod invocations;
mod job_status;
mod predict;
mod protocol_garbage;
mod score_job;
mod submit_job;
