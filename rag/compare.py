"""Compare how the sources answer one question: a per-source matrix and a synthesis.

For each source, its best passages for the question, or "not covered" when its best
passage is weak: below ``COVER_ABS`` cosine, or below ``COVER_REL`` of the best
passage of any source. Both were chosen on ``eval/compare.jsonl`` (rows that list
every source that answers) from the middle of a plateau: absolute 0.45-0.55 with
relative 0.75 give coverage 0.98 and precision 0.98 there.

The synthesis lines up the covering sources' sentences by meaning: a point made by
two or more sources is agreement; a sentence close to nothing in the other sources
is what that source adds. With a language model it is also written as prose, with
citations checked like ``rag ask``'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.context import heading_items, is_claim, is_heading_only, is_hollow, leans_back, named_claims
from rag.keyword import tokenize
from rag.records import Answer, Hit, Passage
from rag.retrieve import clean_question
from rag.text import announces, is_header_row, split_sentences, table_sentences

__all__ = ["compare_sources", "Comparison", "SourceAnswer", "Point", "COVER_ABS", "COVER_REL"]

COVER_ABS = 0.5
COVER_REL = 0.75
SAME_POINT = 0.72  # two sentences from different sources make the same point
OWN_POINT = 0.5  # a sentence below this similarity to every other source is its own
PASSAGES_PER_SOURCE = 2


@dataclass(frozen=True)
class SourceAnswer:
    """One source's answer to the question, or that it does not cover it."""

    source: str
    label: str
    title: str
    covered: bool
    confidence: float
    hits: tuple[Hit, ...]
    gist: str
    # Not covered although its best match passes the absolute cut: the source's nearest
    # passage, so the card can say what it does have ("Q30 What is Dropout and Early
    # Stopping…?", which lists the names and answers nothing). None for a weak match.
    nearest: Passage | None = None

    @property
    def nearest_hollow(self) -> bool:
        """Whether the nearest passage of a source that does not cover the question is a
        question it lists without an answer (``rag.context.is_hollow``)."""
        return self.nearest is not None and is_hollow(self.nearest)

    @property
    def nearest_note(self) -> str:
        """What a card that does not cover the question says of its nearest passage:
        "nearest: Q29 How to Avoid Overfitting…?", or that it lists one without an answer."""
        if self.nearest is None:
            return ""
        where = f"{self.nearest.ref.removeprefix(self.label).strip()} “{self.nearest.title or ''}”"
        return f"lists {where} without an answer" if self.nearest_hollow else f"nearest: {where}"

    @property
    def passages(self) -> tuple[Passage, ...]:
        """The passages shown for this source (the best first)."""
        return tuple(h.passage for h in self.hits)

    def to_json(self) -> dict:
        """One element of ``sources`` in ``rag compare --json``."""
        return {
            "source": self.source,
            "label": self.label,
            "title": self.title,
            "covered": self.covered,
            "confidence": round(self.confidence, 4),
            "gist": self.gist,
            "passages": [h.to_json() for h in self.hits] if self.covered else [],
            "nearest": None if self.covered or self.nearest is None else {
                "ref": self.nearest.ref, "title": self.nearest.title, "answered": not self.nearest_hollow},
        }


@dataclass(frozen=True)
class Point:
    """A statement in the synthesis: shared by several sources, or one source's own."""

    text: str
    sources: tuple[str, ...]
    quotes: tuple[str, ...]

    def to_json(self) -> dict:
        """One element of ``agreement`` or ``differences``."""
        return {"text": self.text, "sources": list(self.sources), "quotes": list(self.quotes)}


@dataclass(frozen=True)
class Comparison:
    """The per-source matrix, agreement and differences, and an optional written synthesis."""

    question: str
    refused: bool
    sources: tuple[SourceAnswer, ...]
    agreement: tuple[Point, ...]
    differences: tuple[Point, ...]
    synthesis: Answer | None = None

    def to_json(self) -> dict:
        """``rag compare --json`` output."""
        return {
            "question": self.question,
            "refused": self.refused,
            "sources": [s.to_json() for s in self.sources],
            "agreement": [p.to_json() for p in self.agreement],
            "differences": [p.to_json() for p in self.differences],
            "synthesis": self.synthesis.to_json() if self.synthesis else None,
        }


def _gist(passage: Passage, question_vec: np.ndarray, encoder) -> str:
    """The passage sentence that best answers the question, shortened to one line."""
    # A table's header row names columns and says nothing; its body rows run their cells
    # together, so they stand in only for a passage that is nothing but a table.
    # A bare sub-heading ("How GRU is better than LSTM") says nothing either; a claim that
    # only says "It …" is shown with the sub-heading it follows ("Adam: It is the default …").
    headed = named_claims(passage)
    said = [headed.get(s, s) if leans_back(s) else s for s in split_sentences(passage.answer)
            if is_claim(s) and not announces(s)]
    rows = table_sentences(passage.answer)
    sents = [s for s in said if s not in rows] or said
    if not sents:  # headings with nothing under them: say what it lists, and that it explains none
        items = heading_items(passage.answer)
        return _one_line(f"Lists {'; '.join(items)} without an answer." if items else passage.title or "")
    vecs = encoder.encode(sents)
    scores = vecs @ question_vec + np.array([0.08 if i == 0 else 0.0 for i in range(len(sents))])
    return _one_line(sents[int(np.argmax(scores))])


def _one_line(text: str) -> str:
    return text if len(text) <= 200 else text[:197].rsplit(" ", 1)[0] + "…"


def _synthesis_points(covered: list[SourceAnswer], encoder) -> tuple[tuple[Point, ...], tuple[Point, ...]]:
    sents: list[tuple[int, str]] = []
    for si, s in enumerate(covered):
        for p in s.passages[:1]:  # the best passage speaks for the source
            sents.extend((si, t) for t in split_sentences(p.answer) if len(tokenize(t)) >= 4 and not is_header_row(t))
    if len(covered) < 2 or not sents:
        return (), ()
    vecs = encoder.encode([t for _, t in sents])
    sim = vecs @ vecs.T
    owner = np.array([si for si, _ in sents])
    agreement: list[Point] = []
    used: set[int] = set()
    # Greedy: the sentence that most other sources echo first.
    order = sorted(range(len(sents)), key=lambda i: -sum(
        sim[i, owner == o].max(initial=0) >= SAME_POINT for o in set(owner.tolist()) - {owner[i]}))
    for i in order:
        if i in used:
            continue
        group = [i]
        for o in sorted(set(owner.tolist()) - {owner[i]}):
            cols = [j for j in np.where(owner == o)[0] if j not in used]
            if cols:
                j = max(cols, key=lambda c: sim[i, c])
                if sim[i, j] >= SAME_POINT:
                    group.append(int(j))
        if len(group) >= 2:
            used.update(group)
            agreement.append(Point(sents[i][1], tuple(covered[owner[g]].source for g in group),
                                   tuple(sents[g][1] for g in group)))
    differences: list[Point] = []
    per_source: dict[int, int] = {}
    for i, (si, text) in enumerate(sents):
        others = owner != si
        if i in used or not others.any() or sim[i, others].max() >= OWN_POINT:
            continue
        if per_source.get(si, 0) >= 2:  # two points per source keep the list readable
            continue
        per_source[si] = per_source.get(si, 0) + 1
        differences.append(Point(text, (covered[si].source,), (text,)))
    return tuple(agreement[:5]), tuple(differences)


def _best(dense: np.ndarray, allowed: np.ndarray) -> float:
    return float(np.max(np.where(allowed, dense, -1.0))) if allowed.any() else -1.0


def compare_sources(
    pipeline,
    question: str,
    sources: list[str] | None = None,
    generator: str = "extractive",
    on_token=None,
) -> Comparison:
    """Compare the sources' answers to ``question`` (optionally only some sources)."""
    question = clean_question(question)
    retriever = pipeline.retriever
    index = pipeline.index
    chosen = set(retriever.resolve_sources(sources) or index.sources)
    wanted = tuple(s for s in index.sources if s in chosen)  # corpus order, whatever the filter's order
    qvec = index.encoder.encode([question])[0]
    sig = retriever.signals(question, qvec)
    overall = retriever.rank(question, sig, retriever.mask(wanted), 1)
    # Coverage is judged without heading-only passages: a question heading with no answer
    # under it (one bundled question has none) matches its own question almost exactly and
    # would otherwise push every real answer below the relative cut.
    says = np.array([not is_heading_only(p) for p in index.passages], dtype=bool)
    best_any = _best(sig.dense, retriever.mask(wanted) & says)
    answers = []
    for src in wanted:
        result = retriever.rank(question, sig, retriever.mask((src,)), PASSAGES_PER_SOURCE)
        top = _best(sig.dense, retriever.mask((src,)) & says)
        covered = (not overall.refused and top >= COVER_ABS and top >= COVER_REL * best_any)
        top = top if top > -1.0 else result.confidence
        hits = tuple(h for h in result.hits if h.passage.kind in ("qa", "prose")) or result.hits
        # A second passage is shown only when it answers nearly as well (001 asks many
        # questions twice, once per level).
        hits = tuple(h for h in hits if h.rank == hits[0].rank or h.dense >= max(COVER_ABS, top - 0.1))
        info = index.sources[src]
        answers.append(SourceAnswer(src, info["label"], info["title"], covered, top, hits,
                                    _gist(hits[0].passage, qvec, index.encoder) if covered and hits else "",
                                    # a near miss (only the relative cut failed) names what it has
                                    hits[0].passage if not covered and hits and top >= COVER_ABS else None))
    covered = [a for a in answers if a.covered]
    agreement, differences = _synthesis_points(covered, index.encoder)
    synthesis = None
    if covered and generator != "extractive":
        from rag.generate import compare_with_model, resolve_generator

        name = resolve_generator(generator, pipeline.settings)
        if name != "extractive":
            synthesis = compare_with_model(question, covered, name, pipeline, on_token=on_token)
    return Comparison(question, not covered, tuple(answers), agreement, differences, synthesis)
