"""Retrieval quality on the tuning and held-out question sets, and the refusal curve.

Usage: .venv/bin/python benchmarks/retrieval.py [--held-out] [--curve]

Without ``--held-out`` only the tuning sets are scored (odd dev ids, ``eval/tune.jsonl``):
what ranking and the threshold may be chosen on. ``--held-out`` adds the sets that are
only ever reported (even dev ids, ``eval/paraphrase.jsonl``, ``eval/everyday.jsonl``,
``eval/unseen.jsonl``, ``eval/fresh.jsonl``; see ``eval/README.md``); ``--curve`` prints, on the held-out sets
together, answerable questions refused and out-of-corpus questions declined (refused, or
answered "not mentioned") for refusal thresholds around the chosen one. Uses the index
in $RAG_HOME (built first if missing); relevance and metrics as ``rag eval``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.speed import machine  # noqa: E402
from benchmarks import bundled_settings  # noqa: E402
from rag.evaluate import is_relevant, load_questions  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.retrieve import Retriever  # noqa: E402

EVAL = ROOT / "eval"
THRESHOLDS = (0.40, 0.42, 0.43, 0.44, 0.45, 0.455, 0.46, 0.47, 0.48, 0.50)
STANDS_OUT = (0.45, 0.50, 0.55, 0.60, 0.65, float("inf"))  # inf: the rule off


@dataclass(frozen=True)
class Row:
    """One question's outcome: first relevant rank, refusal, and its confidence."""

    answerable: bool
    first: int | None
    refused: bool
    missing: bool
    confidence: float


def question_sets(held_out: bool) -> dict[str, list[dict]]:
    """Named question sets; the held-out ones only when asked for."""
    dev = load_questions(EVAL / "dev.jsonl")
    sets = {"dev, tuning half (odd ids)": [r for r in dev if int(r["id"][1:]) % 2],
            "tune.jsonl (tuning)": load_questions(EVAL / "tune.jsonl"),
            "describe.jsonl (tuning)": load_questions(EVAL / "describe.jsonl"),
            "names.jsonl (tuning)": load_questions(EVAL / "names.jsonl")}
    if held_out:
        sets.update({"dev, held-out half (even ids)": [r for r in dev if not int(r["id"][1:]) % 2],
                     "paraphrase (held out)": load_questions(EVAL / "paraphrase.jsonl"),
                     "everyday (held out)": load_questions(EVAL / "everyday.jsonl"),
                     "unseen (held out)": load_questions(EVAL / "unseen.jsonl"),
                     "fresh (held out)": load_questions(EVAL / "fresh.jsonl")})
    return sets


def run(retriever: Retriever, rows: list[dict]) -> list[Row]:
    """Search every question once (k=10) and record what the metrics need."""
    out = []
    for r in rows:
        res = retriever.search(r["question"], k=10)
        ranks = [h.rank for h in res.hits if is_relevant(h.passage, r["gold"])]
        out.append(Row(r["answerable"], ranks[0] if ranks else None, res.refused, bool(res.missing), res.confidence))
    return out


def metrics(rows: list[Row]) -> dict[str, float | int]:
    """hit@1, hit@5, MRR@10 over answerable rows; refusals on both kinds."""
    ans = [r for r in rows if r.answerable]
    una = [r for r in rows if not r.answerable]
    n = max(1, len(ans))
    return {"answerable": len(ans), "unanswerable": len(una),
            "hit1": sum(r.first == 1 for r in ans) / n,
            "hit5": sum(r.first is not None and r.first <= 5 for r in ans) / n,
            "mrr": sum(1 / r.first for r in ans if r.first) / n,
            "refused": sum(r.refused for r in ans),
            "declined": sum(r.refused or r.missing for r in una)}


def curve(pipeline: Pipeline, label: str, param: str, values: tuple[float, ...]) -> None:
    """One trade-off table over the held-out sets together: ``param`` set to each of ``values``."""
    print(f"\n| {label} | " + " | ".join("off" if v == float("inf") else f"{v:g}" for v in values) + " |")
    print("|---|" + "---|" * len(values))
    cells = []
    for v in values:
        alt = Retriever(pipeline.index, replace(pipeline.retriever.params, **{param: v}))
        m = metrics([row for name, qs in question_sets(True).items() if "held" in name for row in run(alt, qs)])
        cells.append((m["refused"] / m["answerable"], m["declined"] / m["unanswerable"]))
    print("| answerable refused | " + " | ".join(f"{a:.1%}" for a, _ in cells) + " |")
    print("| out of corpus declined | " + " | ".join(f"{u:.0%}" for _, u in cells) + " |")
    print(f"\n(held-out sets together: {m['answerable']} answerable, {m['unanswerable']} out of corpus)")


def main(argv: list[str] | None = None) -> int:
    """Print the tables (markdown) with the machine and date."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--held-out", action="store_true", help="also score the held-out sets")
    ap.add_argument("--curve", action="store_true", help="refusal threshold curve on the held-out sets")
    args = ap.parse_args(argv)
    pipeline = Pipeline(bundled_settings())
    retriever = pipeline.retriever
    print(f"{machine()}, {time.strftime('%Y-%m-%d')}; refusal threshold {retriever.params.refuse_below}\n")
    print("| set | answerable / out of corpus | hit@1 | hit@5 | MRR@10 | answerable refused | out of corpus declined |")
    print("|---|---|---|---|---|---|---|")
    for name, qs in question_sets(args.held_out or args.curve).items():
        m = metrics(run(retriever, qs))
        print(f"| {name} | {m['answerable']} / {m['unanswerable']} | {m['hit1']:.3f} | {m['hit5']:.3f} | "
              f"{m['mrr']:.3f} | {m['refused']} | {m['declined']} |")
    if args.curve:
        # Re-run per setting: the rare-phrase and stand-out rules can keep a question below any threshold.
        curve(pipeline, "threshold", "refuse_below", THRESHOLDS)
        curve(pipeline, "stands out by", "stands_out", STANDS_OUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
