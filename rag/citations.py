"""Check a generated answer's citations against the passages, in code.

Small local models cite unreliably: they invent markers, forget them, or put them
on sentences the passage does not say. After generation this module:

1. removes markers that point at no passage, and counts them;
2. splits the answer into sentences, each with the markers that follow it;
3. scores each sentence against each passage: lexical support (share of the
   sentence's content words found in the passage) and semantic support (cosine
   with the passage's closest sentence), averaged;
4. keeps the cited passages that support the sentence; where none does, attaches
   the best-supporting passage; where no passage does, marks the sentence
   unsupported (and keeps no citation for it);
5. renumbers the surviving citations 1..n in order of first use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rag.keyword import tokenize
from rag.records import Citation, Passage, SentenceSupport
from rag.text import split_sentences

__all__ = ["check_citations", "CheckedAnswer", "SUPPORT_THRESHOLD"]

# A sentence is backed by a passage at or above this support (0..1). Chosen so that
# a paraphrase of a passage sentence passes (~0.6-0.9) and an unrelated claim on the
# same topic does not (~0.2-0.4); see tests/test_citations.py for the table.
SUPPORT_THRESHOLD = 0.5
_MARKER = re.compile(r"[\s,;]*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_AFTER_STOP = re.compile(r"([.!?])((?:[\s,;]*\[\d+(?:\s*[,;]\s*\d+)*\])+)")
_MIN_CONTENT_WORDS = 3  # shorter sentences ("In short:") are connective, not claims


@dataclass(frozen=True)
class CheckedAnswer:
    """The answer text rewritten with checked markers, and what the check found."""

    text: str
    sentences: tuple[SentenceSupport, ...]
    citations: tuple[Citation, ...]
    removed_markers: int
    reattached: int


def _split_with_markers(text: str, n_passages: int) -> tuple[list[tuple[str, list[int]]], int]:
    """Sentences with the valid marker numbers attached to each; count invalid markers."""
    # "... gradients. [1] It ..." cites the sentence before the marker: move markers
    # written after the full stop in front of it, so the splitter keeps them together.
    text = _AFTER_STOP.sub(lambda m: m.group(2) + m.group(1), text)
    removed = 0
    out: list[tuple[str, list[int]]] = []
    for sent in split_sentences(text):
        cites: list[int] = []
        for m in _MARKER.finditer(sent):
            for num in re.split(r"\s*[,;]\s*", m.group(1)):
                n = int(num)
                if 1 <= n <= n_passages:
                    cites.append(n)
                else:
                    removed += 1
        clean = _MARKER.sub("", sent).strip()
        if not clean:
            # A sentence made only of markers ("[2]" split off by the splitter) belongs to
            # the sentence before it.
            if out:
                out[-1][1].extend(cites)
            continue
        out.append((clean, list(dict.fromkeys(cites))))
    return out, removed


def _lexical(sentence_tokens: set[str], passage_tokens: set[str]) -> float:
    if not sentence_tokens:
        return 0.0
    return len(sentence_tokens & passage_tokens) / len(sentence_tokens)


def check_citations(text: str, passages: list[Passage], encoder) -> CheckedAnswer:
    """Check ``text`` (markers [n] refer to ``passages[n-1]``) and return the checked answer."""
    parts, removed = _split_with_markers(text, len(passages))
    if not parts:
        return CheckedAnswer("", (), (), removed, 0)
    passage_sents = [split_sentences(p.answer) or [p.answer or p.text] for p in passages]
    passage_tokens = [set(tokenize(p.title or "")) | set(tokenize(p.answer)) for p in passages]
    flat = [s for sents in passage_sents for s in sents]
    owner = np.array([i for i, sents in enumerate(passage_sents) for _ in sents])
    vecs = encoder.encode([s for s, _ in parts] + flat)
    sent_vecs, psent_vecs = vecs[: len(parts)], vecs[len(parts) :]
    sims = sent_vecs @ psent_vecs.T  # sentence x passage-sentence

    sentences: list[SentenceSupport] = []
    quotes: dict[int, str] = {}
    order: dict[int, int] = {}  # passage index -> new citation number
    reattached = 0
    for si, (sent, cites) in enumerate(parts):
        toks = set(tokenize(sent))
        support = np.zeros(len(passages))
        best_sent = np.zeros(len(passages), dtype=int)
        for pi in range(len(passages)):
            cols = np.where(owner == pi)[0]
            j = int(cols[np.argmax(sims[si, cols])])
            best_sent[pi] = j
            support[pi] = 0.5 * _lexical(toks, passage_tokens[pi]) + 0.5 * max(0.0, float(sims[si, j]))
        if len(toks) < _MIN_CONTENT_WORDS:
            sentences.append(SentenceSupport(sent, (), True, float(support.max(initial=0.0))))
            continue
        keep = [c for c in cites if support[c - 1] >= SUPPORT_THRESHOLD]
        if not keep:
            best = int(np.argmax(support))
            if support[best] >= SUPPORT_THRESHOLD:
                keep = [best + 1]
                reattached += 1
        new = []
        for c in keep:
            order.setdefault(c - 1, len(order) + 1)
            new.append(order[c - 1])
            quotes.setdefault(c - 1, flat[best_sent[c - 1]])
        score = float(max((support[c - 1] for c in keep), default=support.max(initial=0.0)))
        sentences.append(SentenceSupport(sent, tuple(new), bool(keep), score))

    rendered = " ".join(s.text + "".join(f" [{n}]" for n in s.cites) for s in sentences)
    citations = tuple(Citation(n, passages[pi], quotes[pi]) for pi, n in sorted(order.items(), key=lambda x: x[1]))
    return CheckedAnswer(rendered, tuple(sentences), citations, removed, reattached)
