//! Starts the web app as App Service runs it: settings from the environment, logs on
//! stdout, a one-sentence error on stderr and exit code 1 when it cannot start.

use std::process::ExitCode;

use webapp::configuration::Settings;
use webapp::startup::{Application, StartupError};
use webapp::telemetry;

/// jemalloc in the static musl build that ships: musl's own allocator serialises every
/// allocation of every thread on one lock, and under load the web app served 17k one-row
/// requests a second with it against 100k with jemalloc (docs/benchmarks.md). A glibc build
/// keeps glibc's allocator, which was as fast or faster there.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[actix_web::main]
async fn main() -> ExitCode {
    telemetry::init_logging();
    let result = run().await;
    telemetry::flush_logs();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), StartupError> {
    let settings = Settings::from_env()?;
    let address = settings.bind_address;
    let app = Application::build(settings)?;
    log::info!("listening on {address}:{}", app.port());
    app.stop_on_signals()?;
    app.run_until_stopped().await?;
    log::info!("stopped");
    Ok(())
}
