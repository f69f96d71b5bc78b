"""The signal factory: every recipe, seeding, levels, YAML configuration."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from kaspix_spice.config import Recipe, default_recipes
from kaspix_spice.excitation import make_clip
from pydantic import ValidationError

KINDS = ["pink", "white", "chirp", "steps", "impulses", "bursts", "silence"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_recipe_is_seeded_bounded_and_recorded(kind: str) -> None:
    recipes = [Recipe(kind=kind, level_db=(-12.0, -6.0))]
    x, info = make_clip(recipes, 4800, 48_000.0, seed=7)
    again, _ = make_clip(recipes, 4800, 48_000.0, seed=7)
    other, _ = make_clip(recipes, 4800, 48_000.0, seed=8)
    assert x.shape == (4800,) and np.all(np.isfinite(x))
    assert np.array_equal(x, again) and not np.array_equal(x, other)
    assert info["kind"] == kind and info["seed"] == 7 and -12.0 <= info["level_db"] <= -6.0
    assert np.max(np.abs(x)) <= 10 ** (-6 / 20) + 1e-9


def test_silence_recipe_has_silent_stretches() -> None:
    x, _ = make_clip([Recipe(kind="silence", params={"gap_fraction": 0.5, "segments": 1})], 4800, 48_000.0, seed=1)
    assert np.mean(x == 0.0) >= 0.45


def test_weights_choose_recipes() -> None:
    recipes = [Recipe(kind="pink", weight=9), Recipe(kind="chirp", weight=1)]
    kinds = [make_clip(recipes, 256, 48_000.0, seed=s)[1]["kind"] for s in range(200)]
    assert 0.8 < kinds.count("pink") / 200 < 0.97


def test_recipes_from_yaml_and_bad_params_rejected() -> None:
    data = yaml.safe_load("- {kind: chirp, weight: 2, params: {f_low: 50, f_high: 5000}}\n- {kind: impulses}\n")
    recipes = [Recipe.model_validate(r) for r in data]
    assert recipes[0].params["f_high"] == 5000
    with pytest.raises(ValidationError, match="unknown params"):
        Recipe(kind="pink", params={"f_hi": 1.0})
    assert {r.kind for r in default_recipes()} == set(KINDS)


def test_fade_in_starts_from_rest_and_is_recorded() -> None:
    recipes = [Recipe(kind="pink", level_db=(-6.0, -6.0))]
    plain, _ = make_clip(recipes, 4800, 48_000.0, seed=3)
    faded, info = make_clip(recipes, 4800, 48_000.0, seed=3, fade_in_ms=5.0)
    assert faded[0] == 0.0 and info["fade_in_ms"] == 5.0
    assert np.all(np.abs(faded[:240]) <= np.abs(plain[:240]) + 1e-12)
    assert np.array_equal(faded[240:], plain[240:])


def test_a_share_of_clips_fades_in_and_the_clip_is_the_same_either_way() -> None:
    recipes = [Recipe(kind="pink")]
    infos = [make_clip(recipes, 480, 48_000.0, seed=seed, fade_in_ms=5.0, fade_in_share=0.5)[1] for seed in range(200)]
    faded = sum(info["fade_in_ms"] == 5.0 for info in infos)
    assert 70 < faded < 130 and all(info["fade_in_ms"] in (0.0, 5.0) for info in infos)
    always, _ = make_clip(recipes, 4800, 48_000.0, seed=7, fade_in_ms=5.0, fade_in_share=1.0)
    never, info = make_clip(recipes, 4800, 48_000.0, seed=7, fade_in_ms=5.0, fade_in_share=0.0)
    assert always[0] == 0.0 and never[0] != 0.0 and info["fade_in_ms"] == 0.0
    assert np.array_equal(always[240:], never[240:])


@pytest.mark.parametrize("kind", ["pink", "white", "chirp", "steps", "silence"])
def test_clips_start_at_any_level_as_audio_cut_anywhere_does(kind: str) -> None:
    """Without a fade-in, a clip's first sample is typically far from 0 V, so the start from an operating point is exercised."""
    starts = [abs(make_clip([Recipe(kind=kind, level_db=(0.0, 0.0))], 4800, 48_000.0, seed=s)[0][0]) for s in range(40)]
    assert np.median(starts) > 0.1
