"""The sentences of an answer, each embedded on its own beside the whole passage.

A passage's embedding averages everything it says; a question that describes one of its
points ("the filter moves how far at each step", "reads the sequence in both directions")
can match that one sentence or list item closely while matching the whole passage only
loosely. Retrieval scores a passage by the better of its whole-chunk and best-sentence
cosine (``rag.retrieve``).
"""

from __future__ import annotations

import re

__all__ = ["answer_sentences", "MIN_SENTENCE_CHARS"]

# Shorter lines are list labels ("1. Batch:", "Example:") that name nothing on their own.
MIN_SENTENCE_CHARS = 12
_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'“])")


def answer_sentences(answer: str) -> list[str]:
    """Sentences and list items of an answer, in order, each at least ``MIN_SENTENCE_CHARS`` long.

    >>> answer_sentences("Stride is the step. It moves the kernel.\\n1. Batch:")
    ['Stride is the step.', 'It moves the kernel.']
    """
    out: list[str] = []
    for line in answer.splitlines():
        for piece in _END.split(line.strip()):
            piece = piece.strip()
            if len(piece) >= MIN_SENTENCE_CHARS:
                out.append(piece)
    return out
