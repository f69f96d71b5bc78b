"""Wall time of `kaspix plugins` against `python -c "import torch"`, measured in the same run.

Prints one JSON object. The goal is a ratio of at most 0.15: listing plugins must not pay for
torch. Runs alternate between the two commands so that machine noise hits both alike.

    .venv/bin/python benchmarks/cli_startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def wall_time(command: list[str]) -> float:
    """Seconds one run of ``command`` takes; a failing command aborts the benchmark."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    commands = {
        "kaspix_plugins": [sys.executable, "-m", "kaspix", "plugins", "--json"],
        "import_torch": [sys.executable, "-c", "import torch"],
        "python_bare": [sys.executable, "-c", "pass"],
    }
    for command in commands.values():  # warm the file cache before timing
        wall_time(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeats):
        for name, command in commands.items():
            times[name].append(wall_time(command))
    median = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "benchmark": "cli_startup",
        "repeats": args.repeats,
        "median_s": {name: round(value, 4) for name, value in median.items()},
        "min_s": {name: round(min(values), 4) for name, values in times.items()},
        "ratio_kaspix_plugins_to_import_torch": round(median["kaspix_plugins"] / median["import_torch"], 4),
        "goal_ratio": 0.15,
    }
    result["meets_goal"] = result["ratio_kaspix_plugins_to_import_torch"] <= result["goal_ratio"]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
