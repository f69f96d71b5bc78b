"""The web job server: the API in-process (TestClient), a real `kaspix serve` on loopback, and a real browser.

Every job is a real `kaspix run` process of a tiny pipeline defined here.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import types
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the job server needs kaspix-core[serve]")
httpx = pytest.importorskip("httpx")

with warnings.catch_warnings():  # starlette asks for httpx2, which its TestClient does not need yet
    warnings.filterwarnings("ignore", message=".*install `httpx2`")
    from fastapi.testclient import TestClient

from kaspix.server.app import create_app  # noqa: E402
from kaspix.server.processes import runs_marker  # noqa: E402
from kaspix.testing import plugin_host  # noqa: E402

JOB_PLUGIN = """
import math
import signal
import struct
import subprocess
import time
import zlib
from pathlib import Path
from kaspix import Config, Pipeline, Step, hookimpl

class JobConfig(Config):
    release: str = ""       # the wait step waits until this file exists
    rows: int = 3
    ticks: int = 0          # produce logs "tick I at T" (T from time.time()) this many times
    tick_s: float = 0.1
    stubborn: bool = False  # the wait step ignores SIGINT and starts a child process (pid in RELEASE.child)
    seed: int = 0

def wave_png(width=240, height=120):
    rows = []
    for y in range(height):
        row = bytearray(b"\\x00")
        for x in range(width):
            on_curve = abs(y - (height / 2 - math.sin(x / 19) * height / 3)) < 2
            row += bytes((31, 111, 235)) if on_curve else bytes((250, 250, 250))
        rows.append(bytes(row))
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")

def produce(ctx):
    cfg = ctx.config
    ctx.write_text("table.csv", "\\n".join(str(i) for i in range(cfg.rows)))
    ctx.write_bytes("plots/wave.png", wave_png())
    for i in range(cfg.ticks):
        ctx.log.info("tick %d at %.6f", i, time.time())
        time.sleep(cfg.tick_s)
    ctx.log.info("produced %d rows", cfg.rows)

def wait(ctx):
    cfg = ctx.config
    if not cfg.release:
        return
    if cfg.stubborn:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        child = subprocess.Popen(["sleep", "60"])
        Path(cfg.release + ".child").write_text(str(child.pid))
    Path(cfg.release + ".started").touch()
    deadline = time.monotonic() + 60
    while not Path(cfg.release).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.05)

def finish(ctx):
    ctx.log_metrics({"rows": ctx.config.rows, "row_ratio": ctx.config.rows / 4})

@hookimpl
def register_pipelines(register):
    register(Pipeline("job-demo", JobConfig, (Step("produce", produce), Step("wait", wait), Step("finish", finish)),
                      description="writes a table and a plot, waits, records metrics"))
"""

ERROR_KEYS = {"status", "message", "field", "where", "hint", "problems"}
FINAL = {"completed", "failed", "interrupted", "cancelled"}


def assert_error(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """The one error body, with this status (and field)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS and body["status"] == status and body["message"], body
    if field is not None:
        assert body["field"] == field, body
    return body


def wait_until(predicate: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def kill_jobs(data_dir: Path) -> None:
    """Kill every job process a test left running (jobs outlive their server by design)."""
    database = data_dir / "jobs.sqlite"
    if not database.is_file():
        return
    with closing(sqlite3.connect(database)) as db:
        jobs = db.execute("SELECT pid, run_dir FROM jobs WHERE pid IS NOT NULL").fetchall()
    for pid, run_dir in jobs:
        if runs_marker(pid, run_dir):  # still that job, not a process that got its pid since
            os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def job_env(plugin_env: Callable[..., dict[str, str]], tmp_path: Path) -> dict[str, str]:
    """The environment of servers and jobs: the job-demo plugin installed."""
    env = plugin_env("kaspix-job-demo", {"jobdemo": "job_demo_plugin"}, {"job_demo_plugin": JOB_PLUGIN})
    env["KASPIX_PLAIN_PROGRESS"] = "1"
    return env


# -- the API in-process ---------------------------------------------------------------------------


@pytest.fixture
def make_client(job_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., TestClient]]:
    """Build the app over the job-demo plugin and open a TestClient on it (jobs are real processes)."""
    monkeypatch.setenv("PYTHONPATH", job_env["PYTHONPATH"])  # for the job processes
    module = types.ModuleType("job_demo_plugin")
    exec(textwrap.dedent(JOB_PLUGIN), module.__dict__)
    data_dirs: list[Path] = []
    with ExitStack() as stack:

        def make(token: str | None = None, name: str | None = None, **options: Any) -> TestClient:
            data_dirs.append(tmp_path / (name or f"server{len(data_dirs)}"))
            host = stack.enter_context(plugin_host(module, name="jobdemo"))
            app = create_app(data_dirs[-1], host, token=token, **options)
            client = stack.enter_context(TestClient(app))
            if token:
                client.headers["Authorization"] = f"Bearer {token}"
            return client

        yield make
    for data_dir in set(data_dirs):
        kill_jobs(data_dir)


def finished(client: TestClient | Server, job_id: int, timeout: float = 60) -> dict[str, Any]:
    return wait_until(lambda: (job := client.get(f"/api/jobs/{job_id}").json())["status"] in FINAL and job, timeout, f"job {job_id} to end")


def test_a_job_shows_progress_metrics_plots_and_files_with_relative_paths(make_client, tmp_path: Path) -> None:
    client = make_client()
    created = client.post("/api/jobs", data={"pipeline": "job-demo"}, files={"config_file": ("lab.yaml", b"rows: 5\n")})
    assert created.status_code == 201, created.text
    job = finished(client, created.json()["id"])
    assert job["status"] == "completed" and job["exit_code"] == 0
    assert job["plugin"] == "jobdemo" and job["pipeline"] == "job-demo" and job["run_dir"] == f"job-demo-job{job['id']}"
    assert job["steps"] == job["completed_steps"] == ["produce", "wait", "finish"] and job["steps_done"] == job["steps_total"] == 3
    assert job["metrics"] == {"rows": 5, "row_ratio": 1.25} and job["key_metrics"] == {"rows": 5, "row_ratio": 1.25}
    assert job["plots"] == ["artifacts/plots/wave.png"] and job["started"] and job["duration_s"] >= 0

    listed = client.get("/api/jobs").json()
    assert [j["id"] for j in listed] == [job["id"]] and listed[0]["key_metrics"] == {"rows": 5, "row_ratio": 1.25}
    files = {f["path"] for f in client.get(f"/api/jobs/{job['id']}/files").json()}
    assert {"config.yaml", "run.json", "run.log", "metrics.json", "artifacts/table.csv", "artifacts/plots/wave.png"} <= files
    assert "run.lock" not in files
    plot = client.get(f"/api/jobs/{job['id']}/files/artifacts/plots/wave.png?inline=1")
    assert plot.headers["content-type"] == "image/png" and plot.headers["content-disposition"].startswith("inline")
    assert plot.content.startswith(b"\x89PNG")
    table = client.get(f"/api/jobs/{job['id']}/files/artifacts/table.csv?inline=1")
    assert table.text == "0\n1\n2\n3\n4" and table.headers["content-disposition"].startswith("attachment")  # only images inline
    log = client.get(f"/api/jobs/{job['id']}/log").json()
    assert "produced 5 rows" in log["text"] and f"job {job['id']} completed (exit code 0)" in log["text"]

    assert 'id="logout"' not in client.get("/").text  # no token, no login
    answers = [client.get(p).text for p in ("/api/jobs", f"/api/jobs/{job['id']}", f"/api/jobs/{job['id']}/files")]
    assert not any(str(tmp_path) in text for text in [*answers, created.text, log["text"]])  # no server path in any answer


def test_links_that_leave_the_run_folder_are_neither_listed_nor_served(make_client, tmp_path: Path) -> None:
    client = make_client()
    job = finished(client, client.post("/api/jobs", data={"pipeline": "job-demo"}).json()["id"])
    run = tmp_path / "server0" / "runs" / job["run_dir"]
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    (run / "artifacts" / "escape.txt").symlink_to(secret)
    (run / "artifacts" / "escape-dir").symlink_to(tmp_path)
    (run / "artifacts" / "inside.csv").symlink_to(run / "artifacts" / "table.csv")
    files = {f["path"]: f["size"] for f in client.get(f"/api/jobs/{job['id']}/files").json()}
    assert "artifacts/inside.csv" in files and files["artifacts/inside.csv"] == files["artifacts/table.csv"]
    assert not [p for p in files if "escape" in p]
    for path in ("artifacts/escape.txt", "artifacts/escape-dir/secret.txt", "..%2F..%2Fjobs.sqlite", "run.lock"):
        assert_error(client.get(f"/api/jobs/{job['id']}/files/{path}"), 404, "path")


def test_every_failure_has_one_error_shape_and_openapi_documents_it(make_client) -> None:
    client = make_client(max_upload=64 * 1024)
    seen: set[tuple[str, str, int]] = set()

    def check(method: str, path: str, template: str, status: int, field: str | None = None, **kwargs: Any) -> dict[str, Any]:
        seen.add((method, template, status))
        return assert_error(client.request(method, path, **kwargs), status, field)

    body = check("POST", "/api/jobs", "/api/jobs", 422, "rows", data={"pipeline": "job-demo", "config_text": "rows: many\n"})
    assert "field 'rows'" in body["message"] and "got 'many'" in body["message"] and body["problems"][0]["field"] == "rows"
    body = check("POST", "/api/jobs", "/api/jobs", 422, "rowz", data={"pipeline": "job-demo", "config_text": "rowz: 3\n"})
    assert "did you mean 'rows'" in body["message"]
    body = check("POST", "/api/jobs", "/api/jobs", 422, data={"pipeline": "job-demo", "config_text": "rows: [\n"})
    assert body["message"].startswith("invalid YAML") and body["where"].startswith("config text, line")
    assert "did you mean 'job-demo'" in check("POST", "/api/jobs", "/api/jobs", 422, "pipeline", data={"pipeline": "job-dem"})["message"]
    check("POST", "/api/jobs", "/api/jobs", 422, "plugin", data={"pipeline": "job-demo", "plugin": "nope"})
    check("POST", "/api/jobs", "/api/jobs", 422, "pipeline", data={"config_text": "rows: 3\n"})  # the missing form field
    check(
        "POST", "/api/jobs", "/api/jobs", 422, "config_file", data={"pipeline": "job-demo"}, files={"config_file": ("x.yaml", b"\xff\xfe")}
    )
    check("POST", "/api/jobs", "/api/jobs", 413, files={"config_file": ("big.yaml", b"#" * 100_000)})
    check("GET", "/api/jobs/999", "/api/jobs/{job_id}", 404)
    check("GET", "/api/jobs/abc", "/api/jobs/{job_id}", 422, "job_id")
    check("GET", "/api/jobs/999/events", "/api/jobs/{job_id}/events", 404)
    check("POST", "/api/jobs/999/cancel", "/api/jobs/{job_id}/cancel", 404)
    check("DELETE", "/api/jobs/999", "/api/jobs/{job_id}", 404)
    check("GET", "/api/nothing", "/api/nothing", 404)
    check("PUT", "/api/jobs", "/api/jobs", 405)
    assert client.get("/api/jobs").json() == []  # nothing was queued

    job = finished(client, client.post("/api/jobs", data={"pipeline": "job-demo"}).json()["id"])
    check("POST", f"/api/jobs/{job['id']}/cancel", "/api/jobs/{job_id}/cancel", 409)
    check("POST", f"/api/jobs/{job['id']}/resume", "/api/jobs/{job_id}/resume", 409)
    check("POST", f"/api/jobs/{job['id']}/resume", "/api/jobs/{job_id}/resume", 422, "set", content=b'{"set": "rows=1"}')
    check("GET", f"/api/jobs/{job['id']}/files/nope.txt", "/api/jobs/{job_id}/files/{relative}", 404, "path")

    spec = client.get("/openapi.json").json()
    assert spec["components"]["schemas"]["ErrorBody"]["required"] == ["status", "message"]
    for method, template, status in sorted(seen):
        operations = spec["paths"].get(template)
        if operations is None or method.lower() not in operations:
            assert status in (404, 405)  # no such route: any path can get these
            continue
        documented = operations[method.lower()]["responses"]
        assert str(status) in documented, (method, template, status)
        assert documented[str(status)]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            assert "500" in documented and documented & {"200", "201", "303"}, (method, path)
            assert "401" in documented or path in ("/", "/login"), (method, path)  # the page sends a stranger to log in


def test_a_token_guards_the_api_and_the_page_and_logging_in_works(make_client) -> None:
    client = make_client(token="s3cret")
    del client.headers["Authorization"]
    body = assert_error(client.get("/api/jobs"), 401)
    assert "needs a token" in body["message"] and client.get("/api/jobs").headers["www-authenticate"].startswith("Bearer")
    assert "wrong token" in assert_error(client.get("/api/jobs", headers={"Authorization": "Bearer nope"}), 401)["message"]
    assert_error(client.get("/openapi.json"), 401)
    assert_error(client.post("/api/jobs", data={"pipeline": "job-demo"}), 401)
    assert client.get("/api/jobs", headers={"Authorization": "Bearer s3cret"}).json() == []

    page = client.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "login"
    assert 'name="token"' in client.get("/login").text
    wrong = client.post("/login", data={"token": "guess"}, follow_redirects=False)
    assert wrong.status_code == 401 and "Wrong token." in wrong.text and "kaspix_session" not in client.cookies
    right = client.post("/login", data={"token": "s3cret"}, follow_redirects=False)
    assert right.status_code == 303 and right.headers["location"] == "./"
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=" not in cookie and "s3cret" not in cookie
    page = client.get("/", headers={"Accept": "text/html"}).text
    assert page.startswith("<!doctype html>") and 'id="logout"' in page
    assert client.get("/api/jobs").json() == []
    client.post("/logout", follow_redirects=False)
    assert_error(client.get("/api/jobs"), 401)


def test_uploads_over_the_cap_get_413_unread_and_nothing_starts(make_client) -> None:
    client = make_client(max_upload=10_000)
    body = assert_error(client.post("/api/jobs", data={"pipeline": "job-demo"}, files={"config_file": ("c.yaml", b"#" * 20_000)}), 413)
    assert "at most 10000 bytes" in body["message"] and "--max-upload" in body["hint"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b"--b\r\nContent-Disposition: form-data; name=pipeline\r\n\r\njob-demo\r\n"
        for _ in range(30):
            yield b"x" * 1000

    response = client.post("/api/jobs", content=chunked(), headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert_error(response, 413)
    assert client.get("/api/jobs").json() == []
    small = client.post("/api/jobs", data={"pipeline": "job-demo"}, files={"config_file": ("c.yaml", b"rows: 2\n" + b"#" * 9000)})
    assert small.status_code == 201


def test_queue_cancel_resume_and_delete(make_client, tmp_path: Path) -> None:
    client = make_client(max_jobs=1, cancel_grace=2)
    release = tmp_path / "release"
    first = client.post("/api/jobs", data={"pipeline": "job-demo", "config_text": f"release: {release}\n"}).json()
    second = client.post("/api/jobs", data={"pipeline": "job-demo", "config_text": "rows: 4\n"}).json()
    assert first["status"] == "running" and second["status"] == "queued" and second["queue_position"] == 1
    wait_until(lambda: Path(f"{release}.started").exists(), what="the first job to wait")
    assert client.get(f"/api/jobs/{second['id']}").json()["status"] == "queued"  # one job at a time
    assert "cancel it first" in assert_error(client.delete(f"/api/jobs/{first['id']}"), 409)["hint"]

    assert client.post(f"/api/jobs/{second['id']}/cancel").json()["status"] == "cancelled"  # a queued job stops at once
    assert client.post(f"/api/jobs/{first['id']}/cancel").json()["status"] == "cancelling"
    job = finished(client, first["id"])
    assert job["status"] == "cancelled" and job["exit_code"] == 130 and job["run_status"] == "interrupted"
    assert job["completed_steps"] == ["produce"]

    resumed = client.post(f"/api/jobs/{first['id']}/resume", json={"set": ["rows=9", "release="]})
    assert resumed.status_code == 200 and resumed.json()["status"] in ("queued", "running")
    job = finished(client, first["id"])
    assert job["status"] == "completed" and job["metrics"]["rows"] == 9 and job["completed_steps"] == ["produce", "wait", "finish"]
    body = assert_error(client.post(f"/api/jobs/{second['id']}/resume", json={"set": ["rows=2"]}), 409)
    assert "never created its run folder" in body["message"]
    assert client.post(f"/api/jobs/{second['id']}/resume").json()["status"] in ("queued", "running")  # never ran: starts anew
    assert finished(client, second["id"])["status"] == "completed"

    run = tmp_path / "server0" / "runs" / job["run_dir"]
    assert client.delete(f"/api/jobs/{first['id']}").json() == {"id": first["id"], "run_folder_removed": False} and run.is_dir()
    assert_error(client.get(f"/api/jobs/{first['id']}"), 404)
    second_run = tmp_path / "server0" / "runs" / f"job-demo-job{second['id']}"
    assert client.delete(f"/api/jobs/{second['id']}", params={"run_folder": "true"}).json()["run_folder_removed"]
    assert not second_run.exists() and client.get("/api/jobs").json() == []


def test_queued_jobs_survive_a_restart_of_the_app_and_start_in_submit_order(make_client, tmp_path: Path) -> None:
    release = tmp_path / "release"
    client = make_client(max_jobs=1, name="lab")
    jobs = [
        client.post("/api/jobs", data={"pipeline": "job-demo", "config_text": text}).json() for text in (f"release: {release}\n", "", "")
    ]
    wait_until(lambda: Path(f"{release}.started").exists(), what="the first job to wait")
    client.__exit__(None, None, None)  # the server stops; its running job goes on

    client = make_client(max_jobs=1, name="lab")
    listed = {j["id"]: j for j in client.get("/api/jobs").json()}
    assert [(listed[j["id"]]["status"], listed[j["id"]]["queue_position"]) for j in jobs] == [
        ("running", None),
        ("queued", 1),
        ("queued", 2),
    ]
    release.touch()
    ended = [finished(client, j["id"]) for j in jobs]
    assert [j["status"] for j in ended] == ["completed"] * 3
    assert ended[0]["finished"] <= ended[1]["started"] and ended[1]["finished"] <= ended[2]["started"]


def read_sse(response: httpx.Response, until: str = "end", on_event: Callable[[str, Any], None] | None = None) -> list[tuple[str, Any]]:
    """The events of a server-sent event stream, up to the first ``until`` event."""
    events: list[tuple[str, Any]] = []
    name, data = "message", []
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line == "" and data:
            events.append((name, json.loads("\n".join(data))))
            if on_event:
                on_event(*events[-1])
            if name == until:
                break
            name, data = "message", []
    return events


def test_events_stream_the_log_and_state_and_resume_from_last_event_id(make_client, tmp_path: Path) -> None:
    client = make_client()
    release = tmp_path / "release"
    job_id = client.post("/api/jobs", data={"pipeline": "job-demo", "config_text": f"release: {release}\nticks: 3\n"}).json()["id"]
    wait_until(lambda: Path(f"{release}.started").exists(), what="the job to wait")
    with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_sse(response, until="log")
    assert events[0][0] == "job" and events[0][1]["status"] == "running" and events[0][1]["current_step"] == "wait"
    text, offset = events[1][1]["text"], events[1][1]["offset"]
    assert "tick 2 at" in text and "produced 3 rows" in text and offset == len(text.encode())

    release.touch()
    with client.stream("GET", f"/api/jobs/{job_id}/events", headers={"Last-Event-ID": str(offset)}) as response:
        events = read_sse(response)
    later = "".join(data["text"] for name, data in events if name == "log")
    assert "tick" not in later and "step finish: done" in later and f"job {job_id} completed" in later  # only what came after
    assert events[-1] == ("end", {"status": "completed"})
    assert [data["status"] for name, data in events if name == "job"][-1] == "completed"

    with client.stream("GET", "/api/events") as response:
        name, jobs = read_sse(response, until="jobs")[0]
    assert name == "jobs" and jobs[0]["id"] == job_id and jobs[0]["status"] == "completed"


# -- a real server on loopback --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A `kaspix serve` subprocess on a loopback port."""

    def __init__(self, data_dir: Path, env: dict[str, str], args: list[str], token: str | None) -> None:
        self.data_dir, self.env, self.args, self.token, self.port = data_dir, env, args, token, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        command = [sys.executable, "-m", "kaspix", "serve", "--port", str(self.port), "--data", str(self.data_dir), *self.args]
        env = {**self.env, "KASPIX_SERVE_TOKEN": self.token or ""}
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/api/pipelines", headers=self.headers, timeout=1).raise_for_status()
                return self
            except httpx.HTTPError:
                assert self.process.poll() is None, self.process.stderr.read().decode() if self.process.stderr else ""
                time.sleep(0.1)
        raise AssertionError("server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=15)

    def rss_kib(self) -> int:
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, headers=self.headers, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, headers=self.headers, timeout=10, **kwargs)

    def submit(self, config: str = "") -> dict[str, Any]:
        response = self.post("/api/jobs", data={"pipeline": "job-demo", "config_text": config})
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture
def server_factory(tmp_path: Path, job_env: dict[str, str]) -> Iterator[Callable[..., Server]]:
    """Start `kaspix serve` with extra options; every server of a test shares one data folder."""
    servers: list[Server] = []

    def make(*args: str, token: str | None = None) -> Server:
        server = Server(tmp_path / "server-data", job_env, list(args), token).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
    kill_jobs(tmp_path / "server-data")


def test_a_real_server_runs_jobs_rejects_bad_configs_and_answers_errors_in_one_shape(server_factory) -> None:
    server = server_factory()
    pipelines = {p["name"]: p for p in server.get("/api/pipelines").json()}
    assert pipelines["job-demo"]["steps"] == ["produce", "wait", "finish"] and "rows: 3" in pipelines["job-demo"]["default_config"]
    created = server.post("/api/jobs", data={"pipeline": "job-demo"}, files={"config_file": ("my.yaml", b"rows: 5\n")})
    assert created.status_code == 201, created.text
    job = finished(server, created.json()["id"])
    assert job["status"] == "completed" and job["metrics"] == {"rows": 5, "row_ratio": 1.25} and job["plots"]
    assert server.get(f"/api/jobs/{job['id']}/files/artifacts/table.csv").text == "0\n1\n2\n3\n4"

    assert (
        "got 'many'" in assert_error(server.post("/api/jobs", data={"pipeline": "job-demo", "config_text": "rows: many\n"}), 422)["message"]
    )
    assert_error(server.post("/api/jobs", data={"plugin": "nope"}), 422, "plugin")
    assert_error(server.get("/api/jobs/999"), 404)
    assert_error(server.get(f"/api/jobs/{job['id']}/files/..%2F..%2Fjobs.sqlite"), 404)
    assert_error(server.post(f"/api/jobs/{job['id']}/cancel"), 409)
    assert_error(httpx.put(server.url + "/api/jobs/1"), 405)
    assert [j["id"] for j in server.get("/api/jobs").json()] == [job["id"]]


def test_killed_jobs_show_interrupted_in_server_and_cli_after_a_restart_and_resume(server_factory, tmp_path, kaspix_cli) -> None:
    release = tmp_path / "release"
    server = server_factory("--max-jobs", "2")
    running = server.submit(f"release: {release}\n")
    killed = server.submit(f"release: {release}-never\n")
    for marker in (f"{release}.started", f"{release}-never.started"):
        wait_until(lambda marker=marker: Path(marker).exists(), what=marker)
    server.stop()
    os.kill(killed["pid"], signal.SIGKILL)  # this job dies while the server is down
    release.touch()  # this one finishes while the server is down

    restarted = server_factory("--max-jobs", "2")
    assert finished(restarted, running["id"])["status"] == "completed"
    job = finished(restarted, killed["id"])
    assert job["status"] == "interrupted" and job["run_status"] == "interrupted" and job["completed_steps"] == ["produce"]
    runs_dir = tmp_path / "server-data" / "runs"
    assert json.loads((runs_dir / killed["run_dir"] / "run.json").read_text())["status"] == "running"  # as the dead process left it
    listed = json.loads(kaspix_cli(["runs", "--runs-dir", str(runs_dir), "--json"], env=restarted.env).stdout)
    assert {r["path"].rsplit("/", 1)[-1]: r["status"] for r in listed}[killed["run_dir"]] == "interrupted"  # the CLI agrees

    Path(f"{release}-never").touch()
    assert restarted.post(f"/api/jobs/{killed['id']}/resume").status_code == 200
    job = finished(restarted, killed["id"])
    assert job["status"] == "completed" and job["metrics"]["rows"] == 3
    assert_error(restarted.post(f"/api/jobs/{killed['id']}/resume"), 409)  # already complete


def test_cancel_stops_the_whole_process_group_and_the_job_resumes_later(server_factory, tmp_path: Path) -> None:
    server = server_factory("--max-jobs", "2", "--cancel-grace", "3")
    polite, stubborn = tmp_path / "polite", tmp_path / "stubborn"
    first = server.submit(f"release: {polite}\n")
    second = server.submit(f"release: {stubborn}\nstubborn: true\n")
    for marker in (f"{polite}.started", f"{stubborn}.started"):
        wait_until(lambda marker=marker: Path(marker).exists(), what=marker)
    child = int(Path(f"{stubborn}.child").read_text())

    assert server.post(f"/api/jobs/{first['id']}/cancel").json()["status"] == "cancelling"
    job = finished(server, first["id"])
    assert job["status"] == "cancelled" and job["exit_code"] == 130  # SIGINT was enough: the run recorded it
    assert job["run_status"] == "interrupted" and job["completed_steps"] == ["produce"]

    server.post(f"/api/jobs/{second['id']}/cancel")
    job = finished(server, second["id"])  # ignores SIGINT: SIGTERM a grace time later
    assert job["status"] == "cancelled" and job["exit_code"] == -signal.SIGTERM
    wait_until(lambda: not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split(")")[1][:3], 5)
    log = server.get(f"/api/jobs/{second['id']}/log").json()["text"]
    assert "SIGINT sent" in log and "SIGTERM sent" in log

    polite.touch()
    assert server.post(f"/api/jobs/{first['id']}/resume").status_code == 200
    job = finished(server, first["id"])
    assert job["status"] == "completed" and job["completed_steps"] == ["produce", "wait", "finish"]


def test_with_max_jobs_1_queued_jobs_survive_a_restart_and_start_in_submit_order(server_factory, tmp_path: Path) -> None:
    release = tmp_path / "release"
    server = server_factory("--max-jobs", "1")
    jobs = [server.submit(f"release: {release}\n"), server.submit("rows: 1\n"), server.submit("rows: 2\n")]
    assert [j["status"] for j in jobs] == ["running", "queued", "queued"] and [j["queue_position"] for j in jobs[1:]] == [1, 2]
    wait_until(lambda: Path(f"{release}.started").exists(), what="the first job to wait")
    server.stop()

    restarted = server_factory("--max-jobs", "1")
    listed = {j["id"]: j for j in restarted.get("/api/jobs").json()}
    assert [listed[j["id"]]["status"] for j in jobs] == ["running", "queued", "queued"]  # the queue and the orphan job kept
    release.touch()
    ended = [finished(restarted, j["id"]) for j in jobs]
    assert [j["status"] for j in ended] == ["completed"] * 3
    assert ended[0]["finished"] <= ended[1]["started"] and ended[1]["finished"] <= ended[2]["started"]  # one at a time, in order


def test_a_real_server_needs_its_token_and_logging_in_on_the_page_works(server_factory, job_env, kaspix_cli) -> None:
    server = server_factory(token="lab-token")
    assert_error(httpx.get(server.url + "/api/jobs"), 401)
    assert httpx.get(server.url + "/", headers={"Accept": "text/html"}).headers["location"] == "login"
    assert server.get("/api/jobs").json() == []
    with httpx.Client(base_url=server.url) as browser:
        assert browser.post("/login", data={"token": "nope"}).status_code == 401
        assert browser.post("/login", data={"token": "lab-token"}).status_code == 303
        assert browser.get("/", headers={"Accept": "text/html"}).status_code == 200 and browser.get("/api/jobs").json() == []

    refused = kaspix_cli(["serve", "--host", "0.0.0.0", "--port", "9"], env={**job_env, "KASPIX_SERVE_TOKEN": ""}, timeout=30)
    assert refused.returncode == 2 and "refusing to listen on 0.0.0.0 without a token" in refused.stderr
    assert "KASPIX_SERVE_TOKEN" in refused.stderr and "--insecure" in refused.stderr


def raw_upload(port: int, token: str, *, declared: int | None, total: int, chunk: int = 64 << 10) -> tuple[int, int]:
    """POST a config file of ``total`` bytes to /api/jobs over a raw socket, stopping when the answer comes.

    ``declared`` is the Content-Length sent (None: chunked). Returns the status and the body bytes sent.
    """
    head = (
        f"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
    )
    head += f"Content-Length: {declared}\r\n\r\n" if declared is not None else "Transfer-Encoding: chunked\r\n\r\n"
    preamble = b'--b\r\nContent-Disposition: form-data; name="config_file"; filename="big.yaml"\r\n\r\n'
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        select.select([sock], [], [], 0.5)  # a server that judges by the length answers now
        while sent < total and not select.select([sock], [], [], 0)[0]:
            piece = (preamble if sent == 0 else b"") + b"#" * min(chunk, total - sent)
            try:
                sock.sendall(piece if declared is not None else b"%x\r\n%s\r\n" % (len(piece), piece))
            except OSError:  # the server answered and closed: the rest is never read
                break
            sent += len(piece)
        select.select([sock], [], [], 10)
        answer = sock.recv(65536).decode("latin-1")
    return int(answer.split(" ", 2)[1]), sent


def test_a_large_upload_gets_413_before_it_is_read_and_the_server_keeps_its_memory(server_factory) -> None:
    server = server_factory(token="t")
    server.get("/api/jobs")
    before = server.rss_kib()
    status, sent = raw_upload(server.port, "t", declared=200 << 20, total=200 << 20)
    assert status == 413 and sent == 0  # answered on the headers alone
    status, sent = raw_upload(server.port, "t", declared=None, total=50 << 20)  # chunked: counted as it comes
    assert status == 413 and sent < 50 << 20  # what was sent fits in the sockets' buffers
    after = server.rss_kib()
    print(f"server RSS before {before} KiB, after a 200 MB and a 50 MB chunked upload {after} KiB")
    assert after - before < 8192
    assert server.get("/api/jobs").json() == []

    slow = {}  # a config that takes seconds to parse does not hold up other requests

    def upload() -> None:
        started = time.monotonic()
        big = b"rows: [" + b"1, " * 50_000 + b"]\n"
        slow["status"] = server.post("/api/jobs", data={"pipeline": "job-demo"}, files={"config_file": ("big.yaml", big)}).status_code
        slow["seconds"] = time.monotonic() - started

    uploading = threading.Thread(target=upload)
    uploading.start()
    waits = []
    with httpx.Client(headers=server.headers) as client:
        while uploading.is_alive():
            started = time.monotonic()
            client.get(server.url + "/api/jobs").raise_for_status()
            waits.append(time.monotonic() - started)
            time.sleep(0.02)
    uploading.join()
    print(f"while a 150 kB config was parsed for {slow['seconds']:.2f} s, {len(waits)} requests took at most {max(waits) * 1000:.0f} ms")
    assert slow["status"] == 422 and max(waits) < min(0.5, slow["seconds"] / 2)


def test_the_event_stream_delivers_new_log_lines_within_a_second(server_factory) -> None:
    server = server_factory(token="t")
    job = server.submit("ticks: 15\ntick_s: 0.1\n")
    latencies: list[float] = []
    opened: list[float] = []

    def on_event(name: str, data: Any) -> None:
        now = time.time()
        opened.append(now)
        if name == "log":
            stamps = [float(stamp) for stamp in re.findall(r"tick \d+ at ([\d.]+)", data["text"])]
            latencies.extend(now - stamp for stamp in stamps if stamp > opened[0])  # written after the stream opened

    with httpx.stream("GET", f"{server.url}/api/jobs/{job['id']}/events", headers=server.headers, timeout=30) as response:
        events = read_sse(response, on_event=on_event)
    assert events[-1] == ("end", {"status": "completed"}) and len(latencies) >= 10
    median, worst = sorted(latencies)[len(latencies) // 2], max(latencies)
    print(f"SSE latency of {len(latencies)} new log lines: median {median * 1000:.0f} ms, max {worst * 1000:.0f} ms")
    assert worst < 1.0


# -- a real browser -------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/setup.sh installs it)")
def test_the_page_in_a_real_browser(server_factory, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    server = server_factory("--max-jobs", "2", "--cancel-grace", "2", token="browser-token")
    release = tmp_path / "never"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(server.url)
        page.wait_for_selector("#token")
        page.fill("#token", "browser-token")
        page.click("#login")
        page.wait_for_selector("#pipeline option:has-text('job-demo (jobdemo)')", state="attached")
        page.select_option("#pipeline", label="job-demo (jobdemo)")  # other installed plugins have pipelines too
        page.wait_for_function("document.querySelector('#config-text').value.includes('rows: 3')")

        page.set_input_files(
            "#config-file", files=[{"name": "lab.yaml", "mimeType": "text/yaml", "buffer": b"rows: 7\nticks: 12\ntick_s: 0.15\n"}]
        )
        page.click("#start")
        page.wait_for_function(  # lines arrive while the job still runs
            "document.querySelector('#log').textContent.includes('tick 3 at')"
            " && document.querySelector('#detail-status').textContent === 'running'"
        )
        page.wait_for_selector("#follow-state:has-text('log complete (completed)')", timeout=60_000)
        assert "produced 7 rows" in page.inner_text("#log") and "completed (exit code 0)" in page.inner_text("#log")
        page.wait_for_function("[...document.querySelectorAll('#plots img')].some((img) => img.complete && img.naturalWidth === 240)")
        assert "rows\t7" in page.inner_text("#metrics") and page.inner_text("#step-text") == "3/3 steps"
        page.wait_for_selector("tr.job td.status-completed")
        page.screenshot(path=str(tmp_path / "job-completed.png"), full_page=True)
        with page.expect_download() as download:
            page.click("#files a:has-text('artifacts/table.csv')")
        assert Path(download.value.path()).read_text() == "\n".join(str(i) for i in range(7))

        page.fill("#config-text", f"release: {release}\n")
        page.click("#start")
        page.wait_for_function("document.querySelector('#detail-id').textContent === '2'")
        wait_until(lambda: Path(f"{release}.started").exists(), what="the second job to wait")
        page.wait_for_selector("#steps li.current:has-text('wait')")
        page.click("#cancel")
        page.wait_for_selector("#follow-state:has-text('log complete (cancelled)')", timeout=30_000)
        assert "SIGINT sent" in page.inner_text("#log") and not page.is_hidden("#resume")
        page.wait_for_selector("tr.job td.status-cancelled")
        page.screenshot(path=str(tmp_path / "job-cancelled.png"), full_page=True)

        page.fill("#config-text", "rows: [\n")
        page.click("#start")
        page.wait_for_selector("#submit-error:has-text('invalid YAML')")
        assert len(page.query_selector_all("tr.job")) == 2
        browser.close()
    assert not [url for url in requests if re.search(r"/jobs/\d+/log", url)]  # the log came by events, not by polling
    assert any(url.endswith("/api/events") for url in requests) and any(url.endswith("/api/jobs/1/events") for url in requests)
