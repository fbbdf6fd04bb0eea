//! Compressed request bodies: every route refuses any `Content-Encoding` but `identity` with a
//! JSON 415 before reading the body, so a compression bomb costs the server nothing. Each bomb
//! below decodes to 1 GiB; the server runs as its own process so its peak RSS (`VmHWM`) can
//! be read. (Before, actix decoded each chunk whole: 809 bytes of `br` took it to 1 GB.)

use std::io::Write;
use std::process::Stdio;

use crate::helpers::{free_port, spawn_webapp_process};

const GIB: usize = 1 << 30;
const MIB: usize = 1 << 20;
/// The most the server may hold at its peak while refusing the bombs.
const PEAK_RSS_LIMIT_KB: u64 = 64 * 1024;

/// 1 GiB of zeros as `coding`. Gzip and zstd streams may be concatenated, so one compressed
/// MiB is repeated; deflate and brotli streams are compressed whole.
fn bomb(coding: &str) -> Vec<u8> {
    let zeros = vec![0u8; MIB];
    match coding {
        "gzip" => {
            let mut member = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            member.write_all(&zeros).unwrap();
            member.finish().unwrap().repeat(GIB / MIB)
        }
        "zstd" => zstd::stream::encode_all(&zeros[..], 19)
            .unwrap()
            .repeat(GIB / MIB),
        "deflate" => {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            for _ in 0..GIB / MIB {
                z.write_all(&zeros).unwrap();
            }
            z.finish().unwrap()
        }
        "br" => {
            let mut out = Vec::new();
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 1 << 16, 1, 22);
                for _ in 0..GIB / MIB {
                    w.write_all(&zeros).unwrap();
                }
            }
            out
        }
        other => other.as_bytes().repeat(1024),
    }
}

fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn every_compression_bomb_is_refused_with_415_and_the_server_stays_small() {
    let port = free_port();
    let mut server = spawn_webapp_process(port, Stdio::null());
    let client = reqwest::blocking::Client::new();
    for coding in ["gzip", "deflate", "br", "zstd", "x-unknown"] {
        let body = bomb(coding);
        for path in ["/predict", "/jobs"] {
            let response = client
                .post(format!("http://127.0.0.1:{port}{path}"))
                .header("Content-Type", "application/json")
                .header("Content-Encoding", coding)
                .body(body.clone())
                .send()
                .unwrap();
            assert_eq!(response.status().as_u16(), 415, "{coding} {path}");
            let error: serde_json::Value = response.json().unwrap();
            assert_eq!(error["error"]["code"], "unsupported_encoding", "{coding}");
            let message = error["error"]["message"].as_str().unwrap();
            assert!(message.contains(coding), "{message}");
        }
    }
    // Uncompressed bodies, and `identity`, still work.
    let response = client
        .post(format!("http://127.0.0.1:{port}/predict"))
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "identity")
        .body(r#"{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}"#)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let peak = peak_rss_kb(server.id());
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(peak < PEAK_RSS_LIMIT_KB, "peak RSS {peak} kB");
    eprintln!("webapp peak RSS while refusing 1 GiB bombs: {peak} kB");
}
