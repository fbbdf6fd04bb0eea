//! A timer: every ten seconds, and once at start-up, write the time of the tick and whether
//! it ran late to `heartbeat/latest.json`.

use functions_custom_handler::bindings::{BlobOutput, TimerTrigger};
use functions_custom_handler::{
    Function, FunctionApp, Invocation, InvocationError, Json, Outputs, service_fn,
};

const TICK: TimerTrigger = TimerTrigger::new("tick", "*/10 * * * * *").run_on_startup(true);
const LATEST: BlobOutput = BlobOutput::new("latest", "heartbeat/latest.json");

async fn heartbeat(mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let tick = inv.trigger(&TICK)?;
    let at = inv.sys().utc_now.unwrap_or_default();
    inv.log(log::Level::Info, format!("tick at {at}"));
    let beat = serde_json::json!({"at": at, "pastDue": tick.is_past_due});
    Ok(Outputs::new().set(&LATEST, Json(beat)))
}

fn main() -> std::process::ExitCode {
    // Stdout at Information, as the host collects a worker's output (stderr it logs as errors).
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .target(env_logger::Target::Stdout)
        .init();
    FunctionApp::new()
        .function(
            Function::new("heartbeat")
                .trigger(TICK)
                .output(LATEST)
                .handler(service_fn(heartbeat)),
        )
        .main()
}
