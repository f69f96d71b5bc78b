"""Step 1's science: the network's topology (``network.json``) and its seeded random weights.

The spec is plain JSON: input shape and encoding, LIF parameters, lateral inhibition, and per
layer its type, shapes and neuron count. The weights go to ``network_weights.pt`` beside it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from kaspix import KaspixError

from kaspix_snn.config import ConvLayer, DenseLayer, NetworkConfig, PoolLayer, layer_names

if TYPE_CHECKING:
    import torch

__all__ = ["SPEC_VERSION", "build_spec", "make_weights", "neuron_layers"]

SPEC_VERSION = 1


def _conv_out(size: int, kernel: int, stride: int, padding: str) -> int:
    if padding == "same":
        return math.ceil(size / stride)
    return (size - kernel) // stride + 1


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) zero padding that makes a conv's output ceil(size / stride) long (TensorFlow's rule)."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def build_spec(network: NetworkConfig, input_shape: tuple[int, int, int], *, name: str, seed: int) -> dict[str, Any]:
    """The network as JSON-ready data: every layer's shapes, neuron counts and parameters.

    Args:
        network: The ``network`` config section.
        input_shape: ``(channels, height, width)`` of one image.
        name: The experiment name.
        seed: Seeds the weights (:func:`make_weights`).

    Raises:
        KaspixError: a layer that does not fit the shape reaching it (naming ``network.layers.N``).
    """
    shape = list(input_shape)
    layers = []
    for index, (layer, layer_name) in enumerate(zip(network.layers, layer_names(network.layers), strict=True)):
        where = f"network.layers.{index} ({layer_name})"
        entry: dict[str, Any] = {"name": layer_name, "type": layer.layer_type, "in_shape": list(shape)}
        if isinstance(layer, ConvLayer):
            if len(shape) != 3:
                raise KaspixError("a conv layer cannot follow a dense layer", where=where, hint="put conv and pool layers first")
            channels, height, width = shape
            if layer.padding == "valid" and (layer.kernel_size > height or layer.kernel_size > width):
                raise KaspixError(
                    f"kernel_size {layer.kernel_size} is larger than the {height}x{width} input",
                    where=where,
                    hint="use padding: same, or a smaller kernel_size",
                )
            filters = layer.filters or channels * layer.kernel_size**2
            shape = [
                filters,
                _conv_out(height, layer.kernel_size, layer.stride, layer.padding),
                _conv_out(width, layer.kernel_size, layer.stride, layer.padding),
            ]
            pad = (
                [*_same_padding(width, layer.kernel_size, layer.stride), *_same_padding(height, layer.kernel_size, layer.stride)]
                if layer.padding == "same"
                else [0, 0, 0, 0]
            )
            entry.update(
                filters=filters,
                complete_basis=layer.filters == 0,
                kernel_size=layer.kernel_size,
                stride=layer.stride,
                padding=layer.padding,
                pad_left_right_top_bottom=pad,
                weight_scale=layer.weight_scale,
                weight_shape=[filters, channels, layer.kernel_size, layer.kernel_size],
            )
        elif isinstance(layer, PoolLayer):
            if len(shape) != 3:
                raise KaspixError("a pool layer cannot follow a dense layer", where=where)
            stride = layer.stride or layer.kernel_size
            channels, height, width = shape
            if layer.kernel_size > height or layer.kernel_size > width:
                raise KaspixError(f"pool kernel_size {layer.kernel_size} is larger than the {height}x{width} input", where=where)
            shape = [channels, (height - layer.kernel_size) // stride + 1, (width - layer.kernel_size) // stride + 1]
            entry.update(kernel_size=layer.kernel_size, stride=stride, mode="max")
        else:
            assert isinstance(layer, DenseLayer)
            fan_in = math.prod(shape)
            shape = [layer.units]
            entry.update(units=layer.units, weight_scale=layer.weight_scale, weight_shape=[layer.units, fan_in])
        entry["out_shape"] = list(shape)
        entry["units"] = math.prod(shape)
        entry["has_neurons"] = layer.layer_type != "pool"
        layers.append(entry)
    neuron = network.neuron
    return {
        "spec_version": SPEC_VERSION,
        "name": name,
        "seed": seed,
        "input": {
            "shape": list(input_shape),
            "encoding": network.encoding,
            "gain": network.input_gain,
            "max_rate": network.max_rate,
        },
        "neuron": {
            "model": "norse LIF (current-based synapses), Euler steps",
            "tau_syn_ms": neuron.tau_syn_ms,
            "tau_mem_ms": neuron.tau_mem_ms,
            "v_th": neuron.v_th,
            "v_reset": neuron.v_reset,
            "v_leak": neuron.v_leak,
            "dt_ms": neuron.dt_ms,
        },
        "inhibition": {"enabled": network.inhibitory_signals, "strength": network.inhibition_strength},
        "layers": layers,
        "neurons": sum(layer["units"] for layer in layers if layer["has_neurons"]),
        "synapses": sum(_synapses(layer) for layer in layers),
        "weights_file": "network_weights.pt",
    }


def _synapses(layer: dict[str, Any]) -> int:
    if layer["type"] == "conv":
        return layer["units"] * math.prod(layer["weight_shape"][1:])
    if layer["type"] == "dense":
        return math.prod(layer["weight_shape"])
    return 0


def neuron_layers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The layers with neurons of their own (conv and dense)."""
    return [layer for layer in spec["layers"] if layer["has_neurons"]]


def make_weights(spec: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Seeded random weights for every conv and dense layer, keyed by layer name.

    Conv filters and dense rows are random unit vectors times ``weight_scale``; a conv layer
    with ``filters: 0`` gets a random orthonormal basis of its input patch instead.
    """
    import torch

    generator = torch.Generator().manual_seed(spec["seed"])
    weights = {}
    for layer in neuron_layers(spec):
        rows, fan_in = layer["weight_shape"][0], math.prod(layer["weight_shape"][1:])
        matrix = torch.randn(rows, fan_in, generator=generator, dtype=torch.float64)
        if layer.get("complete_basis"):
            matrix = torch.linalg.qr(matrix)[0]  # square: an orthonormal basis
        matrix = matrix / matrix.norm(dim=1, keepdim=True)
        weights[layer["name"]] = (matrix * layer["weight_scale"]).to(torch.float32).reshape(layer["weight_shape"])
    return weights
