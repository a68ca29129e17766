"""Extractive answers: the best supporting sentences quoted from the passages, cited.

The default generator and the fallback of every other: it cannot hallucinate, and
each sentence it writes carries the marker of the passage it was copied from.
"""

from __future__ import annotations

import numpy as np

from rag.keyword import tokenize
from rag.records import REFUSAL_TEXT, Answer, Citation, SearchResult, SentenceSupport
from rag.text import split_sentences

__all__ = ["extractive_answer", "refusal"]

MAX_SENTENCES = 4
MAX_PER_PASSAGE = 2
PASSAGES_CONSIDERED = 3


def refusal(question: str, generator: str, notices: tuple[str, ...] = ()) -> Answer:
    """The fixed answer for a question the sources do not cover (no model is called)."""
    return Answer(question, REFUSAL_TEXT, True, generator, notices=notices)


def extractive_answer(result: SearchResult, encoder, notices: tuple[str, ...] = ()) -> Answer:
    """Quote the sentences of the top passages that best answer the question, each cited."""
    if result.refused or not result.hits:
        return refusal(result.question, "extractive", notices)
    hits = [h for h in result.hits if h.passage.kind == "qa"][:PASSAGES_CONSIDERED] or list(result.hits[:1])
    candidates: list[tuple[int, int, str]] = []  # (hit index, position, sentence)
    for hi, hit in enumerate(hits):
        for pos, sent in enumerate(split_sentences(hit.passage.answer)):
            if len(tokenize(sent)) >= 3:  # skip labels such as 'Where:' or 'Key parts of CNN:'
                candidates.append((hi, pos, sent))
    if not candidates:
        candidates = [(0, 0, hits[0].passage.answer or hits[0].passage.text)]
    vecs = encoder.encode([c[2] for c in candidates])
    qvec = encoder.encode([result.question])[0]
    qtok = set(tokenize(result.question))
    scores = []
    for (hi, pos, sent), v in zip(candidates, vecs):
        overlap = len(qtok & set(tokenize(sent))) / max(1, len(qtok))
        # Prefer the better passage and a sentence's own match; an opening sentence
        # of an answer usually states the definition, so it gets a small lift.
        scores.append(float(v @ qvec) + 0.2 * overlap + 0.15 * hits[hi].score / hits[0].score
                      + (0.1 if pos == 0 else 0.0))
    chosen: list[int] = []
    per_passage: dict[int, int] = {}
    for i in np.argsort(-np.array(scores)):
        hi = candidates[i][0]
        if per_passage.get(hi, 0) >= MAX_PER_PASSAGE:
            continue
        chosen.append(int(i))
        per_passage[hi] = per_passage.get(hi, 0) + 1
        if len(chosen) == MAX_SENTENCES:
            break
    # Read in passage order, then in the order the passage says them.
    chosen.sort(key=lambda i: (candidates[i][0], candidates[i][1]))
    numbers: dict[int, int] = {}
    for i in chosen:
        numbers.setdefault(candidates[i][0], len(numbers) + 1)
    sentences = []
    quotes: dict[int, list[str]] = {}
    for i in chosen:
        hi, _, sent = candidates[i]
        n = numbers[hi]
        sentences.append(SentenceSupport(sent, (n,), True, 1.0))
        quotes.setdefault(n, []).append(sent)
    text = " ".join(f"{s.text} [{s.cites[0]}]" for s in sentences)
    citations = tuple(
        Citation(n, hits[hi].passage, " … ".join(quotes[n])) for hi, n in sorted(numbers.items(), key=lambda x: x[1])
    )
    return Answer(result.question, text, False, "extractive", citations, tuple(sentences), notices)
