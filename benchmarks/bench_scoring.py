"""Benchmark of the scoring package (run on demand; not part of the tests).

    .venv/bin/python benchmarks/bench_scoring.py            # full run: 1,000,000 responses
    .venv/bin/python benchmarks/bench_scoring.py --rows 20000 --no-write   # quick smoke run

1. KOOS responses (about 5 % missing answers, fixed seed) scored in memory by the vectorised
   ``score_frame``, repeated and reported as the median; then a per-response loop of
   ``score_response`` on a sample, extrapolated to all rows; and their ratio.
2. ``python -m scoring koos file.csv -o out.csv`` as a subprocess on a generated CSV of the
   same size: wall time and the child's peak RSS (``getrusage(RUSAGE_CHILDREN)``).
Results go to benchmarks/results/scoring.txt unless --no-write.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scoring import score_frame, score_response  # noqa: E402
from scoring.instruments import INSTRUMENTS  # noqa: E402

TARGET_SECONDS = 0.35  # issue 17: 1,000,000 KOOS responses in at most 0.35 s (median)
TARGET_RATIO = 20.0
TARGET_CSV_SECONDS = 20.0
TARGET_CSV_MB = 1536.0


def make_responses(rows: int, seed: int = 20240601, missing: float = 0.05) -> pd.DataFrame:
    """Random KOOS answers 0-4 with a share of missing answers (NaN)."""
    rng = np.random.default_rng(seed)
    codes = INSTRUMENTS["koos"].item_codes
    answers = rng.integers(0, 5, size=(rows, len(codes))).astype(np.float64)
    answers[rng.random(answers.shape) < missing] = np.nan
    return pd.DataFrame(answers, columns=list(codes))


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV with an id column first (carried through) and empty cells for missing answers."""
    out = frame.astype("Int8")
    out.insert(0, "patient_id", [f"P{n:07d}" for n in range(len(frame))])
    out.to_csv(path, index=False)


def bench_memory(frame: pd.DataFrame, repeats: int, loop_rows: int) -> dict[str, float]:
    """Median vectorised time, extrapolated loop time, and their ratio."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        score_frame("koos", frame)
        times.append(time.perf_counter() - start)
    sample = frame.iloc[: min(loop_rows, len(frame))]
    records = [
        {k: (None if np.isnan(v) else v) for k, v in row.items()}
        for row in sample.to_dict("records")
    ]
    start = time.perf_counter()
    for record in records:
        score_response("koos", record)
    loop_sample = time.perf_counter() - start
    loop_total = loop_sample / len(records) * len(frame)
    median = statistics.median(times)
    return {
        "vector_median": median,
        "vector_min": min(times),
        "vector_max": max(times),
        "loop_sample_rows": float(len(records)),
        "loop_sample_seconds": loop_sample,
        "loop_extrapolated": loop_total,
        "ratio": loop_total / median,
    }


def bench_csv(frame: pd.DataFrame) -> dict[str, float]:
    """Wall time and peak RSS of the CSV command in a child process."""
    with tempfile.TemporaryDirectory(prefix="bench_scoring_") as tmp:
        source = Path(tmp) / "koos.csv"
        target = Path(tmp) / "out.csv"
        write_csv(frame, source)
        size_mb = source.stat().st_size / 1e6
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "scoring", "koos", str(source), "-o", str(target)],
            check=True,
            env=env,
        )
        wall = time.perf_counter() - start
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
        rows_out = sum(1 for _ in target.open()) - 1
    return {
        "csv_seconds": wall,
        "csv_peak_mb": peak_kb / 1024,
        "csv_mb": size_mb,
        "csv_rows_out": float(rows_out),
    }


def verdict(ok: bool) -> str:
    """'met' / 'NOT met'."""
    return "met" if ok else "NOT met"


def main() -> int:
    """Parse arguments, run both benchmarks, print and optionally save the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loop-rows", type=int, default=20_000)
    parser.add_argument("--skip-csv", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="do not save the report")
    parser.add_argument("--output", default=str(ROOT / "benchmarks/results/scoring.txt"))
    args = parser.parse_args()

    frame = make_responses(args.rows)
    missing = float(frame.isna().to_numpy().mean())
    memory = bench_memory(frame, args.repeats, args.loop_rows)
    lines = [
        f"date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: nproc={os.cpu_count()}, {platform.machine()}, {platform.system()}, "
        f"load average {os.getloadavg()[0]:.1f} (figures are only comparable when it is low)",
        f"python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}",
        f"rows: {args.rows:,} KOOS responses, {missing:.1%} missing answers, seed fixed",
        f"vectorised score_frame: median {memory['vector_median']:.3f} s of {args.repeats} "
        f"(min {memory['vector_min']:.3f}, max {memory['vector_max']:.3f}); target <= "
        f"{TARGET_SECONDS} s for 1,000,000: {verdict(memory['vector_median'] <= TARGET_SECONDS)}",
        f"per-response score_response loop: {memory['loop_sample_seconds']:.2f} s for "
        f"{memory['loop_sample_rows']:,.0f} responses, extrapolated to {args.rows:,}: "
        f"{memory['loop_extrapolated']:.1f} s",
        f"ratio loop / vectorised: {memory['ratio']:.0f}x; target >= {TARGET_RATIO:.0f}x: "
        f"{verdict(memory['ratio'] >= TARGET_RATIO)}",
    ]
    if not args.skip_csv:
        csv = bench_csv(frame)
        lines += [
            f"CSV command (python -m scoring koos, {csv['csv_mb']:.0f} MB, {args.rows:,} rows): "
            f"{csv['csv_seconds']:.1f} s wall, target < {TARGET_CSV_SECONDS:.0f} s: "
            f"{verdict(csv['csv_seconds'] < TARGET_CSV_SECONDS)}",
            f"CSV command peak RSS (child): {csv['csv_peak_mb']:.0f} MB, target < "
            f"{TARGET_CSV_MB:.0f} MB: {verdict(csv['csv_peak_mb'] < TARGET_CSV_MB)}",
        ]
    if args.rows != 1_000_000:
        lines.append("note: the targets are stated for 1,000,000 rows; this was a smaller run")
    report = "\n".join(lines) + "\n"
    print(report, end="")
    if not args.no_write:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
