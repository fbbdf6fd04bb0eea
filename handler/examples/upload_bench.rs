//! Rows/s and peak memory of `score-upload` on one big CSV (default 1024 MiB), against the
//! storage in `AZURITE_CONNECTION_STRING`; the file is written first, in 8 MiB blocks:
//!
//! ```sh
//! scripts/azurite.sh run -- cargo run --release -p house-price-functions --example upload_bench [MiB]
//! ```

use std::time::Instant;

use house_price_functions::functions::score_upload;

fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib: usize = std::env::args().nth(1).map_or(Ok(1024), |a| a.parse())?;
    let connection = std::env::var("AZURITE_CONNECTION_STRING")
        .map_err(|_| "AZURITE_CONNECTION_STRING is not set: run it under scripts/azurite.sh run")?;
    let storage = storage::Storage::new(&storage::StorageSettings::parse_connection_string(
        "AZURITE_CONNECTION_STRING",
        &connection,
    )?)?;
    let model = house_price::Model::embedded()?;
    storage.ensure_container("uploads").await?;
    let name = "bench.csv";
    let started = Instant::now();
    let mut writer = storage.block_writer("uploads", name)?;
    let mut block = String::from("CHAS,RM,TAX,PTRATIO,B,LSTAT\n");
    let (mut written, mut rows) = (0usize, 0u64);
    while written + block.len() < mib << 20 {
        let i = rows as usize;
        // Rows like the Boston data's: about 40 bytes each.
        block.push_str(&format!(
            "{},{}.{:03},{},{}.{},{}.{:02},{}.{:02}\n",
            i % 2,
            5 + i % 4,
            i % 1000,
            200 + i % 500,
            14 + i % 8,
            i % 10,
            300 + i % 97,
            i % 100,
            2 + i % 30,
            i % 100
        ));
        rows += 1;
        if block.len() >= 8 << 20 {
            written += block.len();
            writer
                .stage(std::mem::take(&mut block).into_bytes().into())
                .await?;
        }
    }
    written += block.len();
    writer.stage(block.into_bytes().into()).await?;
    writer.commit("text/csv", Default::default()).await?;
    println!(
        "wrote {} MiB, {rows} rows in {:.1} s; peak RSS so far {} MB",
        written >> 20,
        started.elapsed().as_secs_f64(),
        peak_rss_mb()
    );
    let started = Instant::now();
    let outcome = score_upload::score(&storage, &model, name, None).await?;
    let took = started.elapsed().as_secs_f64();
    println!(
        "{outcome} in {took:.1} s: {:.0} rows/s, {:.0} MiB/s; peak RSS {} MB",
        rows as f64 / took,
        (written >> 20) as f64 / took,
        peak_rss_mb()
    );
    storage.delete_blob("uploads", name).await?;
    storage
        .delete_blob("results", &house_price::uploads::result_name(name))
        .await?;
    Ok(())
}
