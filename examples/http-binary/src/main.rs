//! HTTP with a binary response: `GET /api/identicon/{name}` answers a 5×5 identicon for the
//! name as a BMP image.
//!
//! Bytes that are not text reach a caller only from a function the host forwards: one
//! `httpTrigger` and one `http` output, with `enableForwardingHttpRequest` in host.json.

use functions_custom_handler::bindings::{AuthLevel, HttpOutput, HttpTrigger};
use functions_custom_handler::{
    Function, FunctionApp, HttpResponse, Invocation, InvocationError, Outputs, service_fn,
};

const REQ: HttpTrigger = HttpTrigger::get("req", "identicon/{name}").auth(AuthLevel::Anonymous);
const RES: HttpOutput = HttpOutput::new("res");

async fn identicon(mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let req = inv.trigger(&REQ)?;
    let name = req
        .params
        .get("name")
        .map(String::as_str)
        .unwrap_or_default();
    if name.is_empty() || name.len() > 64 {
        return Err(InvocationError::bad_input(
            "name the identicon with 1 to 64 characters",
        ));
    }
    let image = HttpResponse::new(200)
        .bytes("image/bmp", bmp(name))
        .header("Cache-Control", "public, max-age=86400");
    Ok(Outputs::new().set(&RES, image))
}

/// A 5×5 grid mirrored left to right, from an FNV-1a hash of `name`, drawn at 10 px a cell
/// as a 24-bit BMP (rows bottom-up, each padded to 4 bytes).
fn bmp(name: &str) -> Vec<u8> {
    const CELL: usize = 10;
    const SIDE: usize = 5 * CELL;
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let [r, g, b, ..] = hash.to_le_bytes();
    let on = |x: usize, y: usize| hash >> (16 + y * 3 + x.min(4 - x)) & 1 == 1;
    let row_bytes = (SIDE * 3).next_multiple_of(4);
    let size = 54 + row_bytes * SIDE;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"BM");
    out.extend_from_slice(&(size as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&54u32.to_le_bytes());
    out.extend_from_slice(&40u32.to_le_bytes());
    out.extend_from_slice(&(SIDE as i32).to_le_bytes());
    out.extend_from_slice(&(SIDE as i32).to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&24u16.to_le_bytes());
    out.extend_from_slice(&[0; 24]);
    for py in (0..SIDE).rev() {
        for px in 0..SIDE {
            let pixel = if on(px / CELL, py / CELL) {
                [b, g, r]
            } else {
                [240; 3]
            };
            out.extend_from_slice(&pixel);
        }
        out.resize(out.len() + row_bytes - SIDE * 3, 0);
    }
    out
}

fn main() -> std::process::ExitCode {
    // Stdout at Information, as the host collects a worker's output (stderr it logs as errors).
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .target(env_logger::Target::Stdout)
        .init();
    FunctionApp::new()
        .function(
            Function::new("identicon")
                .trigger(REQ)
                .output(RES)
                .handler(service_fn(identicon)),
        )
        .main()
}
