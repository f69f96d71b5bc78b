"""The Ray executor on a local Ray instance gives the same dataset as local workers."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from kaspix_spice.config import GenerateConfig, Recipe

ray = pytest.importorskip("ray", reason="install kaspix-spice[ray] to test the Ray executor")


def test_ray_executor_matches_local(tmp_path) -> None:
    from kaspix_spice.generate import generate

    cfg = GenerateConfig(
        circuits=["rc_lowpass", "cr_highpass"],
        settings_per_circuit=2,
        clips_per_setting=1,
        clip_seconds=0.01,
        shard_size=2,
        workers=2,
        recipes=[Recipe(kind="pink")],
    )
    local = generate(cfg.model_copy(update={"workers": 1}), tmp_path / "local")
    remote = generate(cfg.model_copy(update={"executor": "ray"}), tmp_path / "ray")
    with h5py.File(local) as a, h5py.File(remote) as b:
        assert np.array_equal(a["audio_out"][()], b["audio_out"][()])
        assert np.array_equal(a["knobs"][()], b["knobs"][()])
