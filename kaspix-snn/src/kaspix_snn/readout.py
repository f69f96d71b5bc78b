"""The readout: a standardizing input layer (the prepare step's scaler) in front of a registered classifier."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["Standardize", "mlp", "with_scaler"]


class Standardize(nn.Module):
    """``(x - mean) / scale`` in float32 (features are stored as float16).

    Args:
        mean: Per-feature mean of the training set.
        scale: Per-feature standard deviation (zero-variance features get 1).

    Shape:
        ``(batch, features)`` -> ``(batch, features)``.
    """

    def __init__(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean.float().clone())
        self.register_buffer("scale", scale.float().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() - self.mean) / self.scale


def mlp(input_dim: int, n_classes: int, hidden: Sequence[int] = (256,), dropout: float = 0.2) -> nn.Module:
    """A multilayer perceptron classifier with ReLU and dropout (``hidden=[]``: dropout then a linear layer).

    Args:
        input_dim: Features per sample.
        n_classes: Output logits.
        hidden: Widths of the hidden layers.
        dropout: Dropout before every linear layer.

    Shape:
        ``(batch, input_dim)`` -> ``(batch, n_classes)`` logits.
    """
    layers: list[nn.Module] = []
    width = input_dim
    for size in hidden:
        layers += [nn.Dropout(dropout), nn.Linear(width, size), nn.ReLU()]
        width = size
    layers += [nn.Dropout(dropout), nn.Linear(width, n_classes)]
    return nn.Sequential(*layers)


def with_scaler(classifier: nn.Module, mean: torch.Tensor, scale: torch.Tensor) -> nn.Sequential:
    """``classifier`` fed standardized features: ``model.pth`` is this module's state dict."""
    return nn.Sequential(Standardize(mean, scale), classifier)
