"""Extractive answers: the best supporting sentences quoted from the passages, cited.

The default generator and the fallback of every other: it cannot hallucinate, and
each sentence it writes carries the marker of the passage it was copied from.
"""

from __future__ import annotations

from rag.context import answer_passages, select_context
from rag.records import REFUSAL_TEXT, Answer, Citation, Passage, SearchResult, SentenceSupport
from rag.retrieve import is_hollow

__all__ = ["extractive_answer", "refusal", "quote_sentences", "not_mentioned_text"]

MAX_SENTENCES = 4
MAX_PER_PASSAGE = 2
PASSAGES_CONSIDERED = 3
QUOTE_BUDGET_CHARS = 900


def refusal(question: str, generator: str, notices: tuple[str, ...] = ()) -> Answer:
    """The fixed answer for a question the sources do not cover (no model is called)."""
    return Answer(question, REFUSAL_TEXT, True, generator, notices=notices)


def not_mentioned_text(terms: tuple[str, ...]) -> str:
    """The opening of an answer whose question names terms no source uses."""
    names = " or ".join(f"“{t}”" for t in terms)
    return f"The sources do not mention {names}."


def quote_sentences(result: SearchResult, encoder) -> list[tuple[Passage, str, str | None]]:
    """The sentences an extractive answer quotes: (passage, sentence, part), in reading order.

    Every part of a multi-part question gets at least one sentence when a passage
    covers it; at most ``MAX_PER_PASSAGE`` sentences a passage, ``MAX_SENTENCES`` in all.
    """
    limit = max(PASSAGES_CONSIDERED, len([p for p in result.parts if p.covered]))
    chosen = answer_passages(result, limit)
    ctx = select_context(result.searched_as or result.question, chosen, encoder,
                         per_passage=MAX_PER_PASSAGE, budget_chars=QUOTE_BUDGET_CHARS)
    out: list[tuple[Passage, str, str | None]] = []
    # Each passage's lead sentence first (select_context keeps them in passage order),
    # then further sentences while there is room.
    for round_ in range(MAX_PER_PASSAGE):
        for c in ctx:
            if round_ < len(c.sentences) and len(out) < max(MAX_SENTENCES, len(ctx)):
                out.append((c.passage, c.sentences[round_], c.part))
    rank = {c.passage.id: i for i, c in enumerate(ctx)}
    pos = {(c.passage.id, s): j for c in ctx for j, s in enumerate(c.sentences)}
    out.sort(key=lambda t: (rank[t[0].id], pos[(t[0].id, t[1])]))
    return out


def extractive_answer(result: SearchResult, encoder, notices: tuple[str, ...] = (),
                      missing: tuple[str, ...] = ()) -> Answer:
    """Quote the sentences of the top passages that best answer the question, each cited.

    With ``missing`` terms the answer opens by saying the sources do not mention them
    and quotes the nearest passages they do have (those sentences are the only ones
    listed in ``sentences``: the opening is about the sources, not a claim).
    """
    if result.refused or not result.hits:
        return refusal(result.question, "extractive", notices)
    quotes = quote_sentences(result, encoder)
    hollow = [h.passage for h in result.hits[:1] if is_hollow(h.passage)]
    if hollow:
        p = hollow[0]
        notices = notices + (f"{p.ref} lists the question “{p.title}” without an answer",)
    if not quotes:
        return refusal(result.question, "extractive", notices)
    numbers: dict[int, int] = {}
    for p, _, _ in quotes:
        numbers.setdefault(p.id, len(numbers) + 1)
    sentences = [SentenceSupport(sent, (numbers[p.id],), True, 1.0) for p, sent, _ in quotes]
    body = " ".join(f"{s.text} [{s.cites[0]}]" for s in sentences)
    lead = ""
    if missing:
        lead = not_mentioned_text(missing) + " The nearest they cover: "
    by_id = {p.id: p for p, _, _ in quotes}
    citations = tuple(
        Citation(n, by_id[pid], " … ".join(s for p, s, _ in quotes if p.id == pid))
        for pid, n in sorted(numbers.items(), key=lambda x: x[1])
    )
    return Answer(result.question, lead + body, False, "extractive", citations, tuple(sentences), notices,
                  missing=missing)
