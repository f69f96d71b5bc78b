"""The recording file: bit-packed spikes, streamed appends, resuming a partial file, features."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from kaspix_snn.activity import ActivityReader, ActivityWriter, pack_spikes, unpack_spikes
from kaspix_snn.features import feature_blocks, features

LAYERS = {"conv1": {"units": 13, "shape": [13], "has_neurons": True}, "pool1": {"units": 5, "shape": [5], "has_neurons": False}}


def writer(path: Path, fingerprint: str = "a", compression: int = 1) -> ActivityWriter:
    meta = {"recorded_layers": list(LAYERS), "class_names": ["a", "b"], "max_value": 255.0, "ticks_per_image": 4}
    return ActivityWriter(
        path,
        layers=LAYERS,
        image_shape=(1, 2, 2),
        image_dtype=np.uint8,
        ticks=4,
        potentials="final",
        metadata=meta,
        fingerprint=fingerprint,
        batch=3,
        compression=compression,
    )


def batch(rng: np.random.Generator, n: int) -> dict:
    return {
        "images": rng.integers(0, 255, (n, 1, 2, 2), dtype=np.uint8),
        "labels": rng.integers(0, 2, n),
        "source_index": np.arange(n),
        "spikes": {name: rng.random((n, 4, info["units"])) < 0.3 for name, info in LAYERS.items()},
        "potentials": {"conv1": rng.standard_normal((n, 13))},
    }


def test_spikes_pack_to_bits_and_back() -> None:
    spikes = np.random.default_rng(0).random((3, 4, 13)) < 0.5
    assert pack_spikes(spikes).shape == (3, 4, 2) and np.array_equal(unpack_spikes(pack_spikes(spikes), 13), spikes)


@pytest.mark.parametrize("compression", [1, 0])
def test_batches_are_appended_chunked_compressed_and_a_partial_file_is_continued(tmp_path: Path, compression: int) -> None:
    rng = np.random.default_rng(0)
    first, second = batch(rng, 3), batch(rng, 2)
    path = tmp_path / "a.h5"
    with writer(path, compression=compression) as w:
        w.append(**first)
    with writer(path, compression=compression) as w:  # same fingerprint: continued
        assert w.complete == 3
        w.append(**second)
    with h5py.File(path) as f:
        spikes = f["layers/conv1/spikes"]
        assert spikes.shape == (5, 4, 2) and spikes.dtype == np.uint8 and spikes.chunks[0] == 3
        assert spikes.compression == ("gzip" if compression else None)
        assert np.array_equal(
            f["layers/conv1/potentials"][:],
            np.concatenate([first["potentials"]["conv1"], second["potentials"]["conv1"]]).astype(np.float16),
        )
        assert f["layers/conv1/potentials"].dtype == np.float16 and "potentials" not in f["layers/pool1"]
    with ActivityReader(path) as reader:
        assert len(reader) == 5 and reader.units("conv1") == 13
        expected = np.concatenate([first["spikes"]["conv1"], second["spikes"]["conv1"]])
        assert np.array_equal(reader.spikes("conv1", slice(0, 5)), expected)
        assert [rows for rows, _, _ in reader.batches(2, ["conv1"])] == [slice(0, 2), slice(2, 4), slice(4, 5)]
    with writer(path, fingerprint="other") as w:  # recorded differently: started over
        assert w.complete == 0


def test_features_are_rates_in_documented_blocks() -> None:
    spikes = np.zeros((1, 4, 3), dtype=bool)
    spikes[0, :, 0] = True  # unit 0 always
    spikes[0, 2, 1] = True  # unit 1 once, at tick 2; unit 2 silent
    v = np.array([[0.1, 0.2, 0.3]])
    kinds = ["avg_S", "firings", "first_spike", "layer_rates", "final_v"]
    out = features({"l": spikes}, {"l": v}, ["l"], kinds, time_bins=2)
    blocks = feature_blocks(["l"], {"l": 3}, kinds, 2, {"l"})
    assert [(b[1], b[3] - b[2]) for b in blocks] == [("avg_S", 3), ("firings", 6), ("first_spike", 3), ("layer_rates", 2), ("final_v", 3)]
    column = {kind: out[0, start:stop].tolist() for _, kind, start, stop in blocks}
    assert column["avg_S"] == [1.0, 0.25, 0.0]
    assert column["firings"] == [1.0, 0.0, 0.0, 1.0, 0.5, 0.0]  # bin-major: bin 0 of every unit, then bin 1
    assert column["first_spike"] == [1.0, 0.5, 0.0]
    assert np.allclose(column["layer_rates"], [1 / 3, 0.5])
    assert np.allclose(column["final_v"], [0.1, 0.2, 0.3])
