"""The models: the set-decoder model and the seed's fixed 2-pole/2-zero decoder (the baseline).

Both encode a circuit's frequency response (:func:`kaspix_circuitgen.data.response_features`) to a
latent vector and classify its topology from it. Then:

* :class:`SetDecoderModel` decodes the component values of a topology (log scale, conditioned on
  the topology) and the pole and zero *sets*: :data:`~kaspix_circuitgen.elements.SLOTS` slots each,
  every slot with kind logits (none, real, pair, origin) and ``(u, zeta)``
  (:mod:`kaspix_circuitgen.elements`), matched to the true set by the Hungarian algorithm
  (:class:`kaspix_circuitgen.losses.SetLoss`). A second encoder reads a *spec* (filter type,
  frequency, Q) into the same latent space, so that the same decoders propose a circuit for a spec.
* :class:`FixedPoleZeroBaseline` is the post-mortem's decoder: it always emits exactly 2 poles and
  2 zeros as ``(re, im)`` in units of 2 pi 1 kHz, trained with a Chamfer loss.
"""

from __future__ import annotations

import torch
from torch import nn

from kaspix_circuitgen.elements import SLOTS

__all__ = ["FixedPoleZeroBaseline", "SetDecoderModel", "fixed_pz_baseline", "set_decoder"]


def _mlp(inputs: int, hidden: int, outputs: int, layers: int = 2) -> nn.Sequential:
    parts: list[nn.Module] = [nn.Linear(inputs, hidden), nn.GELU()]
    for _ in range(layers - 1):
        parts += [nn.Linear(hidden, hidden), nn.GELU()]
    parts.append(nn.Linear(hidden, outputs))
    return nn.Sequential(*parts)


class _SetHead(nn.Module):
    """``slots`` learned queries, each decoded with the latent into kind logits (4) and ``(u, zeta)``.

    The first layer is split into a latent part (once per circuit) and a query part (once per slot).
    """

    def __init__(self, latent: int, hidden: int, slots: int) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(slots, hidden) * 0.5)
        self.project = nn.Linear(latent, hidden)
        self.net = nn.Sequential(nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 6))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(self.project(z)[:, None, :] + self.queries[None])
        return out[..., :4], out[..., 4:]


class SetDecoderModel(nn.Module):
    """Encoder to a latent; topology, components and pole/zero sets decoded from it.

    Args:
        n_features: Response features per circuit.
        n_spec: Spec features (type one-hot, frequency, Q, has-Q).
        n_families: Topology classes.
        max_knobs: Component slots (the largest family's knob count).
        latent, hidden: Widths.
        slots: Elements per pole or zero set.

    Call: ``model(features, spec, family)`` with ``family`` the topology whose components to decode
    (the true one in training); ``None`` decodes those of the predicted topology. Returns a dict of
    ``topology`` ``(B, n_families)``, ``components`` ``(B, max_knobs)`` (0..1 within each knob's log
    range), ``pole_logits``/``zero_logits`` ``(B, slots, 4)``, ``pole_params``/``zero_params``
    ``(B, slots, 2)``, and the spec branch's ``spec_topology`` and ``spec_components``.
    """

    def __init__(
        self, n_features: int, n_spec: int, n_families: int, max_knobs: int, latent: int = 128, hidden: int = 256, slots: int = SLOTS
    ) -> None:
        super().__init__()
        self.n_families = n_families
        self.encoder = _mlp(n_features, hidden, latent, layers=3)
        self.spec_encoder = _mlp(n_spec, hidden, latent, layers=2)
        self.topology = _mlp(latent, hidden, n_families, layers=1)
        self.components = _mlp(latent + n_families, hidden, max_knobs, layers=2)
        self.poles = _SetHead(latent, hidden // 2, slots)
        self.zeros = _SetHead(latent, hidden // 2, slots)

    def decode_components(self, z: torch.Tensor, family: torch.Tensor) -> torch.Tensor:
        """Component values (0..1 log coordinates) of topology ``family`` for latents ``z``."""
        one_hot = nn.functional.one_hot(family, self.n_families).to(z.dtype)
        return self.components(torch.cat([z, one_hot], dim=-1))

    def propose(self, spec: torch.Tensor, family: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For specs: the topology logits, and the components (0..1 log coordinates) of topology ``family``."""
        zs = self.spec_encoder(spec)
        return self.topology(zs), self.decode_components(zs, family)

    def forward(self, features: torch.Tensor, spec: torch.Tensor, family: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        z = self.encoder(features)
        topology = self.topology(z)
        chosen = topology.argmax(-1) if family is None else family
        pole_logits, pole_params = self.poles(z)
        zero_logits, zero_params = self.zeros(z)
        zs = self.spec_encoder(spec)
        spec_topology = self.topology(zs)
        spec_chosen = spec_topology.argmax(-1) if family is None else family
        return {
            "topology": topology,
            "components": self.decode_components(z, chosen),
            "pole_logits": pole_logits,
            "pole_params": pole_params,
            "zero_logits": zero_logits,
            "zero_params": zero_params,
            "spec_topology": spec_topology,
            "spec_components": self.decode_components(zs, spec_chosen),
        }


class FixedPoleZeroBaseline(nn.Module):
    """The post-mortem's decoder: topology logits, and always 2 poles and 2 zeros ``(B, 2, 2)``.

    Call: ``model(features)``; returns ``topology``, ``poles`` and ``zeros`` (``(re, im)`` / 2 pi 1 kHz).
    """

    def __init__(self, n_features: int, n_families: int, latent: int = 128, hidden: int = 256) -> None:
        super().__init__()
        self.encoder = _mlp(n_features, hidden, latent, layers=3)
        self.topology = _mlp(latent, hidden, n_families, layers=1)
        self.pole_decoder = _mlp(latent, hidden, 4, layers=1)
        self.zero_decoder = _mlp(latent, hidden, 4, layers=1)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encoder(features)
        batch = z.shape[0]
        return {
            "topology": self.topology(z),
            "poles": self.pole_decoder(z).view(batch, 2, 2),  # always 2 poles (the seed's fixed structure)
            "zeros": self.zero_decoder(z).view(batch, 2, 2),  # always 2 zeros
        }


def set_decoder(**kwargs: int) -> SetDecoderModel:
    """Factory of :class:`SetDecoderModel` (the registered ``set_decoder`` model)."""
    return SetDecoderModel(**kwargs)


def fixed_pz_baseline(**kwargs: int) -> FixedPoleZeroBaseline:
    """Factory of :class:`FixedPoleZeroBaseline` (the registered ``fixed_pz_baseline`` model)."""
    return FixedPoleZeroBaseline(**kwargs)
