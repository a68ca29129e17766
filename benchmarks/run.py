"""One command for the whole comparison with LangChain's tutorial pipeline.

Usage: .venv/bin/python benchmarks/run.py [--runs 10]
Needs the bench extra (pip install -e '.[bench]'). Builds both indexes afresh in a
temporary folder, measures both systems on this machine in one run, and writes
benchmarks/results.md and benchmarks/results.png. Generation figures come from
benchmarks/generation.md (benchmarks/generation.py) and the scale check from
benchmarks/scale.md (benchmarks/scale.py): both are slow, so they are separate.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.speed import machine, pct  # noqa: E402


def timed(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) of the child, and its stdout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd[:4])} failed with {proc.returncode}")
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, out


def du(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10, help="cold-query runs per system")
    args = ap.parse_args()
    py = sys.executable
    questions = [json.loads(l)["question"] for l in (ROOT / "eval/dev.jsonl").read_text().splitlines() if l.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
        env.update(RAG_HOME=f"{tmp}/rag", HF_HUB_OFFLINE="1")
        base_dir = f"{tmp}/baseline"

        b_ingest, b_ingest_mem, _ = timed([py, "benchmarks/baseline.py", "ingest", base_dir], env)
        o_ingest, o_ingest_mem, _ = timed([py, "-m", "rag", "ingest"], env)
        b_cold = [timed([py, "benchmarks/baseline.py", "query", base_dir, questions[i % len(questions)]], env)[0]
                  for i in range(args.runs)]
        o_cold = [timed([py, "-m", "rag", "search", questions[i % len(questions)], "--json"], env)[0]
                  for i in range(args.runs)]
        _, b_mem, b_out = timed([py, "benchmarks/baseline.py", "warm", base_dir], env)
        _, o_mem, o_out = timed([py, "benchmarks/ours.py", "warm"], env)
        b, o = json.loads(b_out), json.loads(o_out)
        b_size = du(Path(base_dir))
        live = Path(f"{tmp}/rag/index").resolve()
        o_size, o_enc = du(live), du(live / "encoder")

    def row(name, bv, ov, fmt, better="higher"):
        if isinstance(bv, (int, float)) and isinstance(ov, (int, float)) and bv:
            ratio = f"{ov / bv:.2f}×"
        else:
            ratio = ""
        return f"| {name} | {fmt(bv)} | {fmt(ov)} | {ratio} |"

    f3 = lambda v: f"{v:.3f}" if isinstance(v, (int, float)) else str(v)  # noqa: E731
    sec = lambda v: f"{v:.2f} s"  # noqa: E731
    ms = lambda v: f"{v * 1000:.1f} ms"  # noqa: E731
    mb = lambda v: f"{v:.0f} MB"  # noqa: E731
    lines = [
        f"Benchmark, {machine()}, {time.strftime('%Y-%m-%d')}. Baseline: LangChain tutorial pipeline "
        "(RecursiveCharacterTextSplitter 1000/200, same MiniLM, FAISS, similarity_search k=10).",
        "",
        "| metric | baseline | this project | ratio (project / baseline) |",
        "|---|---|---|---|",
        row("hit@1 (dev)", b["hit1"], o["hit1"], f3),
        row("hit@5 (dev)", b["hit5"], o["hit5"], f3),
        row("MRR@10 (dev)", b["mrr10"], o["mrr10"], f3),
        row("compare coverage (eval/compare.jsonl)", b["compare_coverage"], o["compare_coverage"], f3),
        f"| compare precision | – (no coverage decision) | {o['compare_precision']:.3f} | |",
        f"| out-of-corpus questions refused | {b['refused']} (never refuses) | {o['refused']} | |",
        row("mean passage length, top 5 (chars)", b["mean_passage_chars"], o["mean_passage_chars"],
            lambda v: f"{v:.0f}"),
        row("ingest (new process, wall)", b_ingest, o_ingest, sec),
        row("cold query, median (new process)", statistics.median(b_cold), statistics.median(o_cold), sec),
        row("cold query, p95", pct(b_cold, .95), pct(o_cold, .95), sec),
        row("warm query, median", statistics.median(b["latencies"]), statistics.median(o["latencies"]), ms),
        row("warm query, p95", pct(b["latencies"], .95), pct(o["latencies"], .95), ms),
        row("peak memory, ingest", b_ingest_mem, o_ingest_mem, mb),
        row("peak memory, warm queries", b_mem, o_mem, mb),
        row("index on disk", b_size, o_size, lambda v: f"{v:.1f} MB"),
        f"| of which the ONNX query encoder | – | {o_enc:.1f} MB | |",
        "",
        f"Warm latencies over {len(b['latencies'])} (baseline) and {len(o['latencies'])} (project) queries; "
        f"cold over {args.runs} runs each. The baseline's warm query is a FAISS search only; the project's "
        "includes BM25, title matching, fusion and the refusal decision.",
    ]
    gen = ROOT / "benchmarks" / "generation.md"
    if gen.exists():
        lines += ["", gen.read_text().strip()]
    out = "\n".join(lines)
    (ROOT / "benchmarks" / "results.md").write_text(out + "\n")
    print(out)
    plot(b, o, b_cold, o_cold)


def plot(b: dict, o: dict, b_cold: list[float], o_cold: list[float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 4))
    names = ["hit@1", "hit@5", "MRR@10", "compare\ncoverage"]
    keys = ["hit1", "hit5", "mrr10", "compare_coverage"]
    x = range(len(names))
    ax1.bar([i - 0.2 for i in x], [b[k] for k in keys], 0.4, label="LangChain tutorial", color="#9aa5b1")
    ax1.bar([i + 0.2 for i in x], [o[k] for k in keys], 0.4, label="this project", color="#2b6cb0")
    ax1.set_xticks(list(x), names)
    ax1.set_ylim(0, 1.05)
    ax1.set_title("Retrieval quality (dev + compare sets)")
    ax1.legend(loc="lower right")
    ax2.boxplot([[v * 1000 for v in b["latencies"]], [v * 1000 for v in o["latencies"]]],
                tick_labels=["LangChain tutorial", "this project"])
    ax2.set_ylabel("ms")
    ax2.set_title("Warm query latency")
    ax3.boxplot([b_cold, o_cold], tick_labels=["LangChain tutorial", "this project"])
    ax3.set_ylabel("s")
    ax3.set_title("Cold query (new process)")
    fig.tight_layout()
    fig.savefig(ROOT / "benchmarks" / "results.png", dpi=110)


if __name__ == "__main__":
    main()
