"""The default pipeline (README line 1) end to end at a tiny scale: every step, every artifact, the summary."""

from __future__ import annotations

import json

import pytest
from kaspix.testing import invoke, plugin_host, run_pipeline
from kaspix_cspace import plugin

TINY = [
    "analysis.seconds=1.2",
    "analysis.at_seconds=0.7",
    "analysis.drift_seconds=2",
    "analysis.robustness=false",
    "codec.steps=4",
    "codec.checkpoint_every=2",
    "codec.batch_size=2",
    "codec.segment_seconds=0.1",
    "codec.val_batches=1",
    "evaluation.clips=1",
    "evaluation.seconds=0.5",
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory):
    with plugin_host(plugin, name="cspace") as host:
        return run_pipeline(host, "cspace", tmp_path_factory.mktemp("study"), overrides=TINY)


def test_every_step_runs_and_writes_its_artifacts(tiny_run) -> None:
    artifacts = tiny_run.run.artifacts
    assert tiny_run.state.status == "completed"
    for png in (
        "espace/esn_spectrogram.png",
        "espace/esn_search_delayed.png",
        "cspace/cspace_spectrogram.png",
        "cspace/cspace_search_delayed.png",
        "landscape/loss_landscape.png",
        "quantize/quantize.png",
        "drift/drift.png",
    ):
        assert (artifacts / png).stat().st_size > 1000, png
    for loss in ("cspace", "mrstft"):
        assert (artifacts / f"codec_{loss}" / "codec.pt").is_file()
        assert list((artifacts / f"codec_{loss}" / "checkpoints").glob("recon_step*.wav"))
        assert (artifacts / "evaluation" / loss / "music_0.wav").is_file()


def test_summary_reports_every_claim_with_a_number(tiny_run) -> None:
    artifacts = tiny_run.run.artifacts
    summary = json.loads((artifacts / "summary.json").read_text())
    keys = {row["key"] for row in summary["claims"]}
    assert {"espace/self_match_error", "espace/shift_match_error", "cspace/self_match_error", "cspace/shift_match_error"} <= keys
    assert {"landscape/cspace_convex_bowl", "landscape/mel_convex_bowl", "landscape/mrstft_convex_bowl"} <= keys
    assert {"quantize/landscape_correlation", "drift/float32_max_relative", "codec/cspace_music_si_snr_db"} <= keys
    by_key = {row["key"]: row for row in summary["claims"]}
    assert by_key["espace/self_match_error"]["value"] == 0 and by_key["cspace/self_match_error"]["value"] == 0
    assert isinstance(by_key["cspace/shift_match_error"]["value"], int)  # measured; on a 1-s clip it need not be 0
    assert by_key["drift/float64_max_relative"]["value"] < 1e-9
    assert set(summary["codecs"]) == {"cspace", "mrstft"} and summary["codecs"]["cspace"]["latent_rate"] <= 6000
    table = (artifacts / "summary.md").read_text()
    assert "| claim | measured | verdict |" in table and "music" in table
    assert tiny_run.metrics["cspace/self_match_error"] == 0


def test_seeded_reruns_give_the_same_numbers(tiny_run, tmp_path) -> None:
    with plugin_host(plugin, name="cspace") as host:
        again = run_pipeline(host, "cspace", tmp_path, overrides=TINY)

    def numbers(metrics: dict) -> dict:
        return {k: v for k, v in metrics.items() if not k.endswith("seconds")}  # wall times differ, nothing else

    assert numbers(again.metrics) == numbers(tiny_run.metrics)


def test_a_retrained_codec_never_resumes_from_other_settings(tiny_run, tmp_path) -> None:
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(tiny_run.run.path, run)
    state = json.loads((run / "run.json").read_text())
    state["completed_steps"] = state["completed_steps"][: state["steps"].index("codecs")]
    state["status"] = "failed"
    (run / "run.json").write_text(json.dumps(state))
    with plugin_host(plugin, name="cspace"):
        result = invoke(["run", "--resume", str(run), "--set", "codec.steps=6"])
    assert result.exit_code == 0, result.output
    trained = json.loads((run / "artifacts" / "codec_cspace" / "train.json").read_text())
    assert trained["steps"] == 6
    assert "holds a codec of other settings" in (run / "run.log").read_text()


def test_a_query_in_silence_is_refused_before_any_analysis(tmp_path) -> None:
    with plugin_host(plugin, name="cspace"):
        result = invoke(
            ["run", "--plugin", "cspace", *(f"--set={o}" for o in TINY), "--set", "analysis.at_seconds=0.4", "--out", str(tmp_path / "r")]
        )
    assert result.exit_code == 2 and "silence" in result.stderr and "Traceback" not in result.stderr
    state = json.loads((tmp_path / "r" / "run.json").read_text())
    assert state["status"] == "failed" and state["completed_steps"] == []


def test_a_config_error_is_clear_and_runs_nothing(tmp_path) -> None:
    with plugin_host(plugin, name="cspace"):
        result = invoke(["run", "--plugin", "cspace", "--set", "analysis.at_seconds=9", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "analysis" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()
