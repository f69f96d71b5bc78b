"""A small, complete fit loop for plugins: seeding, device choice, progress, checkpoints, early stopping, divergence guards.

Needs torch (``pip install "kaspix-core[train]"``); torch is imported when these functions run,
never when kaspix itself is imported.

Batches are tuples ``(input_1, ..., input_k, target)``: the model is called as
``model(input_1, ..., input_k)`` and the loss as ``loss_fn(prediction, target)``.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kaspix.atomic import atomic_write_json
from kaspix.errors import KaspixError
from kaspix.progress import track
from kaspix.seeding import seed_everything

if TYPE_CHECKING:
    import torch

    from kaspix.context import RunContext

__all__ = [
    "BEST_FILE",
    "CHECKPOINT_FILE",
    "HISTORY_FILE",
    "MAX_RECOVERIES",
    "SPIKE_MIN_HISTORY",
    "SPIKE_WINDOW",
    "FitResult",
    "choose_device",
    "fit",
    "seed_everything",
    "to_device",
]

CHECKPOINT_FILE = "last.pt"
BEST_FILE = "best.pt"
HISTORY_FILE = "history.json"

#: How many times in a row :func:`fit` recovers from a non-finite or spiking loss before giving up.
MAX_RECOVERIES = 3
#: The spike guard compares a batch's loss with the median of this many preceding batches' losses ...
SPIKE_WINDOW = 32
#: ... once it has seen at least this many; before that, with the largest loss seen so far (from the
#: second batch on: the first batch's loss, of the starting weights, is the first reference).
SPIKE_MIN_HISTORY = 8


class _NonFinite(Exception):
    """The loss or the gradient stopped being finite, or the loss spiked: training diverged."""


class _SpikeGuard:
    """Raises :class:`_NonFinite` when a training loss exceeds ``factor`` times the running median.

    Until :data:`SPIKE_MIN_HISTORY` losses are recorded, the reference is the largest loss so far,
    a more lenient level than a median of few values, so a divergence in the first batches of a run
    is caught too without mistaking the early fall of the loss for noise.
    """

    def __init__(self, factor: float | None) -> None:
        self.factor = factor
        self.recent: deque[float] = deque(maxlen=SPIKE_WINDOW)

    def check(self, loss: float) -> None:
        """Record ``loss``, or raise if it is a spike (it is then not recorded)."""
        if self.factor is not None and self.recent:
            settled = len(self.recent) >= SPIKE_MIN_HISTORY
            level = statistics.median(self.recent) if settled else max(self.recent)
            if loss > self.factor * level:
                reference = "the running median" if settled else f"the largest of the first {len(self.recent)} losses"
                raise _NonFinite(f"loss {loss:.4g} spiked to {loss / level:.3g}x {reference}, {level:.4g}")
        self.recent.append(loss)


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise KaspixError("training needs torch", hint='pip install "kaspix-core[train]"') from None
    return torch


def choose_device(preference: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple MPS, then CPU; any other value is passed to ``torch.device``."""
    torch = _torch()
    if preference != "auto":
        device = torch.device(preference)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise KaspixError(f"device {preference!r} asked for, but CUDA is not available", hint="use device: auto or cpu")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def to_device(obj: Any, device: torch.device) -> Any:
    """Move tensors (also inside tuples, lists and dicts) to ``device``."""
    if hasattr(obj, "to") and callable(obj.to):
        return obj.to(device)
    if isinstance(obj, (tuple, list)):
        return type(obj)(to_device(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    return obj


@dataclass
class FitResult:
    """What :func:`fit` did."""

    epochs_run: int
    best_epoch: int
    best_val_loss: float
    stopped_early: bool
    history: list[dict[str, float]] = field(default_factory=list)
    best_checkpoint: Path | None = None
    seconds: float = 0.0
    time_capped: bool = False


def fit(
    model: torch.nn.Module,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    train_batches: Iterable[Sequence[Any]],
    *,
    val_batches: Iterable[Sequence[Any]] | None = None,
    epochs: int = 10,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    device: str = "auto",
    seed: int | None = None,
    patience: int | None = None,
    grad_clip: float | None = None,
    schedule: Literal["constant", "cosine"] = "constant",
    max_seconds: float | None = None,
    spike_factor: float | None = None,
    checkpoint_dir: str | Path | None = None,
    ctx: RunContext[Any] | None = None,
    metrics_prefix: str = "train",
    on_epoch_end: Callable[[int, torch.nn.Module], dict[str, float] | None] | None = None,
) -> FitResult:
    """Train ``model`` and keep its best weights (lowest validation loss, else training loss).

    Args:
        model: The module to train; on return it holds the best weights.
        loss_fn: ``loss_fn(prediction, target)`` returning a scalar tensor.
        train_batches: Re-iterable batches (a ``DataLoader`` or a list).
        val_batches: Optional validation batches; they drive early stopping and the best checkpoint.
        epochs: Maximum number of epochs.
        optimizer: Defaults to Adam with ``lr``.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        seed: Seeds every generator before training when given.
        patience: Stop after this many epochs without improvement.
        grad_clip: Clip the gradient norm to this value.
        schedule: ``"cosine"`` anneals the learning rate from ``lr`` towards zero by steps over
            ``epochs`` epochs (``train_batches`` needs ``__len__``; without it the rate stays
            constant).
        max_seconds: A safety cap on training time: no epoch starts after it is spent (time spent
            before an interruption counts when training resumes). It does not shape the schedule:
            a run that hits it stops before its schedule ends, which is logged as a warning and
            reported as ``FitResult.time_capped``, and its result depends on the machine's speed.
        spike_factor: Treat a training batch whose loss exceeds ``spike_factor`` times the median
            loss of the preceding :data:`SPIKE_WINDOW` batches as a divergence (see below); ``None``
            (the default) checks only for non-finite values. 10 to 100 suits losses whose batches
            vary by a few times.
        checkpoint_dir: Where ``last.pt``, ``best.pt`` and ``history.json`` go; defaults to
            ``<run>/artifacts/checkpoints`` with a ``ctx``. A ``last.pt`` found there is resumed from,
            so an interrupted pipeline continues training where it stopped.
        ctx: The run context: progress and log lines, and final metrics into ``metrics.json``.
        metrics_prefix: Prefix of the metrics written to the run.
        on_epoch_end: Called as ``on_epoch_end(epoch, model)`` after each epoch (before its
            checkpoint is written); numbers it returns are added to that epoch's history record.
            Use it to listen to or measure the model as it trains.

    A loss or gradient that stops being finite, or a loss spike (``spike_factor``), does not end
    training: the weights and optimizer state of the last good epoch are restored, the learning
    rate is halved (logged as a warning) and the epoch runs again, up to :data:`MAX_RECOVERIES`
    times in a row; then a :class:`KaspixError` is raised.

    Returns:
        A :class:`FitResult`; the model holds the best weights.
    """
    torch = _torch()
    if epochs < 1:
        raise KaspixError(f"epochs must be at least 1, got {epochs}")
    if schedule not in ("constant", "cosine"):
        raise KaspixError(f"unknown learning-rate schedule {schedule!r}", hint="use 'constant' or 'cosine'")
    if seed is not None:
        seed_everything(seed)
    dev = choose_device(device)
    model.to(dev)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    if checkpoint_dir is None and ctx is not None:
        checkpoint_dir = ctx.artifact_dir("checkpoints")
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    state = _TrainingState()
    if folder is not None and (folder / CHECKPOINT_FILE).is_file():
        state = _TrainingState.load(folder / CHECKPOINT_FILE, model, optimizer, dev)
        if ctx is not None:
            ctx.log.info("resuming training after epoch %d from %s", state.epoch, folder / CHECKPOINT_FILE)
    best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if folder is not None and (folder / BEST_FILE).is_file():
        best_weights = torch.load(folder / BEST_FILE, map_location=dev, weights_only=True)
    start = time.monotonic()
    stopped_early = False
    clock = _Clock(state.seconds, max_seconds)
    steps_per_epoch = len(train_batches) if hasattr(train_batches, "__len__") else None
    set_lr = _cosine(optimizer, lr, epochs * steps_per_epoch if steps_per_epoch else None, state) if schedule == "cosine" else None
    epoch_range = range(state.epoch + 1, epochs + 1)
    guard = _SpikeGuard(spike_factor)
    good = _snapshot(model, optimizer)
    good_guard, good_steps = list(guard.recent), state.steps
    recoveries = 0
    time_capped = False
    epoch_iter = iter(track(epoch_range, description="training", total=len(epoch_range), logger=ctx.log if ctx else None))
    epoch = next(epoch_iter, None)
    while epoch is not None:
        if clock.spent():
            time_capped = True
            if ctx is not None:
                ctx.log.warning(
                    "TIME CAP: training stopped after epoch %d of %d: max_seconds=%g s spent before the schedule ended; "
                    "this result depends on the machine's speed (raise max_seconds or lower epochs)",
                    state.epoch,
                    epochs,
                    max_seconds,
                )
            break
        try:
            train_loss = _run_epoch(model, loss_fn, train_batches, dev, optimizer, grad_clip, set_lr, guard)
            val_loss = _run_epoch(model, loss_fn, val_batches, dev) if val_batches is not None else train_loss
            if not math.isfinite(val_loss):
                raise _NonFinite(f"validation loss {val_loss}")
        except _NonFinite as exc:
            recoveries += 1
            if recoveries > MAX_RECOVERIES:
                raise KaspixError(
                    f"training diverged in epoch {epoch} ({exc}) {MAX_RECOVERIES + 1} times in a row",
                    hint="lower the learning rate, set grad_clip, or check the data for NaN/inf",
                ) from None
            _restore(model, optimizer, good)
            guard.recent = deque(good_guard, maxlen=SPIKE_WINDOW)
            state.steps = good_steps
            for group in optimizer.param_groups:
                for key in ("lr", "initial_lr"):
                    if key in group:
                        group[key] /= 2
            if ctx is not None:
                ctx.log.warning("epoch %d: %s; back to the last good weights, learning rate halved", epoch, exc)
            continue
        recoveries = 0
        state.seconds = clock.elapsed()
        record = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss}
        if ctx is not None:
            ctx.log.info("epoch %d: train loss %.6g, val loss %.6g", epoch, train_loss, val_loss)
        if val_loss < state.best_val_loss:
            state.best_val_loss, state.best_epoch, state.stale = val_loss, epoch, 0
            best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if folder is not None:
                _save(torch, best_weights, folder / BEST_FILE)
        else:
            state.stale += 1
        if on_epoch_end is not None:
            record.update(on_epoch_end(epoch, model) or {})
        state.history.append(record)
        state.epoch = epoch
        good = _snapshot(model, optimizer)
        good_guard, good_steps = list(guard.recent), state.steps
        if folder is not None:
            state.save(torch, folder / CHECKPOINT_FILE, model, optimizer)
            atomic_write_json(folder / HISTORY_FILE, state.history)
        if patience is not None and state.stale >= patience:
            stopped_early = True
            break
        epoch = next(epoch_iter, None)
    model.load_state_dict(best_weights)
    result = FitResult(
        epochs_run=state.epoch,
        best_epoch=state.best_epoch,
        best_val_loss=state.best_val_loss,
        stopped_early=stopped_early,
        history=state.history,
        best_checkpoint=folder / BEST_FILE if folder is not None else None,
        seconds=time.monotonic() - start,
        time_capped=time_capped,
    )
    if ctx is not None:
        ctx.log_metrics(
            {
                "best_val_loss": result.best_val_loss,
                "best_epoch": result.best_epoch,
                "epochs": result.epochs_run,
                "seconds": round(result.seconds, 3),
                "time_capped": int(time_capped),
            },
            prefix=metrics_prefix,
        )
    return result


def _run_epoch(
    model: torch.nn.Module,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    batches: Iterable[Sequence[Any]],
    device: torch.device,
    optimizer: torch.optim.Optimizer | None = None,
    grad_clip: float | None = None,
    before_step: Callable[[], None] | None = None,
    guard: _SpikeGuard | None = None,
) -> float:
    """One pass over ``batches``; trains when an optimizer is given. Returns the sample-weighted mean loss."""
    torch = _torch()
    training = optimizer is not None
    model.train(training)
    total, count = 0.0, 0
    with torch.set_grad_enabled(training):
        for batch in batches:
            *inputs, target = to_device(tuple(batch), device)
            if training and before_step is not None:
                before_step()
            loss = loss_fn(model(*inputs), target)
            if not torch.isfinite(loss):
                raise _NonFinite(f"loss {loss.item()}")
            if guard is not None:
                guard.check(float(loss.detach()))
            if training:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip if grad_clip is not None else math.inf)
                if not torch.isfinite(norm):
                    raise _NonFinite(f"gradient norm {norm.item()}")
                optimizer.step()
            n = len(target) if hasattr(target, "__len__") else 1
            total += float(loss.detach()) * n
            count += n
    if count == 0:
        raise KaspixError("no batches to train or validate on", hint="check the dataset size and the batch size")
    return total / count


def _snapshot(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict[str, Any], dict[str, Any]]:
    """Copies of the model's and the optimizer's state, to return to after a non-finite loss."""
    import copy

    return copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())


def _restore(model: torch.nn.Module, optimizer: torch.optim.Optimizer, snapshot: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Return to ``snapshot``, keeping the learning rates in force now."""
    rates = [{k: g[k] for k in ("lr", "initial_lr") if k in g} for g in optimizer.param_groups]
    model.load_state_dict(snapshot[0])
    optimizer.load_state_dict(snapshot[1])
    for group, kept in zip(optimizer.param_groups, rates, strict=True):
        group.update(kept)


def _save(torch: Any, obj: Any, path: Path) -> None:
    """torch.save to a temporary file, then rename (atomic)."""
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


class _Clock:
    """Training time, carried over from before a resume, against an optional budget."""

    def __init__(self, already: float, budget: float | None) -> None:
        self.start = time.monotonic() - already
        self.budget = budget

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def spent(self) -> bool:
        return self.budget is not None and self.elapsed() >= self.budget


def _cosine(optimizer: Any, lr: float, total_steps: int | None, state: _TrainingState) -> Callable[[], None]:
    """A per-step hook that sets every group's learning rate on a cosine from its start value to zero over ``total_steps``."""
    for group in optimizer.param_groups:
        group.setdefault("initial_lr", group.get("lr", lr))

    def set_lr() -> None:
        progress = state.steps / total_steps if total_steps else 0.0
        factor = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor
        state.steps += 1

    return set_lr


@dataclass
class _TrainingState:
    epoch: int = 0
    best_epoch: int = 0
    best_val_loss: float = math.inf
    stale: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0

    def save(self, torch: Any, path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        _save(
            torch,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "epoch": self.epoch,
                "best_epoch": self.best_epoch,
                "best_val_loss": self.best_val_loss,
                "stale": self.stale,
                "history": self.history,
                "steps": self.steps,
                "seconds": self.seconds,
            },
            path,
        )

    @classmethod
    def load(cls, path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, device: torch.device) -> _TrainingState:
        torch = _torch()
        saved = torch.load(path, map_location=device, weights_only=True)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        return cls(
            saved["epoch"],
            saved["best_epoch"],
            saved["best_val_loss"],
            saved["stale"],
            saved["history"],
            saved.get("steps", 0),
            saved.get("seconds", 0.0),
        )
