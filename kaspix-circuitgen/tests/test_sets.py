"""Set representation, NaN-safe Hungarian matching, the DETR-style set loss and the seed's Chamfer loss."""

from __future__ import annotations

import numpy as np
import torch
from kaspix_circuitgen.batches import Bundle
from kaspix_circuitgen.elements import NONE, OMEGA_REF, ORIGIN, PAIR, REAL, root_count, roots_from_elements, to_elements
from kaspix_circuitgen.losses import chamfer_distance, hungarian_set_loss
from kaspix_circuitgen.matching import assign, match_batch, root_errors


def test_roots_round_trip_through_elements() -> None:
    w = OMEGA_REF
    roots = np.array([[-2 * w, 0, complex(-0.5 * w, -w), complex(-0.5 * w, w)], [np.nan] * 4], dtype=complex)
    elements = to_elements(roots)
    assert elements[0, :, 0].tolist() == [REAL, PAIR, ORIGIN, NONE]
    np.testing.assert_allclose(elements[0, 1, 2], 0.5 / np.sqrt(1.25))  # zeta = -Re / |p|
    assert root_count(elements).tolist() == [4, 0]
    back = roots_from_elements(elements)
    np.testing.assert_allclose(np.sort_complex(back[0]), np.sort_complex(roots[0]), rtol=1e-12, atol=1e-9)
    assert len(back[1]) == 0


def test_assign_survives_nan_inf_and_empty_sides() -> None:
    cost = np.array([[np.nan, 1.0], [np.inf, 2.0], [0.5, -np.inf]])
    rows, cols = assign(cost)
    assert len(rows) == 2 and np.all(np.isfinite(cost[rows, cols]) | np.isinf(cost[rows, cols]))
    assert set(cols.tolist()) == {0, 1}
    for empty in (np.zeros((3, 0)), np.zeros((0, 3))):
        rows, cols = assign(empty)
        assert rows.size == cols.size == 0
    b, _s, t = match_batch(np.full((2, 4, 4), np.nan), np.array([0, 2]))
    assert b.tolist() == [1, 1] and sorted(t.tolist()) == [0, 1]


def test_root_errors_match_the_nearest_and_measure_origin_roots_by_scale() -> None:
    errors = root_errors(np.array([1.01 + 0j, -3.0, 0.02]), np.array([-3.0 + 0j, 1.0, 0.0]), scale=2.0)
    np.testing.assert_allclose(np.sort(errors), [0.0, 0.01, 0.01], atol=1e-12)
    assert root_errors(np.array([]), np.array([1.0]), 1.0).size == 0


def _elements(rows: list[list[tuple[int, float, float]]]) -> torch.Tensor:
    out = torch.zeros(len(rows), 4, 3)
    for i, row in enumerate(rows):
        for j, element in enumerate(row):
            out[i, j] = torch.tensor(element)
    return out


def test_set_loss_handles_empty_sets_and_nan_free_matching() -> None:
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 4, requires_grad=True)
    params = torch.randn(3, 4, 2, requires_grad=True)
    target = _elements([[], [(REAL, 0.3, 1.0)], [(PAIR, -0.2, 0.1), (ORIGIN, 0.0, 0.0)]])
    loss = hungarian_set_loss(logits, params, target)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all() and torch.isfinite(params.grad).all()
    # an empty target set: every slot must learn "none", and nothing else pulls on it
    assert params.grad[0].abs().sum() == 0 and logits.grad[0, :, NONE].lt(0).all()


def test_set_loss_is_zero_cost_for_a_perfect_prediction_in_any_slot_order() -> None:
    target = _elements([[(PAIR, -0.2, 0.1), (ORIGIN, 0.0, 0.0)]])
    logits = torch.full((1, 4, 4), -20.0)
    params = torch.zeros(1, 4, 2)
    logits[0, 3, PAIR], params[0, 3] = 20.0, torch.tensor([-0.2, 0.1])  # the pair in the last slot
    logits[0, 0, ORIGIN] = 20.0
    logits[0, 1:3, NONE] = 20.0
    assert hungarian_set_loss(logits, params, target) < 1e-6


def test_chamfer_of_the_seed_penalizes_every_prediction_of_an_empty_set() -> None:
    predicted = torch.tensor([[[1.0, 0.0], [0.0, 2.0]], [[-1.0, 0.0], [-1.0, 0.0]]])
    true = torch.tensor([[[np.nan, np.nan]], [[-1.0, 0.0]]])
    distance = chamfer_distance(predicted, true, torch.tensor([0, 1]))
    np.testing.assert_allclose(distance.numpy(), [5.0, 0.0])


def test_bundle_moves_and_indexes_as_one() -> None:
    bundle = Bundle(a=torch.arange(5), b=torch.ones(5, 2))
    part = bundle.rows(torch.tensor([0, 3])).to("cpu")
    assert len(part) == 2 and part["a"].tolist() == [0, 3]
