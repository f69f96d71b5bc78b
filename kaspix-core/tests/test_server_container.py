"""The Dockerfile and docker-compose.yml that run `kaspix serve`: consistent with the CLI, and (opt-in) built and started.

Building the image takes minutes and needs a container engine plus access to Docker Hub (the base
image) and PyPI, so that test runs only with ``KASPIX_CONTAINER_TEST=1``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from kaspix.cli import cli

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

pytestmark = pytest.mark.skipif(not COMPOSE.is_file(), reason="docker-compose.yml is at the root of the kaspix repository")


def compose_service() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]["kaspix"]


def test_compose_runs_a_valid_serve_command_with_every_folder_on_a_volume_and_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KASPIX_SERVE_TOKEN", raising=False)
    service = compose_service()
    command = service["command"]
    assert command[:2] == ["kaspix", "serve"]
    params = cli.commands["serve"].make_context("serve", list(command[2:])).params  # the CLI accepts these options
    mounts = {volume.split(":")[1] for volume in service["volumes"]}
    assert {str(params["data_dir"]), str(params["runs_dir"]), "/srv/kaspix/data"} <= mounts
    assert params["host"] == "0.0.0.0" and params["token"] is None  # so the token must come from the environment:
    assert service["environment"]["KASPIX_SERVE_TOKEN"].startswith("${KASPIX_SERVE_TOKEN:?")
    assert all(port.startswith("127.0.0.1:") for port in service["ports"])  # this machine only, unless a proxy is added

    dockerfile = DOCKERFILE.read_text()
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert cmd is not None
    image_command = json.loads(cmd.group(1))
    assert command[: len(image_command)] == image_command  # compose adds --max-jobs
    for folder in mounts:
        assert folder in dockerfile


def engine() -> tuple[str | None, str]:
    """The container engine that answers, or None and why none does."""
    reasons = []
    for name in ("docker", "podman"):
        if shutil.which(name) is None:
            reasons.append(f"{name}: not installed")
            continue
        info = subprocess.run([name, "info"], capture_output=True, text=True, timeout=60)
        if info.returncode == 0:
            return name, ""
        reasons.append(
            f"{name}: {(info.stderr or info.stdout).strip().splitlines()[-1] if (info.stderr or info.stdout).strip() else 'info failed'}"
        )
    return None, "; ".join(reasons)


@pytest.mark.skipif(
    os.environ.get("KASPIX_CONTAINER_TEST") != "1",
    reason="set KASPIX_CONTAINER_TEST=1 to build and start the image (minutes; needs docker or podman, Docker Hub and PyPI)",
)
def test_the_image_builds_starts_and_runs_a_job() -> None:
    httpx = pytest.importorskip("httpx")
    name, why = engine()
    if name is None:
        pytest.skip(f"no container engine runs here ({why})")
    tag, token = f"kaspix-serve-test-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    subprocess.run([name, "build", "-t", tag, str(ROOT)], check=True, timeout=1800)
    refused = subprocess.run([name, "run", "--rm", tag], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "without a token" in refused.stderr
    container = subprocess.run(
        [name, "run", "-d", "--init", "-e", f"KASPIX_SERVE_TOKEN={token}", "-p", f"127.0.0.1:{port}:8765", tag],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.strip()
    try:
        headers, url = {"Authorization": f"Bearer {token}"}, f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                assert "rc-fit" in {p["name"] for p in httpx.get(url + "/api/pipelines", headers=headers, timeout=5).json()}
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the container's server did not answer"
                time.sleep(1)
        job = httpx.post(url + "/api/jobs", headers=headers, data={"pipeline": "rc-fit"}, timeout=10).json()
        while (job := httpx.get(f"{url}/api/jobs/{job['id']}", headers=headers, timeout=10).json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline + 120
            time.sleep(1)
        assert job["status"] == "completed" and job["metrics"]["tau_relative_error"] < 0.05
    finally:
        subprocess.run([name, "rm", "-f", container], capture_output=True, timeout=120)
        subprocess.run([name, "rmi", "-f", tag], capture_output=True, timeout=120)
