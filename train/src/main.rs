//! `cargo run --release -p train [-- --out PATH] [-- --check]`: trains the model and
//! writes (or checks) the artifact that `house-price` embeds.

use std::process::ExitCode;

fn main() -> ExitCode {
    let result = train::parse_args(std::env::args_os().skip(1))
        .and_then(|command| train::run(&command, &mut std::io::stdout().lock()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
