"""The spiking network on norse: encode images, step LIF populations tick by tick, return spikes and potentials.

Each conv or dense layer is a synaptic projection (``torch.nn.functional.conv2d`` / ``linear``)
whose currents drive norse's LIF neurons (:func:`norse.torch.functional.lif.lif_feed_forward_step`);
pool layers max-pool spikes. Everything runs under ``torch.inference_mode``. With the ``current``
encoding the input is the same every tick, so the first neuron layer's input current is computed once per batch.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

with warnings.catch_warnings():  # norse 1.1 scripts a helper with the deprecated torch.jit.script at import
    warnings.simplefilter("ignore", FutureWarning)
    from norse.torch.functional.encode import poisson_encode_step
    from norse.torch.functional.lif import LIFFeedForwardState, LIFParameters, lif_feed_forward_step

__all__ = ["BatchActivity", "SpikingNetwork", "batch_generator"]


@dataclass
class BatchActivity:
    """What a batch of images did, per recorded layer.

    Attributes:
        spikes: ``{layer: bool tensor (batch, ticks, units)}``.
        potentials: ``{layer: float tensor}``: ``(batch, ticks, units)`` for ``"all"``,
            ``(batch, units)`` for ``"final"``; only layers with neurons, empty for ``"none"``.
    """

    spikes: dict[str, torch.Tensor]
    potentials: dict[str, torch.Tensor]


def batch_generator(seed: int, first_image: int, device: torch.device | str = "cpu") -> torch.Generator:
    """The random generator of the batch starting at ``first_image``: the same numbers whatever ran before."""
    return torch.Generator(device=device).manual_seed((seed * 1_000_003 + first_image) % (2**63))


class SpikingNetwork:
    """A network built from its spec (``network.json``) and weights.

    Args:
        spec: The data of ``network.json`` (:func:`kaspix_snn.network.build_spec`).
        weights: ``{layer name: weight tensor}`` (:func:`kaspix_snn.network.make_weights`).
        device: Where to simulate.
    """

    def __init__(self, spec: dict[str, Any], weights: dict[str, torch.Tensor], device: torch.device | str = "cpu") -> None:
        self.spec = spec
        self.device = torch.device(device)
        self.layers = spec["layers"]
        self.weights = {name: w.to(self.device) for name, w in weights.items()}
        neuron = spec["neuron"]
        self.dt = neuron["dt_ms"] * 1e-3
        self.params = LIFParameters(
            tau_syn_inv=torch.as_tensor(1e3 / neuron["tau_syn_ms"]),
            tau_mem_inv=torch.as_tensor(1e3 / neuron["tau_mem_ms"]),
            v_leak=torch.as_tensor(float(neuron["v_leak"])),
            v_th=torch.as_tensor(float(neuron["v_th"])),
            v_reset=torch.as_tensor(float(neuron["v_reset"])),
            method="heaviside",  # no surrogate gradient needed: nothing is trained through the network
        )
        self.inhibition = float(spec["inhibition"]["strength"]) if spec["inhibition"]["enabled"] else 0.0
        self.input_spec = spec["input"]

    @property
    def layer_names(self) -> list[str]:
        return [layer["name"] for layer in self.layers]

    def neurons_per_image_tick(self) -> int:
        """LIF neurons stepped per image and tick (for neuron-ticks/s)."""
        return int(self.spec["neurons"])

    def _encode(self, images: torch.Tensor, tick: int, ticks: int, generator: torch.Generator | None) -> torch.Tensor:
        encoding, gain = self.input_spec["encoding"], float(self.input_spec["gain"])
        if encoding == "current":
            return images * gain
        if encoding == "poisson":
            f_max = float(self.input_spec["max_rate"]) / self.dt  # spike probability per tick = max_rate * intensity
            return poisson_encode_step(images, f_max=f_max, dt=self.dt, generator=generator) * gain
        # latency: one spike at tick round((1 - x) * (ticks - 1)) for every pixel brighter than zero
        fire_at = torch.round((1 - images) * (ticks - 1))
        return ((fire_at == tick) & (images > 0)).to(images.dtype) * gain

    def _project(self, layer: dict[str, Any], inputs: torch.Tensor) -> torch.Tensor:
        weight = self.weights[layer["name"]]
        if layer["type"] == "conv":
            if any(layer["pad_left_right_top_bottom"]):
                inputs = F.pad(inputs, layer["pad_left_right_top_bottom"])
            return F.conv2d(inputs, weight, stride=layer["stride"])
        return F.linear(inputs.flatten(1), weight)

    def _inhibit(self, spikes: torch.Tensor) -> torch.Tensor:
        """Lateral inhibition from last tick's spikes: the other filters at the same position (conv), all other units (dense)."""
        others = spikes.sum(dim=1, keepdim=True) - spikes
        return -self.inhibition * others

    def _front(
        self, images: torch.Tensor, tick: int, ticks: int, generator: torch.Generator | None, first: int
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The encoded input through the pool layers before the first neuron layer, and that layer's input current."""
        signal = self._encode(images, tick, ticks, generator)
        pooled = []
        for layer in self.layers[:first]:
            signal = F.max_pool2d(signal, layer["kernel_size"], layer["stride"])
            pooled.append(signal)
        return pooled, self._project(self.layers[first], signal)

    def run(
        self,
        images: torch.Tensor,
        ticks: int,
        *,
        generator: torch.Generator | None = None,
        record: list[str] | None = None,
        potentials: str = "final",
    ) -> BatchActivity:
        """Show ``images`` for ``ticks`` ticks from rest.

        Args:
            images: ``(batch, channels, height, width)`` intensities in ``[0, 1]``.
            ticks: Simulation ticks.
            generator: Random numbers of the Poisson encoding.
            record: Layer names to return (default: every layer).
            potentials: ``"all"``, ``"final"`` or ``"none"``.
        """
        record = self.layer_names if record is None else record
        first = next(index for index, layer in enumerate(self.layers) if layer["has_neurons"])
        constant = self.input_spec["encoding"] == "current"  # the same input, hence the same first current, every tick
        with torch.inference_mode():
            images = images.to(self.device, torch.float32)
            states: dict[str, LIFFeedForwardState] = {}
            last_spikes: dict[str, torch.Tensor] = {}
            spikes: dict[str, list[torch.Tensor]] = {name: [] for name in record}
            trace: dict[str, list[torch.Tensor]] = {}
            for tick in range(ticks):
                if tick == 0 or not constant:
                    pooled, first_current = self._front(images, tick, ticks, generator, first)
                for layer, signal in zip(self.layers[:first], pooled, strict=True):
                    if layer["name"] in spikes:
                        spikes[layer["name"]].append(signal.flatten(1) > 0)
                signal = pooled[-1] if pooled else images
                for layer in self.layers[first:]:
                    name = layer["name"]
                    if layer["type"] == "pool":
                        signal = F.max_pool2d(signal, layer["kernel_size"], layer["stride"])
                    else:
                        current = first_current if layer is self.layers[first] else self._project(layer, signal)
                        state = states.get(name)
                        if state is None:
                            state = LIFFeedForwardState(v=torch.full_like(current, self.params.v_leak.item()), i=torch.zeros_like(current))
                        elif self.inhibition:
                            current = current + self._inhibit(last_spikes[name])
                        signal, states[name] = lif_feed_forward_step(current, state, self.params, dt=self.dt)
                        last_spikes[name] = signal
                        if potentials == "all" and name in spikes:
                            trace.setdefault(name, []).append(states[name].v.flatten(1))
                    if name in spikes:
                        spikes[name].append(signal.flatten(1) > 0)
            result_potentials: dict[str, torch.Tensor] = {}
            if potentials == "all":
                result_potentials = {name: torch.stack(values, dim=1) for name, values in trace.items()}
            elif potentials == "final":
                result_potentials = {name: states[name].v.flatten(1) for name in record if name in states}
            return BatchActivity(
                spikes={name: torch.stack(values, dim=1) for name, values in spikes.items()},
                potentials=result_potentials,
            )
