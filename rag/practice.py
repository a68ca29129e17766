"""Practice mode: grade a user's answer to an interview question against the sources.

The key points of a question are the sentences of its covering sources' best
passages (``rag.compare`` decides which sources cover it), grouped across sources
when they say the same thing. A user's answer is split into sentences; each point is
*covered* when a user sentence states it, *missed* otherwise; a user sentence that
covers no point and that no passage supports is *unsupported* ("not in the sources",
not "wrong": the sources are not the whole truth). A sentence that contradicts the
passage it resembles ("dropout is used at inference time") covers nothing and is
unsupported, however many words it shares with the passage.

The score is the share of points covered, each point weighted by how many sources
make it. Thresholds are named constants below; how they were chosen is in
``eval/README.md`` (tuned on the tuning half of ``eval/practice.jsonl`` only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rag.citations import supports
from rag.context import candidate_sentences, is_hollow, looks_like_instruction
from rag.keyword import tokenize
from rag.records import Citation, Passage
from rag.text import split_sentences

__all__ = ["KeyPoint", "PointResult", "Feedback", "key_points", "grade", "split_answer", "contradicts",
           "MAX_POINTS", "SAME_POINT", "MAX_ANSWER_CHARS"]

SAME_POINT = 0.7  # two sources' sentences make the same point (compare groups agreement at 0.72)
MAX_POINTS = 6  # a spoken interview answer makes a handful of points; more is a list to read, not feedback
MIN_POINT_WORDS = 4
PASSAGES_PER_SOURCE = 1  # the best passage speaks for its source, as in compare's agreement
MAX_ANSWER_CHARS = 5000


@dataclass(frozen=True)
class KeyPoint:
    """A point the sources make: its text, the sources that make it and where (one quote each)."""

    text: str
    sources: tuple[str, ...]
    quotes: tuple[tuple[Passage, str], ...]  # (passage, its sentence that makes the point), one per source


@dataclass(frozen=True)
class PointResult:
    """One key point and whether the user's answer covers it (and with which sentence)."""

    point: KeyPoint
    covered: bool
    user_sentence: str | None
    citations: tuple[Citation, ...]

    def to_json(self) -> dict:
        """One element of ``points`` in ``rag practice --json``."""
        return {
            "text": self.point.text,
            "sources": list(self.point.sources),
            "covered": self.covered,
            "citations": [c.to_json() for c in self.citations],
            "user_sentence": self.user_sentence,
        }


@dataclass(frozen=True)
class Feedback:
    """The graded answer: covered and missed points, unsupported sentences, the weighted score.

    ``refused`` is set when no source covers the question: there is nothing to grade
    against, ``points`` is empty and ``score`` is ``None``.
    """

    question: str
    answer: str
    points: tuple[PointResult, ...]
    unsupported: tuple[str, ...]
    score: float | None
    sources: tuple[str, ...]  # the covering sources
    refused: bool = False

    @property
    def covered(self) -> tuple[PointResult, ...]:
        """The points the answer states."""
        return tuple(p for p in self.points if p.covered)

    @property
    def missed(self) -> tuple[PointResult, ...]:
        """The points the sources make that the answer does not."""
        return tuple(p for p in self.points if not p.covered)

    def to_json(self) -> dict:
        """``rag practice --json`` output (schema in the README)."""
        return {
            "question": self.question,
            "refused": self.refused,
            "sources": list(self.sources),
            "points": [p.to_json() for p in self.points],
            "unsupported": [{"text": s} for s in self.unsupported],
            "score": None if self.score is None else round(self.score, 4),
        }


def _source_sentences(comparison) -> list[tuple[str, Passage, str]]:
    """(source, passage, sentence) for every claim of each covering source's best passage."""
    out = []
    for s in comparison.sources:
        if not s.covered:
            continue
        for passage in [p for p in s.passages if not is_hollow(p)][:PASSAGES_PER_SOURCE]:
            out.extend((s.source, passage, sent) for _, sent in candidate_sentences(passage)
                       if not looks_like_instruction(sent) and not sent.rstrip().endswith(":")
                       and len(tokenize(sent)) >= MIN_POINT_WORDS)
    return out


def key_points(comparison, encoder) -> tuple[KeyPoint, ...]:
    """The points the covering sources make for the compared question, grouped across sources.

    Two sentences from different sources are one point when their embeddings are at
    least ``SAME_POINT`` similar (greedy, the most-echoed sentence first, as compare
    groups agreement). Points made by more sources come first; within that, in the
    order the passages make them (a passage leads with its main point); at most
    ``MAX_POINTS``. A line that introduces a list ("… are as follows:") or says too
    little to be checked (fewer than ``MIN_POINT_WORDS`` content words) is not a point.
    """
    sents = _source_sentences(comparison)
    if not sents:
        return ()
    vecs = encoder.encode([t for _, _, t in sents])
    sim = vecs @ vecs.T
    owner = np.array([s for s, _, _ in sents])
    position = {}
    for i, (src, _, _) in enumerate(sents):
        position[i] = sum(1 for j in range(i) if sents[j][0] == src)
    others = {i: [o for o in dict.fromkeys(owner.tolist()) if o != owner[i]] for i in range(len(sents))}
    echoes = {i: sum(sim[i, owner == o].max() >= SAME_POINT for o in others[i]) for i in range(len(sents))}
    order = sorted(range(len(sents)), key=lambda i: (-echoes[i], position[i], i))
    used: set[int] = set()
    groups: list[list[int]] = []
    for i in order:
        if i in used:
            continue
        group = [i]
        for o in others[i]:
            cols = [j for j in np.where(owner == o)[0] if j not in used]
            if cols:
                j = max(cols, key=lambda c: sim[i, c])
                if sim[i, j] >= SAME_POINT:
                    group.append(int(j))
        used.update(group)
        groups.append(group)
    groups.sort(key=lambda g: (-len(g), position[g[0]], g[0]))
    points = []
    for g in groups[:MAX_POINTS]:
        g_sorted = sorted(g, key=lambda j: j)  # corpus order of the sources
        points.append(KeyPoint(sents[g[0]][2], tuple(sents[j][0] for j in g_sorted),
                               tuple((sents[j][1], sents[j][2]) for j in g_sorted)))
    return tuple(points)
