"""Keyword search: a tokenizer and Okapi BM25 over postings lists.

Stored as JSON (token lists per chunk); the postings and weights are computed when
loaded, in milliseconds for this corpus and linear in its size. Written here rather
than taken from rank-bm25 (scores every document in a Python loop) or bm25s (pulls
scipy onto the query path, ~0.3 s of a 1.5 s cold-start budget).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

__all__ = ["tokenize", "BM25"]

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_STOP = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being
    it its this that these those there here what which who whom whose when where why how do does
    did done can could would should will shall may might must i you he she we they them their our
    your me my us not no so than then too very also just into over under about between within
    any some such each other more most own same only both all few have has had having s t""".split()
)
_ACRONYM_PLURAL = re.compile(r"^[a-z]{2,5}s$")


def _stem(word: str) -> str:
    """A light suffix stemmer: enough to join 'networks'/'network', 'layers'/'layer'."""
    if word.isdigit() or len(word) <= 3:
        return word
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("izations", "ize"), ("ization", "ize"),
                         ("ings", ""), ("ing", ""), ("edly", ""), ("ed", ""), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            return word[: -len(suffix)] + repl
    return word


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stop words, lightly stemmed; hyphenated words also split."""
    out: list[str] = []
    for word in _WORD.findall(text.lower().replace("’", "'")):
        word = word.removesuffix("'s")
        parts = [word] + (word.split("-") if "-" in word else [])
        for part in parts:
            if part and part not in _STOP:
                out.append(_stem(part))
    return out


@dataclass
class BM25:
    """Okapi BM25 over a list of token lists; ``scores(query)`` returns one score per doc."""

    docs: list[list[str]]
    k1: float = 1.2
    b: float = 0.75

    def __post_init__(self) -> None:
        n = len(self.docs)
        lengths = np.array([len(d) for d in self.docs], dtype=np.float32)
        avg = float(lengths.mean()) if n and lengths.sum() else 1.0
        postings: dict[str, list[tuple[int, int]]] = {}
        for i, doc in enumerate(self.docs):
            for term, tf in Counter(doc).items():
                postings.setdefault(term, []).append((i, tf))
        self._n = n
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, plist in postings.items():
            ids = np.fromiter((p[0] for p in plist), dtype=np.int64, count=len(plist))
            tf = np.fromiter((p[1] for p in plist), dtype=np.float32, count=len(plist))
            idf = math.log(1.0 + (n - len(plist) + 0.5) / (len(plist) + 0.5))
            norm = tf + self.k1 * (1.0 - self.b + self.b * lengths[ids] / avg)
            self._postings[term] = (ids, (idf * tf * (self.k1 + 1.0) / norm).astype(np.float32))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every document for the query (repeated query terms count once)."""
        out = np.zeros(self._n, dtype=np.float32)
        for term in dict.fromkeys(query_tokens):
            hit = self._postings.get(term)
            if hit is not None:
                out[hit[0]] += hit[1]
        return out
