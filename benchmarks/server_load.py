"""Load on the job server: 50 clients list jobs and follow a running job's log for 20 s, on loopback only.

Starts `kaspix serve` on 127.0.0.1 (with a token, as a lab would run it) and one job of a tiny
pipeline that logs a time-stamped line every 50 ms. Then N clients run in one asyncio process, on
plain HTTP/1.1 keep-alive connections so that the load generator stays cheap: each follows the
job's event stream (its live log) and, every INTERVAL seconds, lists the jobs and reads the job.
Prints one JSON object: request latency p50/p99/max and errors, the delay of log lines from the
job's write to their arrival over the stream, and the server's RSS. Goal: p99 <= 250 ms, 0 errors.

    .venv/bin/python benchmarks/server_load.py [--clients 50] [--seconds 20] [--interval 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"  # loopback only
TICK_S = 0.05
PLUGIN = """
import time
from kaspix import Config, Pipeline, Step, hookimpl

class TickConfig(Config):
    ticks: int = 100
    seed: int = 0

def tick(ctx):
    for i in range(ctx.config.ticks):
        ctx.log.info("tick %d at %.6f", i, time.time())
        time.sleep(TICK_S)
    ctx.log_metrics({"ticks": ctx.config.ticks})

@hookimpl
def register_pipelines(register):
    register(Pipeline("ticker", TickConfig, (Step("tick", tick),), description="logs a time-stamped line every TICK_S s"))
""".replace("TICK_S", str(TICK_S))


def install_plugin(site: Path) -> None:
    """A plugin distribution on ``site`` (found through its entry point, as pip would install it)."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "bench_ticker.py").write_text(PLUGIN)
    info = site / "kaspix_bench_ticker-0.0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kaspix-bench-ticker\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[kaspix]\nbenchticker = bench_ticker\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def rss_kib(pid: int) -> int:
    match = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) if match else -1


def call(url: str, token: str, data: bytes | None = None, content_type: str | None = None) -> Any:
    request = urllib.request.Request(url, data=data, headers={"Authorization": f"Bearer {token}"})
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


async def get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, token: str) -> int:
    """One keep-alive GET; returns the status (the body is read and checked to be JSON)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = re.search(rb"(?i)content-length: (\d+)", head)
    if length is None:
        raise ValueError("no content-length")
    json.loads(await reader.readexactly(int(length.group(1))))
    return int(head.split(b" ", 2)[1])


class Client:
    """One simulated browser tab: a followed log and a polled job list."""

    def __init__(self, port: int, token: str, job_id: int) -> None:
        self.port, self.token, self.job_id = port, token, job_id
        self.latencies: list[float] = []
        self.line_delays: list[float] = []
        self.errors: list[str] = []

    async def poll(self, stop_at: float, interval: float) -> None:
        reader, writer = await asyncio.open_connection(HOST, self.port)
        try:
            while time.monotonic() < stop_at:
                began = time.monotonic()
                for path in ("/api/jobs", f"/api/jobs/{self.job_id}"):
                    start = time.perf_counter()
                    try:
                        status = await asyncio.wait_for(get(reader, writer, path, self.token), 10)
                    except (OSError, ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
                        self.errors.append(f"{path}: {type(exc).__name__}: {exc}")
                        writer.close()
                        reader, writer = await asyncio.open_connection(HOST, self.port)
                        continue
                    self.latencies.append(time.perf_counter() - start)
                    if status != 200:
                        self.errors.append(f"{path}: HTTP {status}")
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - began)))
        finally:
            writer.close()

    async def follow(self, stop_at: float) -> None:
        reader, writer = await asyncio.open_connection(HOST, self.port)
        opened = time.time()
        try:
            path = f"/api/jobs/{self.job_id}/events"
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {self.token}\r\n\r\n".encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status_line = head.split(b"\r\n", 1)[0].decode()
            if " 200 " not in status_line:
                self.errors.append(f"events: {status_line}")
                return
            while time.monotonic() < stop_at:
                line = await asyncio.wait_for(reader.readline(), max(0.1, stop_at - time.monotonic()))
                if line.startswith(b'data: {"text"'):
                    now = time.time()
                    stamps = [float(s) for s in re.findall(r"tick \d+ at ([\d.]+)", json.loads(line[6:])["text"])]
                    self.line_delays.extend(now - stamp for stamp in stamps if stamp > opened)
        except asyncio.TimeoutError:
            pass
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.errors.append(f"events: {type(exc).__name__}: {exc}")
        finally:
            writer.close()


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"p50": round(cuts[49] * 1000, 1), "p99": round(cuts[98] * 1000, 1), "max": round(ordered[-1] * 1000, 1)}


async def load(port: int, token: str, job_id: int, clients: int, seconds: float, interval: float) -> list[Client]:
    crowd = [Client(port, token, job_id) for _ in range(clients)]
    stop_at = time.monotonic() + seconds
    await asyncio.gather(*(c.follow(stop_at) for c in crowd), *(c.poll(stop_at, interval) for c in crowd))
    return crowd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between one client's job-list requests")
    args = parser.parse_args()
    token, port = secrets.token_urlsafe(16), free_port()
    with tempfile.TemporaryDirectory(prefix="kaspix-server-load-") as tmp:
        site = Path(tmp) / "site"
        install_plugin(site)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
        env["KASPIX_SERVE_TOKEN"] = token
        command = [sys.executable, "-m", "kaspix", "serve", "--host", HOST, "--port", str(port), "--data", str(Path(tmp) / "data")]
        server = subprocess.Popen([*command, "--max-jobs", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://{HOST}:{port}"
        job: dict[str, Any] = {}
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    call(base + "/api/jobs", token)
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.2)
            ticks = int((args.seconds + 30) / TICK_S)
            body = f"pipeline=ticker&config_text=ticks%3A+{ticks}".encode()
            job = call(base + "/api/jobs", token, body, "application/x-www-form-urlencoded")
            while call(f"{base}/api/jobs/{job['id']}", token)["current_step"] != "tick":  # wait until it logs
                time.sleep(0.2)
            rss_before = rss_kib(server.pid)
            crowd = asyncio.run(load(port, token, job["id"], args.clients, args.seconds, args.interval))
            rss_after = rss_kib(server.pid)
            call(f"{base}/api/jobs/{job['id']}/cancel", token, b"")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            if job.get("pid"):  # jobs outlive the server by design: end this one's process group
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(job["pid"], signal.SIGKILL)
    latencies = [x for c in crowd for x in c.latencies]
    delays = [x for c in crowd for x in c.line_delays]
    errors = [e for c in crowd for e in c.errors]
    result = {
        "benchmark": "server_load",
        "clients": args.clients,
        "seconds": args.seconds,
        "interval_s": args.interval,
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / args.seconds, 1),
        "errors": len(errors),
        "error_examples": errors[:5],
        "request_latency_ms": percentiles(latencies),
        "log_lines_streamed": len(delays),
        "log_line_delay_ms": percentiles(delays),
        "server_rss_kib": {"before": rss_before, "after": rss_after},
        "goal": {"p99_ms": 250, "errors": 0},
    }
    result["meets_goal"] = bool(latencies) and result["request_latency_ms"]["p99"] <= 250 and not errors
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
