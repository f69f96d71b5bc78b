"""The norse simulation on small networks, checked against the LIF equations written out in plain torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from kaspix_snn.config import NetworkConfig
from kaspix_snn.network import build_spec, make_weights
from kaspix_snn.simulate import SpikingNetwork, batch_generator


def network(layers: list[dict], shape: tuple[int, int, int] = (1, 8, 8), **options: object) -> SpikingNetwork:
    spec = build_spec(NetworkConfig.model_validate({"layers": layers, "input_gain": 1.0, **options}), shape, name="t", seed=3)
    return SpikingNetwork(spec, make_weights(spec))


def reference_lif(current: torch.Tensor, ticks: int, *, tau_syn_ms: float = 5, tau_mem_ms: float = 10, v_th: float = 1) -> torch.Tensor:
    """Euler steps of di = -i/tau_syn, dv = (i - v)/tau_mem with jumps i += input each tick and v -> 0 at spikes."""
    v = torch.zeros_like(current)
    i = torch.zeros_like(current)
    out = []
    for _ in range(ticks):
        i = i + current
        v = v + 1e-3 * 1e3 / tau_mem_ms * (i - v)
        i = i - 1e-3 * 1e3 / tau_syn_ms * i
        spikes = (v > v_th).float()
        v = (1 - spikes) * v
        out.append(spikes)
    return torch.stack(out, dim=1)


def test_a_conv_layer_spikes_exactly_as_the_lif_equations_say() -> None:
    net = network([{"layer_type": "conv", "filters": 4, "kernel_size": 3}])
    images = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    activity = net.run(images, 12, potentials="all")
    current = F.conv2d(images, net.weights["conv1"], padding=1).flatten(1)
    expected = reference_lif(current, 12)
    assert activity.spikes["conv1"].shape == (5, 12, 4 * 8 * 8)
    assert torch.equal(activity.spikes["conv1"].float(), expected) and expected.sum() > 50
    assert activity.potentials["conv1"].shape == (5, 12, 256) and activity.potentials["conv1"].max() <= 1.0


def test_pool_dense_and_shapes_follow_the_spec() -> None:
    net = network(
        [
            {"layer_type": "conv", "filters": 0, "kernel_size": 3, "stride": 2},
            {"layer_type": "pool", "kernel_size": 2},
            {"layer_type": "dense", "units": 7},
        ]
    )
    assert [layer["out_shape"] for layer in net.layers] == [[9, 4, 4], [9, 2, 2], [7]]
    activity = net.run(torch.ones(2, 1, 8, 8), 10, potentials="final")
    conv = activity.spikes["conv1"].reshape(2, 10, 9, 4, 4).float()
    assert torch.equal(
        activity.spikes["pool1"].reshape(2, 10, 9, 2, 2).float(), F.max_pool2d(conv.flatten(0, 1), 2).reshape(2, 10, 9, 2, 2)
    )
    assert set(activity.potentials) == {"conv1", "dense1"} and activity.potentials["dense1"].shape == (2, 7)


def test_lateral_inhibition_lowers_firing() -> None:
    layers = [{"layer_type": "conv", "filters": 16, "kernel_size": 3}]
    images = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    free = network(layers).run(images, 20).spikes["conv1"].sum()
    inhibited = network(layers, inhibitory_signals=True, inhibition_strength=1.0).run(images, 20).spikes["conv1"].sum()
    assert inhibited < 0.9 * free


@pytest.mark.parametrize("encoding", ["poisson", "latency"])
def test_spike_encodings(encoding: str) -> None:
    net = network([{"layer_type": "dense", "units": 3}], shape=(1, 4, 4), encoding=encoding, max_rate=0.5)
    images = torch.linspace(0, 1, 16).reshape(1, 1, 4, 4)
    inputs = torch.stack([net._encode(images, t, 10, batch_generator(0, 0)) for t in range(10)])
    assert set(inputs.unique().tolist()) <= {0.0, 1.0}
    if encoding == "latency":  # one spike per lit pixel, the brightest first
        assert inputs.sum(0).flatten().tolist() == [0.0] + [1.0] * 15 and inputs[0].flatten()[-1] == 1
    else:
        a = net.run(images.repeat(200, 1, 1, 1), 10, generator=batch_generator(0, 0)).spikes["dense1"]
        b = net.run(images.repeat(200, 1, 1, 1), 10, generator=batch_generator(0, 0)).spikes["dense1"]
        assert torch.equal(a, b)  # seeded
        rates = torch.stack([net._encode(images, 0, 10, batch_generator(s, 0)) for s in range(400)]).mean(0).flatten()
        assert np.allclose(rates.numpy(), 0.5 * np.linspace(0, 1, 16), atol=0.08)


def test_a_pool_layer_before_the_first_neurons_pools_the_input() -> None:
    net = network([{"layer_type": "pool", "kernel_size": 2}, {"layer_type": "conv", "filters": 3, "kernel_size": 3}])
    images = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    activity = net.run(images, 5)
    assert activity.spikes["pool1"].shape == (2, 5, 16) and activity.spikes["conv1"].shape == (2, 5, 48)
    assert torch.equal(activity.spikes["pool1"][:, 3], F.max_pool2d(images, 2).flatten(1) > 0)
    current = F.conv2d(F.max_pool2d(images, 2), net.weights["conv1"], padding=1).flatten(1)
    assert torch.equal(activity.spikes["conv1"].float(), reference_lif(current, 5))
