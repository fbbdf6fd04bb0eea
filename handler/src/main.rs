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

/// glibc's allocator hands an arena's free top back to the kernel once it passes twice the
/// largest block it has unmapped (about 2 MiB here), and a 10,000-row invocation frees more
/// than that at its end: its megabyte of envelope, the body unescaped from it, the columns.
/// So every large invocation faulted its pages in again, a third of the handler's time over
/// the web app's. Fixed thresholds keep up to 8 MiB of freed top per arena for the next
/// invocation; blocks of 4 MiB or more still get their own mapping, returned when freed (a
/// background job's rows are that large, and their invocation is long enough not to notice).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_heap() {
    // SAFETY: mallopt only sets allocator parameters; it runs before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 8 << 20);
    }
}

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    keep_freed_heap();
    // Stdout: the host collects it at Information (`OnOutputDataReceived` in
    // src/WebJobs.Script/Workers/ProcessManagement/WorkerProcess.cs).
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .target(env_logger::Target::Stdout)
        .try_init();
    match house_price_functions::State::from_env() {
        Ok(state) => house_price_functions::app(state).main(),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
