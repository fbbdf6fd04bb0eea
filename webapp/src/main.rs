//! Starts the web app as App Service runs it: settings from the environment, logs on
//! stdout, a one-sentence error on stderr and exit code 1 when it cannot start.

use std::process::ExitCode;

use webapp::configuration::Settings;
use webapp::startup::{Application, StartupError};
use webapp::telemetry;

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
