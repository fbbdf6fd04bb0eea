//! The Functions custom handler binary. The host starts it with
//! `FUNCTIONS_CUSTOMHANDLER_PORT` set; `handler manifest --out DIR` writes function.json files.

use std::process::ExitCode;

/// jemalloc in the static musl build that ships: musl's own allocator serialises every
/// allocation of every thread on one lock, and under load the web app served 17k one-row
/// requests a second with it against 100k with jemalloc (docs/benchmarks.md). A glibc build
/// keeps glibc's allocator, which was as fast or faster there.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    match handler::State::from_env() {
        Ok(state) => handler::app(state).main(),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
