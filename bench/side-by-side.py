"""Issue 12's figures in one interleaved run (bench/side-by-side.sh prepares and calls this).

Each round starts the servers in turn on loopback: the release web app, the bare actix-web
baseline, the Flask peer (gunicorn, 2 workers) and the Functions handler (the same 10,000 rows
in one invocation of `predict`, as the host would POST it), and with --shipped and
--shipped-handler the static musl builds that ship, measured the same ways. For each it runs
wrk on the one-row POST /predict (64 connections), then times 10,000-row POSTs (the peer's
own batch body: pandas column JSON; for the web app also the same rows as records JSON and
as CSV).
Medians over rounds, then the ratios the issue asks for. Standard library only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

HOST = "127.0.0.1"
ONE_ROW = open("webapp/tests/data/original_client_payload.json", "rb").read()
# What the Functions host POSTs for the original client's request (Core Tools' shape).
ENVELOPE = json.load(open("handler/tests/data/predict_original_client_core_tools.json"))
INVOCATION_ID = "6a1e53c2-4c1b-4f0e-9d8e-1c2b3a4d5e6f"


def invocation(body: bytes) -> bytes:
    """The host's invocation of `predict` carrying `body` as the HTTP request's body."""
    envelope = json.loads(json.dumps(ENVELOPE))
    req = envelope["Data"]["req"]
    req["Body"] = body.decode()
    req["Headers"]["Content-Length"] = [str(len(body))]
    envelope["Metadata"]["Headers"]["Content-Length"] = str(len(body))
    return json.dumps(envelope).encode()


# The two handler binaries: measured by one invocation carrying the batch, not by wrk.
HANDLERS = ("handler", "shipped-handler")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def post(port: int, body: bytes, content_type: str = "application/json") -> tuple[int, bytes]:
    c = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        c.request("POST", "/predict", body=body, headers={"Content-Type": content_type,
                                                          "X-Azure-Functions-InvocationId": INVOCATION_ID})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait_ready(proc: subprocess.Popen, port: int, body: bytes, deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited during start-up")
        try:
            if post(port, body)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.005)
    raise TimeoutError(f"{proc.args[0]} did not answer within {deadline_s} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wrk(port: int, duration: int, connections: int = 64) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", "bench/wrkjson.lua",
         f"http://{HOST}:{port}/predict"],
        capture_output=True, text=True, check=True, timeout=duration + 60,
    ).stdout
    line = [l for l in out.splitlines() if l.startswith("WRKJSON ")][-1]
    return json.loads(line[len("WRKJSON "):])


def timed(port: int, body: bytes, content_type: str, reps: int, rows: int) -> list[float]:
    status, answer = post(port, body, content_type)  # warm-up, and a check
    if status != 200:
        raise RuntimeError(f"{content_type} batch answered {status}: {answer[:200]!r}")
    if content_type == "text/csv":
        lines = answer.count(b"\n") - 1
    elif b'"Outputs"' in answer[:200]:
        # The handler's invocation response: the HTTP answer's body is a JSON string.
        lines = len(json.loads(json.loads(answer)["Outputs"]["res"]["body"])["prediction"])
    else:
        lines = len(json.loads(answer)["prediction"])
    if lines != rows:
        raise RuntimeError(f"{content_type} batch answered {lines} rows, not {rows}")
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        status, _ = post(port, body, content_type)
        times.append(time.perf_counter() - start)
        assert status == 200
    return times


def bodies(peer: str) -> tuple[bytes, bytes, bytes, int]:
    """The peer's own 10,000-row batch body, and the same rows as records and as CSV."""
    code = f"import sys; sys.path.insert(0, {peer!r}); from bench_http import batch_body; " \
           "sys.stdout.buffer.write(batch_body(10000))"
    pandas = subprocess.run([os.path.join(peer, "venv/bin/python"), "-c", code], cwd=peer,
                            capture_output=True, check=True).stdout
    columns = json.loads(pandas)
    names = list(columns)
    keys = sorted(columns[names[0]], key=int)
    records = json.dumps([{n: columns[n][k] for n in names} for k in keys]).encode()
    csv = (",".join(names) + "\n" + "".join(
        ",".join(repr(columns[n][k]) for n in names) + "\n" for k in keys)).encode()
    return pandas, records, csv, len(keys)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", required=True)
    ap.add_argument("--webapp", required=True)
    ap.add_argument("--bare", required=True)
    ap.add_argument("--handler", required=True)
    ap.add_argument("--shipped", help="the shipped static musl web app, measured like the web app")
    ap.add_argument("--shipped-handler", help="the shipped static musl handler, measured like the handler")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--batch-reps", type=int, default=5)
    a = ap.parse_args()
    pandas, records, csv, rows = bodies(a.peer)
    print(f"# load average {open('/proc/loadavg').read().split()[:3]}, {os.cpu_count()} cores; "
          f"batch: {rows} rows, pandas JSON {len(pandas) / 1024:.0f} KiB, records {len(records) / 1024:.0f} KiB, "
          f"CSV {len(csv) / 1024:.0f} KiB", flush=True)

    def start(name: str, port: int) -> subprocess.Popen:
        log = subprocess.DEVNULL
        if name == "peer":
            cmd = [os.path.join(a.peer, "venv/bin/gunicorn"), f"--bind={HOST}:{port}", "--workers", "2",
                   "--no-control-socket", "app:app"]
            return subprocess.Popen(cmd, cwd=a.peer, stdout=log, stderr=log)
        if name in HANDLERS:
            env = {k: v for k, v in os.environ.items() if k not in ("AzureWebJobsStorage", "MODEL_PATH")}
            env.update(FUNCTIONS_CUSTOMHANDLER_PORT=str(port), RUST_LOG="warn")
            binary = a.handler if name == "handler" else a.shipped_handler
            return subprocess.Popen([binary], env=env, stdout=log, stderr=log)
        env = dict(os.environ, PORT=str(port), BIND_ADDRESS=HOST)
        binary = {"webapp": a.webapp, "shipped": a.shipped, "bare": a.bare}[name]
        return subprocess.Popen([binary], env=env, stdout=log, stderr=log)

    one_row: dict[str, list[dict]] = {}
    batch: dict[str, list[float]] = {}
    handler_batch = invocation(pandas)
    for round_ in range(a.rounds):
        names = ("webapp", "bare", "peer", "handler") + (("shipped",) if a.shipped else ()) \
            + (("shipped-handler",) if a.shipped_handler else ())
        for name in names:
            port = free_port()
            proc = start(name, port)
            try:
                wait_ready(proc, port, invocation(ONE_ROW) if name in HANDLERS else ONE_ROW)
                if name in HANDLERS:
                    t = timed(port, handler_batch, "application/json", a.batch_reps, rows)
                    batch.setdefault(f"{name} pandas", []).extend(t)
                    print(f"round {round_ + 1} {name}: {rows} rows as pandas in one invocation: median "
                          f"{statistics.median(t) * 1e3:7.2f} ms", flush=True)
                    continue
                wrk(port, 2)  # warm-up, discarded
                r = wrk(port, a.duration)
                one_row.setdefault(name, []).append(r)
                print(f"round {round_ + 1} {name:6}: one row {r['rps']:9.0f} req/s, p50 {r['p50_us'] / 1e3:5.2f} ms, "
                      f"p99 {r['p99_us'] / 1e3:6.2f} ms, errors {r['errors']}", flush=True)
                forms = [("pandas", pandas, "application/json")]
                if name == "webapp":
                    forms += [("records", records, "application/json"), ("csv", csv, "text/csv")]
                if name != "bare":
                    for form, body, content_type in forms:
                        t = timed(port, body, content_type, a.batch_reps, rows)
                        batch.setdefault(f"{name} {form}", []).extend(t)
                        print(f"round {round_ + 1} {name:6}: {rows} rows as {form:7}: median "
                              f"{statistics.median(t) * 1e3:7.2f} ms", flush=True)
            finally:
                stop(proc)

    med = statistics.median
    rps = {n: med(r["rps"] for r in rs) for n, rs in one_row.items()}
    p99 = {n: med(r["p99_us"] for r in rs) / 1e3 for n, rs in one_row.items()}
    b = {k: med(v) for k, v in batch.items()}
    print()
    print(f"medians of {a.rounds} interleaved rounds")
    print("| figure | web app | baseline | ratio |")
    print("|---|---|---|---|")
    print(f"| 10,000 rows, pandas JSON, vs the Flask peer | {b['webapp pandas'] * 1e3:.2f} ms | "
          f"{b['peer pandas'] * 1e3:.1f} ms | **{b['peer pandas'] / b['webapp pandas']:.1f}x** |")
    print(f"| 10,000 rows, pandas JSON, the handler's invocation vs the web app | {b['handler pandas'] * 1e3:.2f} ms | "
          f"{b['webapp pandas'] * 1e3:.2f} ms | {b['handler pandas'] / b['webapp pandas']:.2f}x |")
    print(f"| 10,000 rows, records JSON | {b['webapp records'] * 1e3:.2f} ms | | |")
    print(f"| 10,000 rows, CSV | {b['webapp csv'] * 1e3:.2f} ms | | |")
    print(f"| one row, 64 connections, vs bare actix | {rps['webapp']:.0f} req/s, p99 {p99['webapp']:.2f} ms | "
          f"{rps['bare']:.0f} req/s, p99 {p99['bare']:.2f} ms | **{100 * rps['webapp'] / rps['bare']:.0f} %** |")
    print(f"| one row, 64 connections, vs the Flask peer | {rps['webapp']:.0f} req/s | {rps['peer']:.0f} req/s "
          f"(gunicorn closes each connection) | {rps['webapp'] / rps['peer']:.0f}x |")
    if a.shipped:
        print(f"| the shipped musl build: 10,000 rows, pandas JSON, vs the Flask peer | {b['shipped pandas'] * 1e3:.2f} ms | "
              f"{b['peer pandas'] * 1e3:.1f} ms | {b['peer pandas'] / b['shipped pandas']:.1f}x |")
        print(f"| the shipped musl build: one row, 64 connections, vs bare actix | {rps['shipped']:.0f} req/s, "
              f"p99 {p99['shipped']:.2f} ms | {rps['bare']:.0f} req/s | {100 * rps['shipped'] / rps['bare']:.0f} % |")
    if a.shipped_handler:
        # Against the shipped web app when it ran too: the two binaries Azure runs.
        web = "shipped" if a.shipped else "webapp"
        print(f"| the shipped musl build: the handler's invocation vs the {'shipped ' if a.shipped else ''}web app | "
              f"{b['shipped-handler pandas'] * 1e3:.2f} ms | {b[web + ' pandas'] * 1e3:.2f} ms | "
              f"{b['shipped-handler pandas'] / b[web + ' pandas']:.2f}x |")


if __name__ == "__main__":
    sys.exit(main())
