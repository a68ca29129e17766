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

__all__ = ["normalise", "is_relevant", "load_questions", "evaluate", "EvalReport", "evaluate_answers",
           "AnswerReport", "score_answer"]

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
            row["question"], row.setdefault("gold", [])
            if not all(isinstance(g["source"], str) and isinstance(g["any"], list)
                       and all(isinstance(a, str) for a in g["any"]) for g in row["gold"]):
                raise TypeError
            if not isinstance(row.get("answerable", True), bool):
                raise TypeError  # ("false" in quotes would count as true)
        except (ValueError, KeyError, TypeError):
            raise UserError(f"{path}:{n}: not a question record") from None
        if not isinstance(row["question"], str) or not row["question"].strip():
            raise UserError(f"{path}:{n}: the question is empty")
        # A row that does not say is answerable when it names where the answer is: one
        # with no gold cannot be scored as answerable (every search would be a "miss").
        row.setdefault("answerable", bool(row["gold"]))
        if row["answerable"] and not row["gold"]:
            raise UserError(f"{path}:{n}: answerable, but no gold passage is named (every search would be a miss)")
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
    not_mentioned_unanswerable: int = 0
    not_mentioned_answerable: int = 0
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
            "not_mentioned_unanswerable": self.not_mentioned_unanswerable,
            "not_mentioned_answerable": self.not_mentioned_answerable,
            "compare_rows": self.compare_rows,
            "compare_coverage": None if self.compare_coverage is None else round(self.compare_coverage, 4),
            "compare_precision": None if self.compare_precision is None else round(self.compare_precision, 4),
            "misses": self.misses,
        }


def check_gold_sources(pipeline, rows: list[dict]) -> None:
    """Raise ``UserError`` when a row's gold names a source the index does not hold: its
    questions would all count as misses, which reads as bad retrieval, not a typo."""
    known = set(pipeline.index.sources)
    for row in rows:
        for g in row["gold"]:
            if g["source"] not in known:
                raise UserError(f"question {row.get('id') or row['question'][:40]!r}: gold source {g['source']!r} "
                                f"is not in the corpus (known: {', '.join(sorted(known))})")


def evaluate(pipeline, rows: list[dict]) -> EvalReport:
    """Run every question through the pipeline's retriever (and comparison for compare rows)."""
    check_gold_sources(pipeline, rows)
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
            rep.not_mentioned_unanswerable += not result.refused and bool(result.missing)
            if not result.refused and not result.missing:
                rep.misses.append({"id": row.get("id"), "question": row["question"], "kind": "not refused",
                                   "confidence": round(result.confidence, 4)})
            continue
        rep.answerable += 1
        rep.refused_answerable += result.refused
        rep.not_mentioned_answerable += not result.refused and bool(result.missing)
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


# ---------------------------------------------------------------------------------------
# End-to-end answers (``rag eval --answers``). Scored from the final answer alone, by the
# rules of eval/README.md, never by the citation checker's own verdicts.

_NOT_MENTIONED = re.compile(r"\bsources do not (?:mention|cover|explain|answer)\b", re.I)


def _mentions(text: str, term: str) -> bool:
    low = text.lower()
    return any(alt.strip().lower() in low for alt in term.split("|") if alt.strip())


@dataclass
class AnswerReport:
    """End-to-end answer metrics for one generator over a question set."""

    generator: str
    answerable: int = 0
    unanswerable: int = 0
    false_refusals: int = 0
    not_mentioned_answerable: int = 0
    gold_cited: int = 0
    multipart: int = 0
    multipart_complete: int = 0
    declined_unanswerable: int = 0
    hallucinated_unanswerable: int = 0
    model_sentences: int = 0
    dropped_sentences: int = 0
    fallbacks: int = 0
    seconds: list[float] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        """``rag eval --answers --json`` output."""
        def rate(a: int, b: int):
            return round(a / b, 4) if b else None

        secs = sorted(self.seconds)
        return {
            "generator": self.generator,
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            "false_refusal_rate": rate(self.false_refusals, self.answerable),
            "not_mentioned_rate_answerable": rate(self.not_mentioned_answerable, self.answerable),
            "gold_cited_rate": rate(self.gold_cited, self.answerable),
            "multipart": self.multipart,
            "multipart_complete_rate": rate(self.multipart_complete, self.multipart),
            "unanswerable_declined_rate": rate(self.declined_unanswerable, self.unanswerable),
            "unanswerable_hallucinated": self.hallucinated_unanswerable,
            "model_sentences": self.model_sentences,
            "unsupported_sentence_rate": rate(self.dropped_sentences, self.model_sentences),
            "fallback_rate": rate(self.fallbacks, self.answerable),
            "median_seconds": round(secs[len(secs) // 2], 3) if secs else None,
            "failures": self.failures,
        }


def score_answer(row: dict, answer: dict) -> dict:
    """Judge one final answer (``rag ask --json`` shape) against its row's gold and terms."""
    text = answer["answer"]
    refused = answer["refused"]
    not_mentioned = bool(_NOT_MENTIONED.search(text))
    out: dict = {"refused": refused, "not_mentioned": not_mentioned}
    terms = row.get("terms", [])
    if row["answerable"]:
        out["gold_cited"] = any(is_relevant(_passage(c), row["gold"]) for c in answer["citations"])
        out["terms_ok"] = all(_mentions(text, t) for t in terms) if len(terms) > 1 else None
    else:
        supported = [s["text"] for s in answer["sentences"] if s["supported"]]
        out["hallucinated"] = bool(terms) and any(_mentions(s, terms[0]) for s in supported)
        out["declined"] = refused or not_mentioned
    return out


def _passage(c: dict) -> Passage:
    return Passage(id=-1, source=c["source"], label=c.get("label", ""), kind=c.get("kind", "qa"),
                   section=c.get("section"), qnum=c.get("qnum"), title=c.get("title"), start=c["start"],
                   end=c["end"], text=c["text"], answer=c["text"])


def evaluate_answers(pipeline, rows: list[dict], generator: str, on_answer=None) -> AnswerReport:
    """Answer every question with ``generator`` and score the final answers (see ``score_answer``)."""
    import time

    check_gold_sources(pipeline, rows)
    rep = AnswerReport(generator)
    for row in rows:
        if row.get("kind") == "compare":
            continue
        started = time.perf_counter()
        ans = pipeline.ask(row["question"], generator=generator)
        rep.seconds.append(time.perf_counter() - started)
        data = ans.to_json()
        verdict = score_answer(row, data)
        if on_answer:
            on_answer(row, ans, verdict)
        if ans.generator != generator and not ans.refused:
            rep.fallbacks += row["answerable"]
        if ans.generator not in ("extractive",):
            dropped = len(ans.stats.get("dropped", []))
            rep.model_sentences += len(ans.sentences) + dropped
            rep.dropped_sentences += dropped
        if row["answerable"]:
            rep.answerable += 1
            rep.false_refusals += verdict["refused"]
            rep.not_mentioned_answerable += verdict["not_mentioned"] and not verdict["refused"]
            rep.gold_cited += verdict["gold_cited"]
            if verdict["terms_ok"] is not None:
                rep.multipart += 1
                rep.multipart_complete += verdict["terms_ok"]
            bad = verdict["refused"] or verdict["not_mentioned"] or not verdict["gold_cited"] or \
                verdict["terms_ok"] is False
        else:
            rep.unanswerable += 1
            rep.declined_unanswerable += verdict["declined"]
            rep.hallucinated_unanswerable += verdict["hallucinated"]
            bad = not verdict["declined"] or verdict["hallucinated"]
        if bad:
            rep.failures.append({"id": row.get("id"), "question": row["question"], **verdict,
                                 "answer": data["answer"][:300]})
    return rep
