"""The training helper on a real (tiny) torch model: it learns, stops early, and resumes."""

import itertools
import json
import math
import time

import pytest

pytestmark = pytest.mark.integration  # torch is kaspix-core[train], not installed with the core alone
torch = pytest.importorskip("torch")

from kaspix.errors import KaspixError  # noqa: E402
from kaspix.training import fit, seed_everything  # noqa: E402


def linear_batches(n_batches: int = 8, seed: int = 0) -> list[tuple]:
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(n_batches):
        x = torch.randn(16, 3, generator=generator)
        y = x @ torch.tensor([[2.0], [-1.0], [0.5]]) + 0.3
        batches.append((x, y))
    return batches


def test_fit_learns_a_linear_map(tmp_path) -> None:
    seed_everything(0)
    model = torch.nn.Linear(3, 1)
    result = fit(
        model,
        torch.nn.functional.mse_loss,
        linear_batches(),
        val_batches=linear_batches(2, seed=1),
        epochs=60,
        lr=0.05,
        seed=0,
        checkpoint_dir=tmp_path,
    )
    assert result.best_val_loss < 1e-3
    assert torch.allclose(model.weight.detach(), torch.tensor([[2.0, -1.0, 0.5]]), atol=0.02)
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "last.pt").is_file()
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history) == result.epochs_run and history[0]["train_loss"] > history[-1]["train_loss"]
    saved = torch.load(tmp_path / "best.pt", weights_only=True)
    assert set(saved) == {"weight", "bias"}


def test_early_stopping_keeps_the_best_weights() -> None:
    model = torch.nn.Linear(3, 1)
    result = fit(model, torch.nn.functional.mse_loss, linear_batches(), epochs=500, lr=0.5, patience=3, seed=0)
    assert result.stopped_early
    assert result.epochs_run < 500
    assert result.best_epoch == result.epochs_run - 3


def test_training_resumes_from_the_last_checkpoint(tmp_path) -> None:
    first = fit(torch.nn.Linear(3, 1), torch.nn.functional.mse_loss, linear_batches(), epochs=3, seed=0, checkpoint_dir=tmp_path)
    assert first.epochs_run == 3
    resumed = fit(torch.nn.Linear(3, 1), torch.nn.functional.mse_loss, linear_batches(), epochs=5, seed=0, checkpoint_dir=tmp_path)
    assert resumed.epochs_run == 5
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4, 5]


def test_loss_that_always_diverges_is_a_clear_error_after_recoveries() -> None:
    model = torch.nn.Linear(3, 1)
    with pytest.raises(KaspixError, match=r"training diverged in epoch 1 \(loss inf\) 4 times in a row"):
        fit(model, lambda p, t: (p - t).abs().sum() * math.inf, linear_batches(), epochs=2)


def test_non_finite_loss_falls_back_to_the_last_good_weights_and_halves_the_lr() -> None:
    calls = itertools.count()

    def flaky_loss(prediction, target):
        loss = torch.nn.functional.mse_loss(prediction, target)
        return loss * math.nan if next(calls) == 20 else loss  # one NaN in epoch 3 (8 batches an epoch)

    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    seen: list[tuple[int, float]] = []

    def watch(epoch, m):
        seen.append((epoch, optimizer.param_groups[0]["lr"]))
        return {"weight_norm": float(m.weight.detach().norm())}

    result = fit(model, flaky_loss, linear_batches(), epochs=4, optimizer=optimizer, seed=0, on_epoch_end=watch)
    assert [epoch for epoch, _ in seen] == [1, 2, 3, 4]
    assert [lr for _, lr in seen] == [0.05, 0.05, 0.025, 0.025]
    assert all(math.isfinite(p.detach().sum()) for p in model.parameters())
    assert all("weight_norm" in record for record in result.history)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


@pytest.mark.parametrize(
    ("spike_at", "epochs", "rates"),
    [
        (28, 5, [0.01, 0.01, 0.01, 0.005, 0.005]),  # batch 5 of epoch 4 (8 batches an epoch): against the running median
        (2, 2, [0.005, 0.005]),  # batch 3 of epoch 1: against the largest loss so far, from the starting weights
    ],
)
def test_loss_spike_falls_back_to_the_last_good_weights_and_halves_the_lr(spike_at: int, epochs: int, rates: list[float]) -> None:
    calls = itertools.count()

    def spiking_loss(prediction, target):
        loss = torch.nn.functional.mse_loss(prediction, target)
        return loss * 1e4 if next(calls) == spike_at else loss

    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    seen: list[float] = []
    result = fit(
        model,
        spiking_loss,
        linear_batches(),
        epochs=epochs,
        optimizer=optimizer,
        seed=0,
        spike_factor=20.0,
        on_epoch_end=lambda epoch, m: seen.append(optimizer.param_groups[0]["lr"]),
    )
    assert seen == rates  # the spiking epoch was run again from the last good weights at half the rate
    assert max(record["train_loss"] for record in result.history) < 100


def test_a_learning_rate_that_makes_training_diverge_is_caught_and_lowered_until_it_holds() -> None:
    """Plain SGD at a rate above 2 / curvature blows up geometrically; the guard halves the rate until it holds."""
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)

    def raise_the_rate(epoch, m):
        if epoch == 2:
            optimizer.param_groups[0]["lr"] = 1.6

    result = fit(
        model,
        torch.nn.functional.mse_loss,
        linear_batches(),
        epochs=8,
        optimizer=optimizer,
        seed=0,
        spike_factor=10.0,
        on_epoch_end=raise_the_rate,
    )
    assert optimizer.param_groups[0]["lr"] < 1.6
    assert all(math.isfinite(p.detach().sum()) for p in model.parameters())
    assert result.history[-1]["train_loss"] < 1e-3


def test_without_spike_factor_only_non_finite_losses_count() -> None:
    calls = itertools.count()

    def spiking_loss(prediction, target):
        loss = torch.nn.functional.mse_loss(prediction, target)
        return loss * 1e4 if next(calls) == 28 else loss

    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    fit(model, spiking_loss, linear_batches(), epochs=5, optimizer=optimizer, seed=0)
    assert optimizer.param_groups[0]["lr"] == 0.01


def test_fit_inside_a_pipeline_writes_checkpoints_and_metrics(tmp_path) -> None:
    import types

    from kaspix import Config, Pipeline, Step, hookimpl
    from kaspix.testing import plugin_host, run_pipeline

    class TrainConfig(Config):
        epochs: int = 4

    def train(ctx) -> None:
        fit(torch.nn.Linear(3, 1), torch.nn.functional.mse_loss, linear_batches(), epochs=ctx.config.epochs, seed=0, ctx=ctx)

    @hookimpl
    def register_pipelines(register):
        register(Pipeline("train-linear", TrainConfig, (Step("train", train),)))

    with plugin_host(types.SimpleNamespace(register_pipelines=register_pipelines), name="lin") as host:
        result = run_pipeline(host, "train-linear", tmp_path)
    assert result.metrics["train/epochs"] == 4
    assert result.metrics["train/best_val_loss"] > 0
    assert (result.run.artifacts / "checkpoints" / "best.pt").is_file()
    assert "epoch 4: train loss" in result.run.log_path.read_text()


def test_cosine_schedule_anneals_the_learning_rate_to_zero() -> None:
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    seen: list[float] = []

    def loss(prediction, target):
        seen.append(optimizer.param_groups[0]["lr"])
        return torch.nn.functional.mse_loss(prediction, target)

    fit(model, loss, linear_batches(4), epochs=5, optimizer=optimizer, schedule="cosine", seed=0)
    assert seen[0] == pytest.approx(0.1)
    assert seen[10] == pytest.approx(0.05)
    assert all(a >= b for a, b in itertools.pairwise(seen))
    assert seen[-1] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 19 / 20)))


def test_time_budget_stops_training_and_counts_across_resumes(tmp_path) -> None:
    def slow_loss(prediction, target):
        time.sleep(0.02)
        return torch.nn.functional.mse_loss(prediction, target)

    first = fit(torch.nn.Linear(3, 1), slow_loss, linear_batches(), epochs=100, max_seconds=0.3, seed=0, checkpoint_dir=tmp_path)
    assert 1 <= first.epochs_run < 100
    resumed = fit(torch.nn.Linear(3, 1), slow_loss, linear_batches(), epochs=100, max_seconds=0.3, seed=0, checkpoint_dir=tmp_path)
    assert resumed.epochs_run == first.epochs_run
    assert first.time_capped and resumed.time_capped


def test_the_time_cap_does_not_shape_the_schedule() -> None:
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    seen: list[float] = []

    def slow_loss(prediction, target):
        time.sleep(0.01)
        seen.append(optimizer.param_groups[0]["lr"])
        return torch.nn.functional.mse_loss(prediction, target)

    result = fit(model, slow_loss, linear_batches(4), epochs=5, optimizer=optimizer, schedule="cosine", max_seconds=60, seed=0)
    assert not result.time_capped
    assert seen[10] == pytest.approx(0.05)  # by steps: half way through 20 steps, however long they took


def test_unknown_schedule_is_a_clear_error() -> None:
    with pytest.raises(KaspixError, match="unknown learning-rate schedule"):
        fit(torch.nn.Linear(3, 1), torch.nn.functional.mse_loss, linear_batches(), schedule="linear")
