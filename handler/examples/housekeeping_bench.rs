//! How long `housekeeping` takes to delete N blobs (default 10,000), against the storage in
//! `AZURITE_CONNECTION_STRING`. Run on its own Azurite, since it empties `uploads`:
//!
//! ```sh
//! scripts/azurite.sh run -- cargo run --release -p house-price-functions --example housekeeping_bench [N]
//! ```

use std::time::{Duration, Instant};

use house_price_functions::functions::housekeeping::{self, UPLOADS};
use storage::{Storage, StorageSettings};
use tokio::task::JoinSet;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map_or(Ok(10_000), |a| a.parse())?;
    let connection = std::env::var("AZURITE_CONNECTION_STRING")
        .map_err(|_| "AZURITE_CONNECTION_STRING is not set: run it under scripts/azurite.sh run")?;
    let storage = Storage::new(&StorageSettings::parse_connection_string(
        "AZURITE_CONNECTION_STRING",
        &connection,
    )?)?;
    storage.ensure_container(UPLOADS).await?;
    let started = Instant::now();
    let mut puts = JoinSet::new();
    for i in 0..n {
        if puts.len() >= 32 {
            puts.join_next().await.transpose()?.transpose()?;
        }
        let storage = storage.clone();
        puts.spawn(async move {
            let name = format!("bench/{i:06}.csv");
            storage
                .put_blob(UPLOADS, &name, b"CHAS\n0\n".to_vec(), "text/csv")
                .await
        });
    }
    while let Some(done) = puts.join_next().await {
        done??;
    }
    println!(
        "wrote {n} blobs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Everything written so far is older than a zero retention a second later.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    let report =
        housekeeping::run(&storage, Duration::ZERO, time::OffsetDateTime::now_utc()).await?;
    let took = started.elapsed().as_secs_f64();
    println!("{report}");
    println!(
        "housekeeping of {n} blobs: {took:.2} s ({:.0} deletions/s)",
        report.deleted.iter().sum::<usize>() as f64 / took
    );
    Ok(())
}
