"""Measure retrieval, abstention and comparison on a question set (``eval/dev.jsonl`` format).

Relevance follows ``eval/README.md``: a passage is relevant when it comes from a
gold source and its normalised text contains one of that source's ``any`` strings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import UserError
from rag.records import Passage

__all__ = ["normalise", "is_relevant", "load_questions", "evaluate", "EvalReport"]

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "–": "-", "—": "-"})


def normalise(text: str) -> str:
    """Curly quotes straightened, dashes to '-', ``* # _ ` `` removed, spaces folded, lower case."""
    text = re.sub(r"[*#_`]", "", text.translate(_QUOTES))
    return re.sub(r"\s+", " ", text).strip().lower()


def is_relevant(passage: Passage, gold: list[dict]) -> bool:
    """Whether a passage satisfies any gold entry of a question."""
    body = None
    for g in gold:
        if passage.source != g["source"]:
            continue
        body = body if body is not None else normalise(passage.text)
        if any(normalise(a) in body for a in g["any"]):
            return True
    return False


def load_questions(path: Path) -> list[dict]:
    """Read a JSONL question set; a malformed line is a one-line user error."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(f"question set not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            row["question"], row.setdefault("gold", []), row.setdefault("answerable", True)
        except (ValueError, KeyError, TypeError):
            raise UserError(f"{path}:{n}: not a question record") from None
        rows.append(row)
    if not rows:
        raise UserError(f"{path} has no questions")
    return rows


@dataclass
class EvalReport:
    """Metrics over a question set, and the misses that explain them."""

    answerable: int = 0
    unanswerable: int = 0
    hit1: float = 0.0
    hit5: float = 0.0
    mrr10: float = 0.0
    refused_unanswerable: int = 0
    refused_answerable: int = 0
    compare_rows: int = 0
    compare_coverage: float | None = None
    compare_precision: float | None = None
    misses: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        """``rag eval --json`` output."""
        return {
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            "hit@1": round(self.hit1, 4),
            "hit@5": round(self.hit5, 4),
            "mrr@10": round(self.mrr10, 4),
            "refused_unanswerable": self.refused_unanswerable,
            "refused_answerable": self.refused_answerable,
            "refusal_rate_unanswerable": round(self.refused_unanswerable / self.unanswerable, 4)
            if self.unanswerable else None,
            "refusal_rate_answerable": round(self.refused_answerable / self.answerable, 4)
            if self.answerable else None,
            "compare_rows": self.compare_rows,
            "compare_coverage": None if self.compare_coverage is None else round(self.compare_coverage, 4),
            "compare_precision": None if self.compare_precision is None else round(self.compare_precision, 4),
            "misses": self.misses,
        }


def evaluate(pipeline, rows: list[dict]) -> EvalReport:
    """Run every question through the pipeline's retriever (and comparison for compare rows)."""
    rep = EvalReport()
    cov_found = cov_total = prec_ok = prec_total = 0
    for row in rows:
        if row.get("kind") == "compare":
            from rag.compare import compare_sources

            rep.compare_rows += 1
            cmp = compare_sources(pipeline, row["question"])
            gold_sources = {g["source"] for g in row["gold"]}
            covered = {s.source for s in cmp.sources if s.covered}
            for s in cmp.sources:
                if not s.covered:
                    continue
                prec_total += 1
                prec_ok += any(is_relevant(p, row["gold"]) for p in s.passages)
            found = {src for src in gold_sources & covered
                     if any(is_relevant(p, row["gold"]) for s in cmp.sources if s.source == src
                            for p in s.passages)}
            cov_found += len(found)
            cov_total += len(gold_sources)
            if found != gold_sources:
                rep.misses.append({"id": row.get("id"), "question": row["question"], "kind": "compare",
                                   "missed_sources": sorted(gold_sources - found)})
        result = pipeline.search(row["question"], k=10)
        if not row["answerable"]:
            rep.unanswerable += 1
            rep.refused_unanswerable += result.refused
            if not result.refused:
                rep.misses.append({"id": row.get("id"), "question": row["question"], "kind": "not refused",
                                   "confidence": round(result.confidence, 4)})
            continue
        rep.answerable += 1
        rep.refused_answerable += result.refused
        ranks = [h.rank for h in result.hits if is_relevant(h.passage, row["gold"])]
        first = ranks[0] if ranks else None
        rep.hit1 += first == 1
        rep.hit5 += first is not None and first <= 5
        rep.mrr10 += 1.0 / first if first else 0.0
        if first != 1 or result.refused:
            top = result.hits[0].passage if result.hits else None
            rep.misses.append({
                "id": row.get("id"), "question": row["question"],
                "kind": "wrongly refused" if result.refused else "miss",
                "rank": first, "top": top.ref + ": " + (top.title or "") if top else None,
                "confidence": round(result.confidence, 4),
            })
    if rep.answerable:
        rep.hit1 /= rep.answerable
        rep.hit5 /= rep.answerable
        rep.mrr10 /= rep.answerable
    if cov_total:
        rep.compare_coverage = cov_found / cov_total
        rep.compare_precision = prec_ok / prec_total if prec_total else 0.0
    return rep
