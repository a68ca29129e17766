"""Query-path speed: cold `rag search` (new process), warm search, and batch mode.

Usage: .venv/bin/python benchmarks/speed.py [--runs 15]
Uses the index in $RAG_HOME (built first if missing). Prints medians and p95 with
the machine and date, for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    questions = [json.loads(line)["question"] for line in (ROOT / "eval/dev.jsonl").read_text().splitlines()]
    batch = (questions * 3)[:100]
    rag = [sys.executable, "-m", "rag"]
    subprocess.run(rag + ["ingest"], check=True, capture_output=True)  # make sure the index is built

    cold = []
    for i in range(args.runs):
        t = time.perf_counter()
        subprocess.run(rag + ["search", questions[i % len(questions)], "--json"], check=True, capture_output=True)
        cold.append(time.perf_counter() - t)

    from benchmarks import bundled_settings
    from rag.pipeline import Pipeline

    pipe = Pipeline(bundled_settings())
    for q in questions[:5]:
        pipe.search(q)
    warm = []
    for q in batch:
        t = time.perf_counter()
        pipe.search(q)
        warm.append(time.perf_counter() - t)

    batch_runs = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run(rag + ["search", "--json", "-"], input="\n".join(batch), text=True, check=True,
                       capture_output=True)
        batch_runs.append(time.perf_counter() - t)

    print(f"machine: {machine()}; date: {time.strftime('%Y-%m-%d')}")
    print(f"cold `rag search` (new process): median {statistics.median(cold):.2f} s, p90 {pct(cold, .9):.2f} s, "
          f"p95 {pct(cold, .95):.2f} s "
          f"over {len(cold)} runs (target < 1.5 s)")
    print(f"warm search (in process): median {statistics.median(warm) * 1000:.1f} ms, "
          f"p95 {pct(warm, .95) * 1000:.1f} ms over {len(warm)} queries (target < 20 ms)")
    print(f"`rag search --json -` over 100 questions: median {statistics.median(batch_runs):.2f} s "
          f"over {len(batch_runs)} runs (target < 5 s)")


if __name__ == "__main__":
    main()
