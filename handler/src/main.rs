//! The Functions custom handler binary. The host starts it with
//! `FUNCTIONS_CUSTOMHANDLER_PORT` set; `handler manifest --out DIR` writes function.json files.

use std::process::ExitCode;

fn main() -> ExitCode {
    match handler::State::from_env() {
        Ok(state) => handler::app(state).main(),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
