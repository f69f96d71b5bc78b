"""Runs: folders with config, state, log, metrics; failures and interruptions resume where they stopped."""

import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import yaml
from kaspix import Config, KaspixError, Pipeline, RunContext, Step, hookimpl
from kaspix.runner import StepFailed, resume_run
from kaspix.runs import list_runs
from kaspix.testing import invoke, plugin_host, run_pipeline


class CountConfig(Config):
    start: int = 1
    fail_flag: str = ""


calls: list[str] = []


def first(ctx: RunContext[CountConfig]) -> None:
    calls.append("first")
    ctx.write_json("first.json", {"value": ctx.config.start})


def second(ctx: RunContext[CountConfig]) -> None:
    calls.append("second")
    if ctx.config.fail_flag and Path(ctx.config.fail_flag).exists():
        raise RuntimeError("the flag file says fail")
    value = json.loads(ctx.artifact("first.json").read_text())["value"]
    ctx.write_json("second.json", {"value": value * 10})


def third(ctx: RunContext[CountConfig]) -> None:
    calls.append("third")
    ctx.log_metrics({"final": json.loads(ctx.artifact("second.json").read_text())["value"]}, prefix="count")


@hookimpl
def register_pipelines(register):
    register(Pipeline("count", CountConfig, (Step("first", first), Step("second", second), Step("third", third))))


PLUGIN = types.SimpleNamespace(register_pipelines=register_pipelines)


def test_run_folder_holds_config_state_log_metrics(tmp_path: Path) -> None:
    with plugin_host(PLUGIN, name="counter") as host:
        result = run_pipeline(host, "count", tmp_path, overrides=["start=4"])
    run = result.run.path
    assert yaml.safe_load((run / "config.yaml").read_text()) == {"start": 4, "fail_flag": ""}
    state = json.loads((run / "run.json").read_text())
    assert state["status"] == "completed"
    assert state["completed_steps"] == ["first", "second", "third"]
    assert json.loads((run / "metrics.json").read_text()) == {"count/final": 40}
    log = (run / "run.log").read_text()
    assert "step second: done" in log
    assert not list(run.rglob("*.tmp")), "atomic writes leave no temporary files"


def test_failed_step_is_recorded_and_resume_starts_there(tmp_path: Path) -> None:
    flag = tmp_path / "fail"
    flag.touch()
    calls.clear()
    with plugin_host(PLUGIN, name="counter") as host:
        with pytest.raises(StepFailed) as info:
            run_pipeline(host, "count", tmp_path, overrides=[f"fail_flag={flag}"])
        run = info.value.run
        state = run.read_state()
        assert (state.status, state.completed_steps, state.current_step) == ("failed", ["first"], "second")
        assert "the flag file says fail" in state.error
        assert "Traceback" in run.log_path.read_text()
        flag.unlink()
        calls.clear()
        result = resume_run(host, run.path)
    assert calls == ["second", "third"]
    assert result.state.status == "completed"
    assert result.metrics == {"count/final": 10}


def test_resume_of_a_complete_run_does_nothing(tmp_path: Path) -> None:
    with plugin_host(PLUGIN, name="counter") as host:
        done = run_pipeline(host, "count", tmp_path)
        calls.clear()
        resume_run(host, done.run.path)
    assert calls == []


def test_resume_rejects_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with plugin_host(PLUGIN, name="counter") as host:
        with pytest.raises(KaspixError, match="not a kaspix run folder"):
            resume_run(host, tmp_path)


def test_cli_errors_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "r"
    with plugin_host(PLUGIN, name="counter"):
        result = invoke(["run", "--plugin", "counter", "--set", "start=abc", "--out", str(out)])
        assert result.exit_code == 2
        assert "field 'start'" in result.stderr and "Traceback" not in result.stderr
        assert not out.exists()
        result = invoke(["run", "--plugin", "countr"])
        assert result.exit_code == 2
        assert "did you mean 'counter'" in result.stderr


def test_cli_failure_points_to_log_and_resume(tmp_path: Path) -> None:
    flag = tmp_path / "fail"
    flag.touch()
    with plugin_host(PLUGIN, name="counter"):
        result = invoke(["run", "--plugin", "counter", "--set", f"fail_flag={flag}", "--out", str(tmp_path / "r")])
        assert result.exit_code == 1
        assert f"kaspix run --resume {tmp_path / 'r'}" in result.stderr
        flag.unlink()
        resumed = invoke(["run", "--resume", str(tmp_path / "r")])
        assert resumed.exit_code == 0, resumed.output
        listing = invoke(["runs", "--runs-dir", str(tmp_path), "--json"])
    runs = json.loads(listing.stdout)
    assert [(r["pipeline"], r["status"], r["progress"]) for r in runs] == [("count", "completed", "3/3")]
    assert list_runs(tmp_path)[0].metrics == {"count/final": 10}


SLOW_PLUGIN = """
import json, time
from pathlib import Path
from kaspix import Config, Pipeline, Step, hookimpl

class SlowConfig(Config):
    marker: str

def prepare(ctx):
    ctx.write_json("prepared.json", {"ok": True})

def wait(ctx):
    Path(ctx.config.marker).write_text("waiting")
    if Path(ctx.config.marker + ".release").exists():
        ctx.write_json("waited.json", {"ok": True})
        return
    time.sleep(60)

def finish(ctx):
    ctx.log_metrics({"finished": 1})

@hookimpl
def register_pipelines(register):
    register(Pipeline("slow", SlowConfig, (Step("prepare", prepare), Step("wait", wait), Step("finish", finish))))
"""


def test_interrupted_process_resumes_at_the_unfinished_step(tmp_path: Path, plugin_env, kaspix_cli) -> None:
    env = plugin_env("kaspix-slow", {"slow": "slow_plugin"}, {"slow_plugin": SLOW_PLUGIN})
    marker, out = tmp_path / "marker", tmp_path / "run"
    process = _start_slow(env, marker, out)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    state = json.loads((out / "run.json").read_text())
    assert (state["status"], state["completed_steps"]) == ("interrupted", ["prepare"])

    Path(str(marker) + ".release").touch()
    resumed = kaspix_cli(["run", "--resume", str(out)], env=env)
    assert resumed.returncode == 0, resumed.stderr
    state = json.loads((out / "run.json").read_text())
    assert (state["status"], state["completed_steps"]) == ("completed", ["prepare", "wait", "finish"])
    assert "resuming" in (out / "run.log").read_text()
    assert os.path.exists(out / "artifacts" / "waited.json")


def _start_slow(env: dict[str, str], marker: Path, out: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "kaspix", "run", "--plugin", "slow", "--set", f"marker={marker}", "--out", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the slow step never started"
    return process


def test_second_writer_is_refused_and_kill_9_is_seen_as_interrupted(tmp_path: Path, plugin_env, kaspix_cli) -> None:
    env = plugin_env("kaspix-slow", {"slow": "slow_plugin"}, {"slow_plugin": SLOW_PLUGIN})
    marker, out = tmp_path / "marker", tmp_path / "runs" / "run"
    process = _start_slow(env, marker, out)
    try:
        second = kaspix_cli(["run", "--resume", str(out)], env=env)
        assert second.returncode == 2, second.stderr
        assert f"this run is being run by pid {process.pid} on host" in second.stderr
        assert "Traceback" not in second.stderr
        listing = json.loads(kaspix_cli(["runs", "--runs-dir", str(out.parent), "--json"], env=env).stdout)
        assert listing[0]["status"] == "running"
    finally:
        process.kill()  # SIGKILL: the run cannot record how it ended
        process.communicate(timeout=30)
    assert json.loads((out / "run.json").read_text())["status"] == "running"  # what the dead process left
    listing = json.loads(kaspix_cli(["runs", "--runs-dir", str(out.parent), "--json"], env=env).stdout)
    assert listing[0]["status"] == "interrupted" and "died" in listing[0]["error"]
    Path(str(marker) + ".release").touch()
    resumed = kaspix_cli(["run", "--resume", str(out)], env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "run.json").read_text())["status"] == "completed"
    assert not (out / "run.lock").exists()


def test_resume_with_set_changes_the_config_and_records_it(tmp_path: Path) -> None:
    flag = tmp_path / "fail"
    flag.touch()
    with plugin_host(PLUGIN, name="counter"):
        failed = invoke(["run", "--plugin", "counter", "--set", f"fail_flag={flag}", "--out", str(tmp_path / "r")])
        assert failed.exit_code == 1
        refused = invoke(["run", "--resume", str(tmp_path / "r"), "--out", str(tmp_path / "other")])
        assert refused.exit_code == 2 and "--resume DIR --set a.b=VALUE" in refused.stderr
        bad = invoke(["run", "--resume", str(tmp_path / "r"), "--set", "start=abc"])
        assert bad.exit_code == 2 and "field 'start'" in bad.stderr
        resumed = invoke(["run", "--resume", str(tmp_path / "r"), "--set", "fail_flag="])
        assert resumed.exit_code == 0, resumed.output
    run = tmp_path / "r"
    assert yaml.safe_load((run / "config.yaml").read_text())["fail_flag"] == ""
    change = json.loads((run / "run.json").read_text())["changes"][0]
    assert change["before_step"] == "second"
    assert change["set"] == {"fail_flag": {"from": str(flag), "to": ""}}
    assert "config changed on resume" in (run / "run.log").read_text()


@pytest.mark.parametrize(
    ("content", "problem"),
    [("{not json", "it is not valid JSON"), ('{"plugin": "counter"}', "field 'pipeline': field required (and 1 more)")],
)
def test_corrupt_run_json_is_one_clear_message(tmp_path: Path, content: str, problem: str) -> None:
    with plugin_host(PLUGIN, name="counter") as host:
        done = run_pipeline(host, "count", tmp_path)
        (done.run.path / "run.json").write_text(content)
        result = invoke(["run", "--resume", str(done.run.path)])
        listing = json.loads(invoke(["runs", "--runs-dir", str(tmp_path), "--json"]).stdout)
    assert result.exit_code == 2
    assert f"cannot read run.json: {problem}" in result.stderr
    assert "pydantic" not in result.stderr and "Traceback" not in result.stderr
    assert listing[0]["status"] == "unreadable" and problem in listing[0]["error"]


def test_corrupt_config_yaml_on_resume_names_the_file(tmp_path: Path) -> None:
    with plugin_host(PLUGIN, name="counter") as host:
        done = run_pipeline(host, "count", tmp_path)
        (done.run.path / "config.yaml").write_text("start: [unclosed\n")
        result = invoke(["run", "--resume", str(done.run.path)])
    assert result.exit_code == 2
    assert "config.yaml, line 2" in result.stderr and "Traceback" not in result.stderr


def test_config_command_validates_a_file_without_running(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("start: 7\n")
    bad.write_text("strat: 7\n")
    with plugin_host(PLUGIN, name="counter"):
        resolved = invoke(["config", "--plugin", "counter", "-c", str(good), "--set", "fail_flag=x"])
        wrong = invoke(["config", "--plugin", "counter", "-c", str(bad)])
    assert resolved.exit_code == 0
    assert yaml.safe_load(resolved.stdout) == {"start": 7, "fail_flag": "x"}
    assert wrong.exit_code == 2
    assert f"{bad}: field 'strat': unknown field; did you mean 'start'?" in wrong.stderr
    assert not list(tmp_path.glob("runs*"))


def test_run_files_respect_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        with plugin_host(PLUGIN, name="counter") as host:
            run = run_pipeline(host, "count", tmp_path).run.path
    finally:
        os.umask(previous)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (run / "run.json", run / "config.yaml", run / "metrics.json", run / "run.log")}
    assert modes == dict.fromkeys(modes, 0o640)


class SeededConfig(Config):
    seed: int = 3


def build(ctx: RunContext[SeededConfig]) -> None:
    import torch

    model = torch.nn.Linear(4, 1)  # initialised by the runner's seeding, before fit seeds anything
    torch.save(model.state_dict(), ctx.artifact("model.pt"))


def train(ctx: RunContext[SeededConfig]) -> None:
    import torch
    from kaspix.training import fit

    model = torch.nn.Linear(4, 1)
    model.load_state_dict(torch.load(ctx.artifact("model.pt"), weights_only=True))
    x = torch.randn(64, 4)  # drawn from the generator the runner seeded
    batches = [(x[i : i + 16], x[i : i + 16].sum(1, keepdim=True)) for i in range(0, 64, 16)]
    result = fit(model, torch.nn.functional.mse_loss, batches, epochs=3, lr=0.05)
    ctx.log_metrics({"loss": result.best_val_loss, "weight0": float(model.weight[0, 0].detach())})


@hookimpl
def register_seeded(register):
    register(Pipeline("seeded", SeededConfig, (Step("build", build), Step("train", train))))


@pytest.mark.integration
def test_seeded_torch_pipeline_reruns_bit_for_bit(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    plugin = types.SimpleNamespace(register_pipelines=register_seeded)
    with plugin_host(plugin, name="seeded") as host:
        first = run_pipeline(host, "seeded", tmp_path / "a").metrics
        second = run_pipeline(host, "seeded", tmp_path / "b").metrics
        other_seed = run_pipeline(host, "seeded", tmp_path / "c", overrides=["seed=4"]).metrics
    assert first == second
    assert first != other_seed


LAZY_TORCH_PLUGIN = """
import sys
from kaspix import Config, Pipeline, Step, hookimpl

class C(Config):
    seed: int = 3

def build(ctx):
    assert "torch" not in sys.modules  # the runner did not import torch to seed it
    import torch

    ctx.log_metrics({"weights": torch.nn.Linear(3, 1).weight.detach().flatten().tolist()})

@hookimpl
def register_pipelines(register):
    register(Pipeline("lazy-torch", C, (Step("build", build),)))
"""


@pytest.mark.integration
def test_torch_imported_inside_a_step_is_seeded_from_the_config(tmp_path: Path, plugin_env, kaspix_cli) -> None:
    pytest.importorskip("torch")
    env = plugin_env("kaspix-lazy-torch", {"lazytorch": "lazy_torch_plugin"}, {"lazy_torch_plugin": LAZY_TORCH_PLUGIN})
    weights = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        result = kaspix_cli(["run", "--plugin", "lazytorch", "--set", f"seed={seed}", "--out", str(tmp_path / name)], env=env)
        assert result.returncode == 0, result.stderr
        weights.append(json.loads((tmp_path / name / "metrics.json").read_text())["weights"])
    assert weights[0] == weights[1] and weights[0] != weights[2]


def test_from_step_reruns_a_completed_run_from_that_step(tmp_path: Path) -> None:
    with plugin_host(PLUGIN, name="counter"):
        assert invoke(["run", "--plugin", "counter", "--out", str(tmp_path / "r")]).exit_code == 0
        wrong = invoke(["run", "--resume", str(tmp_path / "r"), "--from-step", "secnd"])
        assert wrong.exit_code == 2 and "did you mean 'second'" in wrong.stderr
        alone = invoke(["run", "--plugin", "counter", "--from-step", "second"])
        assert alone.exit_code == 2 and "use it with --resume" in alone.stderr
        calls.clear()
        again = invoke(["run", "--resume", str(tmp_path / "r"), "--from-step", "second", "--set", "start=5"])
        assert again.exit_code == 0, again.output
    assert calls == ["second", "third"]  # "first" is reused: its artifact still holds start=1
    state = json.loads((tmp_path / "r" / "run.json").read_text())
    assert state["status"] == "completed" and state["completed_steps"] == ["first", "second", "third"]
    assert state["changes"][0]["rerun_from"] == "second" and state["changes"][1]["set"] == {"start": {"from": 1, "to": 5}}
    assert "running again from step 'second'" in (tmp_path / "r" / "run.log").read_text()
