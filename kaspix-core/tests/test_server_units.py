"""The job server's small parts: sizes, who may listen where, the default queue width, the store and its queue."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the job server needs kaspix-core[serve]")

from kaspix.errors import KaspixError
from kaspix.plugins import load_plugins
from kaspix.server import jobs
from kaspix.server.events import sse
from kaspix.server.guard import check_exposure, parse_size, session_value, valid_session
from kaspix.server.store import JobStore
from kaspix.testing import invoke


@pytest.mark.parametrize(("text", "size"), [("1M", 1 << 20), ("512K", 512 << 10), ("2048", 2048), ("1.5MiB", 3 << 19), ("2mb", 2 << 20)])
def test_sizes_read_with_binary_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "abc", "0", "-1M", "1T"])
def test_unreadable_sizes_are_user_errors(text: str) -> None:
    with pytest.raises(KaspixError, match="cannot read the size") as caught:
        parse_size(text)
    assert caught.value.where == "--max-upload" and "512K" in (caught.value.hint or "")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_needs_no_token(host: str) -> None:
    check_exposure(host, token=None, insecure=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "lab.example.org"])
def test_other_addresses_need_a_token_or_insecure(host: str) -> None:
    with pytest.raises(KaspixError, match=f"refusing to listen on {host} without a token") as caught:
        check_exposure(host, token=None, insecure=False)
    assert "KASPIX_SERVE_TOKEN" in (caught.value.hint or "") and "--insecure" in (caught.value.hint or "")
    check_exposure(host, token="t0ken", insecure=False)
    check_exposure(host, token=None, insecure=True)


def test_the_session_cookie_depends_on_the_token_and_does_not_reveal_it() -> None:
    value = session_value("t0ken")
    assert "t0ken" not in value and value != session_value("other")
    assert valid_session(f"theme=dark; kaspix_session={value}", "t0ken")
    assert not valid_session(f"kaspix_session={value}", "other") and not valid_session("", "t0ken")


@pytest.mark.parametrize(("cores", "expected"), [(1, 1), (2, 1), (4, 2), (16, 8)])
def test_one_job_at_a_time_on_two_cores_by_default(monkeypatch: pytest.MonkeyPatch, cores: int, expected: int) -> None:
    monkeypatch.setattr(jobs.os, "sched_getaffinity", lambda _pid: set(range(cores)))
    assert jobs.default_max_jobs() == expected


def test_serve_help_documents_the_queue_the_token_and_the_upload_cap() -> None:
    text = " ".join(invoke(["serve", "--help"]).output.split())
    assert "1 on up to 2 cores" in text and "KASPIX_SERVE_TOKEN" in text and "--max-upload" in text and "--insecure" in text


def test_an_older_job_database_gains_the_new_columns_and_the_queue_keeps_submit_order(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    with sqlite3.connect(path) as db:  # the first release's table, with one finished job
        db.execute(
            "CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, plugin TEXT NOT NULL, pipeline TEXT NOT NULL, run_dir TEXT NOT NULL,"
            " status TEXT NOT NULL, pid INTEGER, exit_code INTEGER, created TEXT NOT NULL, updated TEXT NOT NULL)"
        )
        db.execute("INSERT INTO jobs VALUES (1, 'p', 'demo', '/srv/data/runs/demo-job1', 'completed', NULL, 0, 't', 't')")
    store = JobStore(path)
    old = store.get(1)
    assert old is not None and old.status == "completed" and old.action == "start" and old.override_list == []
    second, third = store.create("p", "demo", "a"), store.create("p", "demo", "b")
    assert [j.id for j in store.with_status("queued")] == [second.id, third.id]
    version = store.version
    store.update(second.id, status="failed")
    store.enqueue(second.id, action="resume", overrides='["rows=2"]')  # a resumed job joins the end of the queue
    assert [j.id for j in store.with_status("queued")] == [third.id, second.id] and store.version == version + 2
    assert store.get(second.id).override_list == ["rows=2"]  # type: ignore[union-attr]
    store.close()


def test_server_sent_events_carry_json_and_an_id() -> None:
    assert sse("log", {"text": "a\nb"}, event_id=7) == b'event: log\nid: 7\ndata: {"text":"a\\nb"}\n\n'
    assert sse("jobs", b'[{"id":1}]') == b'event: jobs\ndata: [{"id":1}]\n\n'


def test_jobs_do_not_see_the_server_token_and_a_data_folder_has_one_server(tmp_path: Path) -> None:
    manager = jobs.JobManager(tmp_path, load_plugins([]), env={"KASPIX_SERVE_TOKEN": "t0ken", "HOME": "/home/lab"})
    assert "KASPIX_SERVE_TOKEN" not in manager.env and manager.env["HOME"] == "/home/lab"
    assert manager.env["KASPIX_PLAIN_PROGRESS"] == "1" and manager.runs_dir == tmp_path.resolve() / "runs"
    with pytest.raises(KaspixError, match="another kaspix server uses the data folder"):
        jobs.JobManager(tmp_path, load_plugins([]))
    manager.close()
    jobs.JobManager(tmp_path, load_plugins([])).close()  # free again
