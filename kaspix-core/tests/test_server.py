"""The web job server, for real: a `kaspix serve` process, its SQLite store, job processes, a browser."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the job server needs kaspix-core[serve]")
httpx = pytest.importorskip("httpx")

JOB_PLUGIN = """
import time
from pathlib import Path
from kaspix import Config, Pipeline, Step, hookimpl

class JobConfig(Config):
    release: str = ""
    rows: int = 3

def produce(ctx):
    ctx.write_text("table.csv", "\\n".join(str(i) for i in range(ctx.config.rows)))
    ctx.log.info("produced %d rows", ctx.config.rows)

def wait(ctx):
    if ctx.config.release:
        Path(ctx.config.release + ".started").touch()
        deadline = time.monotonic() + 60
        while not Path(ctx.config.release).exists():
            if time.monotonic() > deadline:
                raise TimeoutError("never released")
            time.sleep(0.05)

def finish(ctx):
    ctx.log_metrics({"rows": ctx.config.rows})

@hookimpl
def register_pipelines(register):
    register(Pipeline("job-demo", JobConfig, (Step("produce", produce), Step("wait", wait), Step("finish", finish)),
                      description="writes a table, waits, records a metric"))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A `kaspix serve` subprocess on a loopback port."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir, self.env, self.port = data_dir, env, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kaspix", "serve", "--port", str(self.port), "--data", str(self.data_dir)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/api/jobs", timeout=1).raise_for_status()
                return self
            except httpx.HTTPError:
                assert self.process.poll() is None, self.process.stderr.read().decode()
                time.sleep(0.1)
        raise AssertionError("server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=15)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)

    def post(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.post(self.url + path, timeout=10, **kwargs)

    def wait_for(self, job_id: int, statuses: set[str], timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(f"/api/jobs/{job_id}").json()
            if job["status"] in statuses:
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} stayed {job['status']}")


@pytest.fixture
def server_factory(tmp_path: Path, plugin_env: Callable[..., dict[str, str]]) -> Iterator[Callable[[], Server]]:
    env = plugin_env("kaspix-job-demo", {"jobdemo": "job_demo_plugin"}, {"job_demo_plugin": JOB_PLUGIN})
    servers: list[Server] = []

    def make() -> Server:
        server = Server(tmp_path / "server-data", env).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def test_job_runs_and_its_log_metrics_and_files_are_served(server_factory) -> None:
    server = server_factory()
    pipelines = {p["name"]: p for p in server.get("/api/pipelines").json()}
    assert pipelines["job-demo"]["steps"] == ["produce", "wait", "finish"]
    assert "rows: 3" in pipelines["job-demo"]["default_config"]

    created = server.post("/api/jobs", data={"pipeline": "job-demo"}, files={"config_file": ("my.yaml", b"rows: 5\n")})
    assert created.status_code == 201, created.text
    job = server.wait_for(created.json()["id"], {"completed", "failed"})
    assert job["status"] == "completed" and job["metrics"] == {"rows": 5}
    assert job["completed_steps"] == ["produce", "wait", "finish"]

    log = server.get(f"/api/jobs/{job['id']}/log").json()
    assert "produced 5 rows" in log["text"]
    assert server.get(f"/api/jobs/{job['id']}/log?offset={log['offset']}").json()["text"] == ""
    files = {f["path"] for f in server.get(f"/api/jobs/{job['id']}/files").json()}
    assert {"config.yaml", "run.json", "run.log", "metrics.json", "artifacts/table.csv"} <= files
    assert server.get(f"/api/jobs/{job['id']}/files/artifacts/table.csv").text == "0\n1\n2\n3\n4"
    assert server.get(f"/api/jobs/{job['id']}/files/..%2F..%2Fjobs.sqlite").status_code == 404  # no way out of the run folder
    assert server.get("/api/jobs/999").status_code == 404


def test_bad_config_is_rejected_with_the_field_and_nothing_starts(server_factory) -> None:
    server = server_factory()
    response = server.post("/api/jobs", data={"pipeline": "job-demo", "config_text": "rows: many\n"})
    assert response.status_code == 400
    assert "field 'rows'" in response.json()["error"] and "got 'many'" in response.json()["error"]
    unknown = server.post("/api/jobs", data={"pipeline": "job-dem"})
    assert unknown.status_code == 400 and "did you mean 'job-demo'" in unknown.json()["error"]
    assert server.get("/api/jobs").json() == []


def test_jobs_survive_a_server_restart_and_killed_jobs_resume(server_factory, tmp_path: Path) -> None:
    release = tmp_path / "release"
    server = server_factory()
    running = server.post("/api/jobs", data={"pipeline": "job-demo", "config_text": f"release: {release}\n"}).json()
    killed = server.post("/api/jobs", data={"pipeline": "job-demo", "config_text": f"release: {release}-never\n"}).json()
    for marker in (f"{release}.started", f"{release}-never.started"):
        deadline = time.monotonic() + 60
        while not Path(marker).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    server.stop()
    os.kill(killed["pid"], signal.SIGKILL)  # this job dies while the server is down
    release.touch()  # this one finishes while the server is down

    restarted = server_factory()
    assert restarted.wait_for(running["id"], {"completed", "failed", "interrupted"})["status"] == "completed"
    job = restarted.wait_for(killed["id"], {"completed", "failed", "interrupted"})
    assert job["status"] == "interrupted" and job["completed_steps"] == ["produce"]

    Path(f"{release}-never").touch()
    assert restarted.post(f"/api/jobs/{killed['id']}/resume").status_code == 200
    job = restarted.wait_for(killed["id"], {"completed", "failed"})
    assert job["status"] == "completed" and job["metrics"] == {"rows": 3}
    assert restarted.post(f"/api/jobs/{killed['id']}/resume").status_code == 400  # already complete


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/setup.sh installs it)")
def test_the_page_in_a_real_browser(server_factory, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    server = server_factory()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(server.url)
        page.wait_for_function("document.querySelector('#config-text').value.includes('rows: 3')")
        page.fill("#config-text", "rows: 7\n")
        page.click("#start")
        page.wait_for_selector("#detail-status.status-completed", timeout=60_000)
        page.wait_for_function("document.querySelector('#log').textContent.includes('produced 7 rows')")
        page.wait_for_selector("#files a:has-text('artifacts/table.csv')")
        assert page.inner_text("#metrics") == "rows\t7"
        with page.expect_download() as download:
            page.click("#files a:has-text('artifacts/table.csv')")
        assert Path(download.value.path()).read_text() == "\n".join(str(i) for i in range(7))
        page.screenshot(path=str(tmp_path / "jobs.png"), full_page=True)

        page.fill("#config-text", "rows: [\n")
        page.click("#start")
        page.wait_for_selector("#submit-error:has-text('invalid YAML')")
        assert len(page.query_selector_all("tr.job")) == 1
        browser.close()
