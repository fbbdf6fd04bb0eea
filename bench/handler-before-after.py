"""The Functions handler's figures for two builds side by side, in one interleaved run: an
earlier build ("before") and this one ("after"), with the web app's 10,000-row answer in each
round as the yardstick (bench/handler-before-after.sh builds them and calls this).

Per round, in alternating order: each handler serves wrk's one-row `predict` invocation at 64
connections (invocations/s, p99), then answers the same 10,000 rows in one invocation (the
host's JSON protocol, the body as the host would carry it) `--batch-reps` times; the web app
answers those rows as a plain POST. Medians over rounds. Standard library only.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys

spec = importlib.util.spec_from_file_location("side_by_side", "bench/side-by-side.py")
sbs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sbs)


def batch(rows: int) -> bytes:
    """`rows` Boston-like rows as pandas column JSON (the original client's shape), seeded."""
    rng = random.Random(7)
    names = ["CHAS", "RM", "TAX", "PTRATIO", "B", "LSTAT"]
    ranges = [(0, 1), (3.5, 8.8), (187, 711), (12.6, 22.0), (0.3, 396.9), (1.7, 38.0)]
    columns = {n: {} for n in names}
    for i in range(rows):
        for n, (lo, hi) in zip(names, ranges):
            columns[n][str(i)] = rng.randint(lo, hi) if n == "CHAS" else round(rng.uniform(lo, hi), 3)
    return json.dumps(columns).encode()


def wrk_invocations(port: int, duration: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{duration}s", "--latency", "-s", "bench/handler-wrkjson.lua",
         f"http://{sbs.HOST}:{port}/predict"],
        capture_output=True, text=True, check=True, timeout=duration + 60,
    ).stdout
    line = [l for l in out.splitlines() if l.startswith("WRKJSON ")][-1]
    return json.loads(line[len("WRKJSON "):])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True, help="the earlier handler build")
    ap.add_argument("--after", required=True, help="this handler build")
    ap.add_argument("--webapp", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--batch-reps", type=int, default=7)
    a = ap.parse_args()
    rows = 10_000
    body = batch(rows)
    invocation = sbs.invocation(body)
    print(f"# load average {open('/proc/loadavg').read().split()[:3]}, {os.cpu_count()} cores; "
          f"{rows} rows, {len(body) / 1024:.0f} KiB of pandas JSON", flush=True)
    rps: dict[str, list[float]] = {}
    p99: dict[str, list[float]] = {}
    ms: dict[str, list[float]] = {}
    for round_ in range(a.rounds):
        order = ["before", "after"] if round_ % 2 == 0 else ["after", "before"]
        for name in order + ["webapp"]:
            port = sbs.free_port()
            env = {k: v for k, v in os.environ.items() if k not in ("AzureWebJobsStorage", "MODEL_PATH")}
            if name == "webapp":
                env.update(PORT=str(port), BIND_ADDRESS=sbs.HOST)
                proc = subprocess.Popen([a.webapp], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            else:
                env.update(FUNCTIONS_CUSTOMHANDLER_PORT=str(port), RUST_LOG="warn")
                binary = a.before if name == "before" else a.after
                proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                if name == "webapp":
                    sbs.wait_ready(proc, port, sbs.ONE_ROW)
                    t = sbs.timed(port, body, "application/json", a.batch_reps, rows)
                else:
                    sbs.wait_ready(proc, port, sbs.invocation(sbs.ONE_ROW))
                    wrk_invocations(port, 2)  # warm-up, discarded
                    r = wrk_invocations(port, a.duration)
                    rps.setdefault(name, []).append(r["rps"])
                    p99.setdefault(name, []).append(r["p99_us"] / 1e3)
                    assert r["errors"] == 0, r
                    t = sbs.timed(port, invocation, "application/json", a.batch_reps, rows)
                    print(f"round {round_ + 1} {name:6}: {r['rps']:8.0f} invocations/s, p99 {r['p99_us'] / 1e3:5.2f} ms; ",
                          end="")
                ms.setdefault(name, []).append(statistics.median(t) * 1e3)
                print(f"round {round_ + 1} {name:6}: {rows} rows in {statistics.median(t) * 1e3:6.2f} ms", flush=True)
            finally:
                sbs.stop(proc)
    med = statistics.median
    print()
    print(f"medians of {a.rounds} interleaved rounds")
    print("| figure | before | after | after / before |")
    print("|---|---|---|---|")
    print(f"| one-row invocations/s, 64 connections | {med(rps['before']):.0f} (p99 {med(p99['before']):.2f} ms) | "
          f"{med(rps['after']):.0f} (p99 {med(p99['after']):.2f} ms) | {med(rps['after']) / med(rps['before']):.3f} |")
    print(f"| 10,000 rows in one invocation | {med(ms['before']):.2f} ms | {med(ms['after']):.2f} ms | "
          f"{med(ms['after']) / med(ms['before']):.3f} |")
    web = med(ms["webapp"])
    print(f"| 10,000 rows: handler vs the web app ({web:.2f} ms) | {med(ms['before']) / web:.2f}x | "
          f"{med(ms['after']) / web:.2f}x | |")


if __name__ == "__main__":
    sys.exit(main())
