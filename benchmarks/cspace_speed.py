"""CSpace speed: the oscillator bank against the recurrences, and the CSpace loss against auraloss, same run.

1. The bank on 60 s at 24 kHz, 64 oscillators (the default bank), forward states at full rate:
   the exact block FFT (:func:`kaspix_cspace.bank.oscillator_states`, float32 and float64, all
   cores and one) against ``scipy.signal.lfilter`` per channel (float64, one thread) and the plain
   sequential recurrence (a Python loop over time, vectorised over channels). Also the
   bidirectional features decimated every 16 samples (what search and the loss use). Goals: the
   float32 FFT <= 1 s and >= 10x lfilter. The FFT states' relative error against lfilter is printed.
2. The CSpace loss (defaults) forward + backward at batch 8 x 1 s against auraloss's
   ``MultiResolutionSTFTLoss`` (defaults) on the same tensors. Goal: <= 5x auraloss's time.

Each time is the best of --repeats rounds, interleaved across the contenders so machine noise hits
them alike. Torch runs on --threads threads (default 1: on a shared 2-core machine more threads
than free cores make torch's thread pool spin and the times swing by 10x). Prints one JSON object.

    .venv/bin/python benchmarks/cspace_speed.py [--quick] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable

import auraloss
import numpy as np
import torch
from kaspix_cspace.bank import BankSpec, bank_features, oscillator_states, recurrence_states
from kaspix_cspace.losses import CSpaceLoss

RATE = 24_000
GOAL_BANK_SECONDS = 1.0
GOAL_VS_LFILTER = 10.0
GOAL_LOSS_VS_MRSTFT = 5.0


def music_like(samples: int, seed: int = 0) -> np.ndarray:
    """A tone with vibrato and a fifth, noise, and a slow swell: float32 audio."""
    t = np.arange(samples) / RATE
    tone = 0.3 * np.sin(2 * np.pi * (220 * t + 2 * np.sin(2 * np.pi * 4 * t))) + 0.1 * np.sin(2 * np.pi * 330 * t)
    noise = 0.05 * np.random.default_rng(seed).standard_normal(samples)
    return ((tone + noise) * (0.55 + 0.45 * np.sin(2 * np.pi * 0.1 * t))).astype(np.float32)


def best_times(contenders: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best wall time of each contender over ``repeats`` interleaved rounds."""
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(repeats):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def bank_benchmark(seconds: float, repeats: int) -> dict[str, object]:
    spec = BankSpec(sample_rate=RATE)
    poles = spec.poles()
    x = music_like(int(seconds * RATE))
    reference = recurrence_states(x, poles)
    fft = oscillator_states(x, poles)
    gains = spec.gains()
    relative = float(np.linalg.norm((fft - reference) * gains) / np.linalg.norm(reference * gains))
    del fft, reference
    times = best_times(
        {
            "fft_float32": lambda: oscillator_states(x, poles),
            "fft_float32_1_thread": lambda: oscillator_states(x, poles, workers=1),
            "fft_float64": lambda: oscillator_states(x, poles, precision="float64"),
            "bidirectional_features_hop16": lambda: bank_features(x, spec, hop=16),
            "lfilter": lambda: recurrence_states(x, poles),
        },
        repeats,
    )
    times["sequential_loop"] = best_times({"loop": lambda: recurrence_states(x, poles, method="loop")}, 1)["loop"]
    return {
        "seconds_of_audio": seconds,
        "oscillators": spec.n_oscillators,
        "q": spec.q,
        "times_s": times,
        "fft_float32_relative_error_vs_lfilter": relative,
        "speedup_fft_float32_vs_lfilter": times["lfilter"] / times["fft_float32"],
        "speedup_fft_float32_1_thread_vs_lfilter": times["lfilter"] / times["fft_float32_1_thread"],
        "speedup_fft_float32_vs_sequential_loop": times["sequential_loop"] / times["fft_float32"],
        "goal_fft_at_most_1_s": times["fft_float32"] <= GOAL_BANK_SECONDS,
        "goal_fft_10x_lfilter": times["lfilter"] / times["fft_float32"] >= GOAL_VS_LFILTER,
    }


def loss_benchmark(repeats: int) -> dict[str, object]:
    generator = torch.Generator().manual_seed(0)
    target = torch.from_numpy(np.stack([music_like(RATE, seed=s) for s in range(8)]))[:, None]
    prediction = (target + 0.05 * torch.randn(target.shape, generator=generator)).requires_grad_()
    cspace, mrstft = CSpaceLoss(sample_rate=RATE), auraloss.freq.MultiResolutionSTFTLoss()

    def step(loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            prediction.grad = None
            loss(prediction, target).backward()

        return run

    times = best_times({"cspace": step(cspace), "auraloss_mrstft": step(mrstft)}, repeats)
    return {
        "batch": list(target.shape),
        "cspace_hop": cspace.bank.hop,
        "times_s": times,
        "ratio_cspace_vs_mrstft": times["cspace"] / times["auraloss_mrstft"],
        "goal_at_most_5x_mrstft": times["cspace"] / times["auraloss_mrstft"] <= GOAL_LOSS_VS_MRSTFT,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s of audio instead of 60 s")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    result = {
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "bank": bank_benchmark(10.0 if args.quick else 60.0, args.repeats),
        "loss": loss_benchmark(max(args.repeats, 5)),
        "load_average_1min": [load_before, os.getloadavg()[0]],  # before, after: > cores means other work shared the CPU
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
