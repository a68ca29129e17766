"""Cut parsed units into passages that fit the embedder's window.

A unit that fits (its title plus its answer within ``max_tokens`` word pieces, or
``PROSE_CHUNK_TOKENS`` for prose) is one chunk. A longer one is split on line
boundaries, then sentence boundaries, then word windows; every piece keeps the question
title (a prose passage: its heading) for embedding and its own exact offsets into the
file, so a citation always points at real text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

from ingest.parse import PROSE, QA, Unit, clean_body, clean_markup

__all__ = ["Chunk", "chunk_units", "TokenCounter"]

TokenCounter = Callable[[str], int]

# A prose paragraph packs several facts, each of which a question may ask about alone; a
# 254-piece embedding of the whole paragraph averages them away. Prose is embedded in
# windows of a few sentences (its passage, what is cited, stays the whole paragraph).
PROSE_CHUNK_TOKENS = 96

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(A-Z0-9])")


@dataclass(frozen=True)
class Chunk:
    """A searchable passage: a whole unit or one piece of a long one.

    ``text`` is exactly ``file_text[start:end]``; ``embed_text`` is what the
    embedder and the keyword index read (title first, markup and captions removed).
    """

    id: int
    source: str
    unit: int
    kind: str
    section: str | None
    qnum: int | None
    title: str | None
    part: int
    parts: int
    start: int
    end: int
    text: str
    embed_text: str


def _embed_text(title: str | None, raw: str, drop_first_line: bool) -> str:
    lines = raw.splitlines()
    text = clean_body(lines[1:] if drop_first_line else lines)
    return f"{title}\n{text}".strip() if title else text


def _spans(text: str, start: int, end: int, pattern: re.Pattern[str] | None) -> list[tuple[int, int]]:
    """Split [start, end) of text into trimmed spans at line breaks or a regex."""
    seg = text[start:end]
    cuts = [0]
    if pattern is None:
        cuts += [m.end() for m in re.finditer(r"\n", seg)]
    else:
        cuts += [m.end() for m in pattern.finditer(seg)]
    cuts.append(len(seg))
    out = []
    for a, b in zip(cuts, cuts[1:]):
        s, e = start + a, start + b
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            out.append((s, e))
    return out


def _word_windows(text: str, start: int, end: int, fits: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    """Last resort for one over-long sentence: greedy runs of whole words."""
    words = [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        j = i + 1
        while j < len(words) and fits(words[i][0], words[j][1]):
            j += 1
        out.append((words[i][0], words[j - 1][1]))
        i = j
    return out


def _pack(spans: list[tuple[int, int]], fits: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    """Greedily join neighbouring spans while the joined text still fits."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and fits(out[-1][0], e):
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _split_unit(text: str, unit: Unit, fits: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    if fits(unit.start, unit.end):
        return [(unit.start, unit.end)]
    pieces: list[tuple[int, int]] = []
    for s, e in _spans(text, unit.start, unit.end, None):
        if fits(s, e):
            pieces.append((s, e))
            continue
        for ss, se in _spans(text, s, e, _SENTENCE_END):
            pieces.extend([(ss, se)] if fits(ss, se) else _word_windows(text, ss, se, fits))
    return _pack(pieces, fits)


def chunk_units(
    text: str, units: Iterable[Unit], count_tokens: TokenCounter, max_tokens: int = 254, first_id: int = 0
) -> list[Chunk]:
    """Chunk one document's units; ``count_tokens`` measures text in model word pieces.

    ``max_tokens`` leaves room for the two special tokens in MiniLM's 256 window.
    Chunk ids run on from ``first_id`` so ids across documents are row numbers.
    """
    chunks: list[Chunk] = []
    for unit in units:
        title = unit.title if unit.kind in (QA, PROSE) else None
        # A question's first line is its title; a prose passage's is its heading, when it has one.
        first = unit.text.split("\n", 1)[0]
        heading_first = unit.kind == QA or (unit.kind == PROSE and clean_markup(first) == unit.title)

        def embed(s: int, e: int, _u: Unit = unit, _t: str | None = title, _h: bool = heading_first) -> str:
            # A piece that is all caption or advert still needs some text to embed: its raw text.
            return _embed_text(_t, text[s:e], drop_first_line=_h and s == _u.start) or text[s:e]

        limit = min(max_tokens, PROSE_CHUNK_TOKENS) if unit.kind == PROSE else max_tokens

        def fits(s: int, e: int, _limit: int = limit) -> bool:
            return count_tokens(embed(s, e)) <= _limit

        pieces = _split_unit(text, unit, fits)
        for part, (s, e) in enumerate(pieces):
            chunks.append(
                Chunk(
                    id=first_id + len(chunks),
                    source=unit.source,
                    unit=unit.position,
                    kind=unit.kind,
                    section=unit.section,
                    qnum=unit.qnum,
                    title=unit.title,
                    part=part,
                    parts=len(pieces),
                    start=s,
                    end=e,
                    text=text[s:e],
                    embed_text=embed(s, e),
                )
            )
    return chunks
