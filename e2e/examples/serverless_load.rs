//! End-to-end load on the serverless job path, for `bench/serverless.sh`: `--concurrency`
//! workers each submit a job (`POST /api/jobs`), poll `GET /api/jobs/{id}` every `--poll-ms`
//! until its result is there, check it, and submit the next, until `--jobs` are done. So at
//! most `--concurrency` jobs are in flight, and the poll load stays bounded.
//!
//! Prints one line for the driver to parse:
//! `RESULT jobs=N rows=R elapsed_s=.. jobs_per_s=.. rows_per_s=.. p50_ms=.. p99_ms=.. max_ms=..
//! submit_p50_ms=.. waiting_p50_ms=.. fetch_p50_ms=..`
//! where elapsed runs from the first submit to the last result seen, and each latency from a
//! job's submit to its result being seen.
//!
//! When `AzureWebJobsStorage` is set, the job queue and the `results` and `job-inputs`
//! containers are created first, as the deployment (infra/main.bicep) creates them: the handler
//! writes claim-check blobs straight to `job-inputs`, and a fresh Azurite has no containers.
//!
//! ```text
//! cargo run --release -p e2e --example serverless_load -- --url http://127.0.0.1:7071 \
//!     --key KEY --jobs 500 --rows 1 --concurrency 32 [--poll-ms 20] [--timeout-s 300] [--warmup 1]
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The command line, parsed by hand (the e2e crate carries no argument parser).
#[derive(Debug)]
struct Args {
    url: String,
    key: String,
    jobs: usize,
    rows: usize,
    concurrency: usize,
    poll: Duration,
    timeout: Duration,
    warmup: usize,
}

const USAGE: &str = "usage: serverless_load --url URL --key KEY --jobs N --rows R --concurrency C [--poll-ms MS] [--timeout-s S] [--warmup N]";

impl Args {
    fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut args = Args {
            url: String::new(),
            key: String::new(),
            jobs: 0,
            rows: 0,
            concurrency: 0,
            poll: Duration::from_millis(20),
            timeout: Duration::from_secs(300),
            warmup: 1,
        };
        while let Some(flag) = argv.next() {
            let value = argv
                .next()
                .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?;
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("{flag} must be a whole number, not \"{value}\""))
            };
            match flag.as_str() {
                "--url" => args.url = value.trim_end_matches('/').to_owned(),
                "--key" => args.key = value,
                "--jobs" => args.jobs = number()? as usize,
                "--rows" => args.rows = number()? as usize,
                "--concurrency" => args.concurrency = number()? as usize,
                "--poll-ms" => args.poll = Duration::from_millis(number()?),
                "--timeout-s" => args.timeout = Duration::from_secs(number()?),
                "--warmup" => args.warmup = number()? as usize,
                other => return Err(format!("unknown option \"{other}\"; {USAGE}")),
            }
        }
        if args.url.is_empty() || args.key.is_empty() {
            return Err(format!("--url and --key are required; {USAGE}"));
        }
        if args.jobs == 0 || args.rows == 0 || args.concurrency == 0 {
            return Err(format!(
                "--jobs, --rows and --concurrency must be at least 1; {USAGE}"
            ));
        }
        Ok(args)
    }
}

/// What every worker shares.
struct Load {
    args: Args,
    http: reqwest::Client,
    /// The records-array body, serialized once.
    body: Vec<u8>,
    deadline: Instant,
}

/// `n` valid rows as a records array, each a little different (as the e2e tests send).
fn records(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                serde_json::json!({
                    "CHAS": i % 2, "RM": 5.0 + (i % 30) as f64 / 10.0, "TAX": 296,
                    "PTRATIO": 15.3, "B": 396.9, "LSTAT": 4.98 + (i % 20) as f64
                })
            })
            .collect(),
    )
}

impl Load {
    /// Submits one job and waits for its result; answers where its time went.
    async fn one_job(&self) -> Result<Timing, String> {
        let start = Instant::now();
        let res = self
            .http
            .post(format!("{}/api/jobs", self.args.url))
            .header("x-functions-key", &self.args.key)
            .header("Content-Type", "application/json")
            .body(self.body.clone())
            .send()
            .await
            .map_err(|e| format!("POST /api/jobs failed: {e}"))?;
        let status = res.status().as_u16();
        let text = res
            .text()
            .await
            .map_err(|e| format!("reading the submit answer failed: {e}"))?;
        if status != 202 {
            return Err(format!("POST /api/jobs answered {status}: {text}"));
        }
        let accepted: Value = serde_json::from_str(&text)
            .map_err(|e| format!("the submit answer is not JSON ({e}): {text}"))?;
        let Some(id) = accepted["jobId"].as_str() else {
            return Err(format!("the submit answer has no jobId: {text}"));
        };
        let submitted = start.elapsed();
        let url = format!("{}/api/jobs/{id}", self.args.url);
        loop {
            let asked = start.elapsed();
            let res = self
                .http
                .get(&url)
                .header("x-functions-key", &self.args.key)
                .send()
                .await
                .map_err(|e| format!("GET /api/jobs/{id} failed: {e}"))?;
            let status = res.status().as_u16();
            match status {
                200 => {
                    let text = res
                        .text()
                        .await
                        .map_err(|e| format!("reading job {id}'s result failed: {e}"))?;
                    let result: Value = serde_json::from_str(&text)
                        .map_err(|e| format!("job {id}'s result is not JSON ({e})"))?;
                    let rows = result["predictions"].as_array().map_or(0, Vec::len);
                    if result["status"] != "succeeded" || rows != self.args.rows {
                        return Err(format!(
                            "job {id} did not score its {} rows: status {}, {rows} predictions",
                            self.args.rows, result["status"]
                        ));
                    }
                    let seen = start.elapsed();
                    return Ok(Timing {
                        total: seen,
                        submit: submitted,
                        waiting: asked - submitted,
                        fetch: seen - asked,
                    });
                }
                404 => {}
                other => {
                    let text = res.text().await.unwrap_or_default();
                    return Err(format!("GET /api/jobs/{id} answered {other}: {text}"));
                }
            }
            if Instant::now() > self.deadline {
                return Err(format!(
                    "job {id} had no result {:?} after the run started",
                    self.args.timeout
                ));
            }
            tokio::time::sleep(self.args.poll).await;
        }
    }
}

/// Creates what the deployment provisions: the job queue and the two containers.
async fn ensure_storage() -> Result<(), String> {
    let storage = storage::Storage::from_env("AzureWebJobsStorage")
        .map_err(|e| format!("AzureWebJobsStorage is not usable: {e}"))?;
    storage
        .ensure_queue(house_price::jobs::QUEUE)
        .await
        .map_err(|e| format!("cannot create the job queue: {e}"))?;
    for container in [
        house_price::jobs::RESULTS_CONTAINER,
        house_price::jobs::INPUTS_CONTAINER,
    ] {
        storage
            .ensure_container(container)
            .await
            .map_err(|e| format!("cannot create container {container}: {e}"))?;
    }
    Ok(())
}

/// One job's time: `submit` (the `POST` answered), `waiting` (from then to the `GET` that
/// finds the result: the queue, `score-job`, and up to one poll interval), `fetch` (that `GET`,
/// its body read and checked) and `total`, submit to result.
#[derive(Clone, Copy, Debug)]
struct Timing {
    total: Duration,
    submit: Duration,
    waiting: Duration,
    fetch: Duration,
}

/// The value at quantile `q` of sorted `values` (nearest rank).
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn run(args: Args) -> Result<String, String> {
    let body = serde_json::to_vec(&records(args.rows))
        .map_err(|e| format!("cannot serialize the rows: {e}"))?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let load = Arc::new(Load {
        deadline: Instant::now() + args.timeout,
        args,
        http,
        body,
    });

    if std::env::var_os("AzureWebJobsStorage").is_some() {
        ensure_storage().await?;
    }

    // Warm-up jobs, not counted: the first job pays for queue creation and connection setup.
    for _ in 0..load.args.warmup {
        load.one_job().await?;
    }

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..load.args.concurrency.min(load.args.jobs) {
        let load = load.clone();
        let next = next.clone();
        workers.spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < load.args.jobs {
                latencies.push(load.one_job().await?);
            }
            Ok::<_, String>(latencies)
        });
    }
    let mut timings = Vec::with_capacity(load.args.jobs);
    while let Some(joined) = workers.join_next().await {
        let worker = joined.map_err(|e| format!("a worker task failed: {e}"))?;
        timings.extend(worker?);
    }
    let elapsed = started.elapsed();
    let sorted = |part: fn(&Timing) -> Duration| {
        let mut values: Vec<Duration> = timings.iter().map(part).collect();
        values.sort();
        values
    };
    let latencies = sorted(|t| t.total);

    let jobs = latencies.len();
    let rows = jobs * load.args.rows;
    let secs = elapsed.as_secs_f64();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok(format!(
        "RESULT jobs={jobs} rows={rows} elapsed_s={secs:.3} jobs_per_s={:.2} rows_per_s={:.1} p50_ms={:.1} p99_ms={:.1} max_ms={:.1} submit_p50_ms={:.1} waiting_p50_ms={:.1} fetch_p50_ms={:.1}",
        jobs as f64 / secs,
        rows as f64 / secs,
        ms(quantile(&latencies, 0.50)),
        ms(quantile(&latencies, 0.99)),
        ms(quantile(&latencies, 1.0)),
        ms(quantile(&sorted(|t| t.submit), 0.50)),
        ms(quantile(&sorted(|t| t.waiting), 0.50)),
        ms(quantile(&sorted(|t| t.fetch), 0.50)),
    ))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_is_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&v, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&v, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&v, 1.0), Duration::from_millis(100));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn args_need_url_key_and_counts() {
        let parse = |s: &str| Args::parse(s.split_whitespace().map(str::to_owned));
        assert!(parse("--url http://x --key k --jobs 1 --rows 1 --concurrency 1").is_ok());
        assert!(parse("--key k --jobs 1 --rows 1 --concurrency 1").is_err());
        assert!(parse("--url http://x --key k --jobs 0 --rows 1 --concurrency 1").is_err());
        assert!(parse("--url http://x --key k --jobs x").is_err());
        assert!(parse("--url").is_err());
    }
}
