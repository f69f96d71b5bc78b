"""The job server runs the snn pipeline from an uploaded seed-style YAML, in a real browser (Debian's chromium)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

pytest.importorskip("fastapi", reason="the job server needs kaspix-core[serve]")
httpx = pytest.importorskip("httpx")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A `kaspix serve` process on a loopback port (no token needed there); its URL."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("KASPIX_SERVE_TOKEN", None)
    command = [sys.executable, "-m", "kaspix", "serve", "--port", str(port), "--data", str(tmp_path / "server")]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "/api/pipelines", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
    yield url
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=15)


def scaled_down_seed_example() -> bytes:
    """The seed's example config, scaled down: fewer images, ticks and epochs; the rest as written."""
    config = yaml.safe_load((CONFIGS / "seed_example.yaml").read_text())
    config["simulation"].update(ticks_per_image=8, images_per_label=8)
    config["preparation"]["time_bins"] = 2
    config["training"]["epochs"] = 3
    config["evaluation"]["eval_samples"] = 10
    return yaml.safe_dump(config, sort_keys=False).encode()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/setup.sh installs it)")
def test_the_job_server_runs_an_uploaded_seed_config_in_a_real_browser(server: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server)
        page.wait_for_selector("#pipeline option:has-text('snn (snn)')", state="attached")
        page.select_option("#pipeline", label="snn (snn)")  # other installed plugins have pipelines too
        page.wait_for_function("document.querySelector('#config-text').value.includes('ticks_per_image: 20')")
        page.set_input_files("#config-file", files=[{"name": "seed.yaml", "mimeType": "text/yaml", "buffer": scaled_down_seed_example()}])
        page.click("#start")
        page.wait_for_function("document.querySelector('#log').textContent.includes('step record_activity: started')", timeout=60_000)
        page.wait_for_selector("#follow-state:has-text('log complete (completed)')", timeout=120_000)
        log = page.inner_text("#log")
        assert "step evaluate: done" in log and "run complete" in log and "think_longer" in log

        raster = "#plots img[alt$='plots/spike_raster.png']"  # the page shows the run's plots inline
        page.wait_for_function(
            f'(() => {{ const img = document.querySelector("{raster}"); return img && img.complete && img.naturalWidth > 300; }})()'
        )
        viewer = browser.new_page()  # open the raster on its own, as a click on "open image" would
        response = viewer.goto(server + "/" + page.get_attribute(raster, "src").lstrip("/"))
        assert response is not None and response.ok and response.headers["content-type"] == "image/png"
        assert viewer.evaluate("document.images.length === 1 && document.images[0].naturalWidth > 300")
        viewer.close()

        with page.expect_download() as download:
            page.click("#files a:has-text('artifacts/evaluation_summary.json')")
        summary = json.loads(Path(download.value.path()).read_text())
        assert summary["experiment"] == "my_experiment" and summary["test_images"] == 10
        assert {"accuracy", "per_class", "confusion_matrix", "baseline", "think_longer"} <= set(summary)
        page.screenshot(path=str(tmp_path / "snn-job.png"), full_page=True)
        browser.close()
