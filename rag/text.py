"""Sentence splitting shared by the extractive answerer and the citation checker."""

from __future__ import annotations

import re

__all__ = ["split_sentences", "is_header_row", "announces", "in_order"]

# A sentence ends at . ! ? followed by space and a capital, digit, quote or bracket;
# common abbreviations and decimals do not end one.
_END = re.compile(r"(?<=[.!?])[\"'”)\]]*\s+(?=[\"'“(\[A-Z0-9•\-])")
_BULLET = re.compile(r"^(?:[•●▪◦*\-–]+|\d{1,2}[.)])\s+")
_ABBREV = re.compile(r"\b(?:e\.g|i\.e|etc|vs|approx|Fig|Eq|Dr|Mr|Ms|No)\.$", re.IGNORECASE)
# A sentence that only announces what comes after it in the passage: "Some important
# points about X are as follows:", "..., the output before activation is:".
_ANNOUNCES = re.compile(r"\b(?:as follows|the following|following (?:points|ways|steps)|below)\s*[.:]?\s*$|"
                        r"\b(?:is|are|was|were|be|include|includes|including|like|such as|as|of|by|with|for|"
                        r"from|that|the|a|an|to|and|or)\s*:\s*$", re.I)


def announces(sentence: str) -> bool:
    """Whether the sentence only announces what follows it in its passage ("... are as
    follows:"; "the output before activation is:"): quoted alone it says nothing. A
    clause that ends in a colon yet says something ("They are related concepts but not
    exactly the same:") does not."""
    return bool(_ANNOUNCES.search(sentence))


def split_sentences(text: str) -> list[str]:
    """Split text into sentences; line breaks (bullets, table rows) always end one.

    Leading bullet marks and list numbers are dropped: they are layout, not words.
    """
    out: list[str] = []
    for line in text.splitlines():
        line = _BULLET.sub("", line.strip())
        if not line:
            continue
        start = 0
        for m in _END.finditer(line):
            piece = line[start : m.start()].strip()
            if _ABBREV.search(piece):
                continue
            if piece:
                out.append(piece)
            start = m.end()
        tail = line[start:].strip()
        if tail:
            out.append(tail)
    return out


_HEADER_WORD = re.compile(r"^(?:\(?[A-Z0-9][\w’'/-]*\)?[.!?]?|&|vs\.?|and|of|the|a|an|in|to|for|or|with)$")


def is_header_row(line: str) -> bool:
    """Whether a line is a table's header row or a title ("Aspect Batch Gradient Descent
    Stochastic Gradient Descent (SGD) …"): three words or more, every one capitalised
    bar short linking words. It names columns or a topic; it states nothing."""
    words = line.split()
    return len(words) >= 3 and all(_HEADER_WORD.match(w) for w in words)


# "Where Θ – is the parameter vector, α – learning rate, …", "where f is the activation
# function, …", "Where:": the symbols of a formula the text does not show ("Where
# possible, …" and "Where the gradient is small, …" are claims).
_LEGEND = re.compile(r"^\s*where\s*(?::\s*$|\S{1,3}\s*(?:[–—=,-]|\b(?:is|are|and|denotes?)\b))", re.I)


def is_legend(sentence: str) -> bool:
    """Whether a sentence explains a formula's symbols ("Where Θ – is the parameter
    vector …"): without the formula it says nothing a reader can use."""
    return bool(_LEGEND.search(sentence))


MIN_TABLE_ROWS = 2  # a title over one unpunctuated line is a heading and its item, not a table


def table_rows(text: str) -> frozenset[str]:
    """The body rows of the tables in ``text``: runs of unpunctuated lines under a header
    row ("Convergence Stable and accurate Noisy, may fluctuate More stable than SGD …").
    Their cells were run together when the page was flattened, so a row reads as one
    garbled sentence: fine for a model to read, not to quote."""
    rows: set[str] = set()
    run: list[str] = []
    in_table = False
    for line in [*text.splitlines(), ""]:
        line = line.strip()
        if in_table and line and not line.endswith((".", "!", "?", ":")) and not _BULLET.match(line):
            run.append(line)
            continue
        if len(run) >= MIN_TABLE_ROWS:
            rows.update(run)
        run = []
        in_table = bool(line) and is_header_row(line)
    return frozenset(rows)


def table_sentences(text: str) -> frozenset[str]:
    """The sentences ``split_sentences`` makes of ``text``'s table body rows."""
    return frozenset(split_sentences("\n".join(table_rows(text))))


def in_order_at(tokens: tuple[str, ...] | list[str], words: tuple[str, ...] | list[str],
                gap: int = 0) -> list[tuple[int, int]]:
    """Every place ``words`` occur in ``tokens`` in order, with at most ``gap`` other tokens
    between two of them, as (index of the first word, index of the last)."""
    tokens, words = tuple(tokens), tuple(words)
    out = []
    for i, t in enumerate(tokens):
        if not words or t != words[0]:
            continue
        at = i
        for w in words[1:]:
            nxt = next((j for j in range(at + 1, min(len(tokens), at + 2 + gap)) if tokens[j] == w), None)
            if nxt is None:
                break
            at = nxt
        else:
            out.append((i, at))
    return out


def in_order(tokens: tuple[str, ...] | list[str], words: tuple[str, ...] | list[str], gap: int = 0) -> bool:
    """Whether ``words`` occur in ``tokens`` in order, with at most ``gap`` other tokens
    between two of them (gap 0: one after another; "shallow and deep networks" writes
    "shallow network" with gap 1)."""
    return bool(in_order_at(tokens, words, gap))
