"""Extractive answers: the best supporting sentences quoted from the passages, cited.

The default generator and the fallback of every other: it cannot hallucinate, and
each sentence it writes carries the marker of the passage it was copied from.
"""

from __future__ import annotations

from dataclasses import replace

from rag.context import (answer_passages, candidate_sentences, headed_claims, heading_items, is_hollow, part_terms,
                         select_context)
from rag.keyword import tokenize
from rag.records import (REFUSAL_TEXT, Answer, Citation, ListedBest, Passage, SearchResult, SentenceSupport,
                         cited_text)
from rag.text import split_sentences

__all__ = ["extractive_answer", "refusal", "quote_sentences", "not_mentioned_text", "complete_parts", "complete_best",
           "note_hollow"]

MAX_SENTENCES = 4
MAX_PER_PASSAGE = 2
PASSAGES_CONSIDERED = 3
QUOTE_BUDGET_CHARS = 900
# How far (fused score) the best passage must rank above every passage a written answer
# cites before its quote is added: near ties are the model's choice to make, a clear
# first that it skipped is usually the passage that answers (chosen on the tuning sets).
BEST_MARGIN = 0.1


def refusal(question: str, generator: str, notices: tuple[str, ...] = ()) -> Answer:
    """The fixed answer for a question the sources do not cover (no model is called)."""
    return Answer(question, REFUSAL_TEXT, True, generator, notices=notices)


def not_mentioned_text(terms: tuple[str, ...], listed: tuple[tuple[str, str], ...] = (),
                       named_in_list: tuple[tuple[str, str, str], ...] = ()) -> str:
    """The opening of an answer whose question names terms no source uses, that a source
    only lists as a heading with no answer (``listed``: term, that passage's reference),
    or that a source names only as one item of a list (``named_in_list``: term, reference,
    the sentence, quoted: it shows the name is all they say)."""
    where = dict(listed)
    in_list = {t: (ref, sent) for t, ref, sent in named_in_list}
    out = []
    unsaid = [t for t in terms if t not in where and t not in in_list]
    if unsaid:
        out.append(f"The sources do not mention {' or '.join(f'“{t}”' for t in unsaid)}.")
    for t in terms:
        said = []
        if t in where:
            said.append(f"{where[t]} lists it as a heading with no answer")
        if t in in_list:
            ref, sent = in_list[t]
            said.append(f"{ref} only names it in a list (“{sent.strip()}”)")
        if said:
            out.append(f"The sources do not explain “{t}”: {', and '.join(said)}.")
    return " ".join(out)


def quote_sentences(result: SearchResult, encoder) -> list[tuple[Passage, str, str | None]]:
    """The sentences an extractive answer quotes: (passage, sentence, part), in reading order.

    Every part of a multi-part question gets at least one sentence when a passage
    covers it; at most ``MAX_PER_PASSAGE`` sentences a passage, ``MAX_SENTENCES`` in all.
    """
    limit = max(PASSAGES_CONSIDERED, len([p for p in result.parts if p.covered]))
    chosen = answer_passages(result, limit)
    ctx = select_context(result.searched_as or result.question, chosen, encoder,
                         per_passage=MAX_PER_PASSAGE, budget_chars=QUOTE_BUDGET_CHARS, quoting=True)
    out: list[tuple[Passage, str, str | None]] = []
    said: set[str] = set()
    # Each passage's lead sentence first (select_context keeps them in passage order),
    # then further sentences while there is room.
    for round_ in range(MAX_PER_PASSAGE):
        for c in ctx:
            if round_ < len(c.sentences) and len(out) < max(MAX_SENTENCES, len(ctx)):
                key = " ".join(tokenize(c.sentences[round_]))
                if key in said:
                    continue  # two sources saying it word for word: quote it once
                said.add(key)
                out.append((c.passage, c.sentences[round_], c.part))
    rank = {c.passage.id: i for i, c in enumerate(ctx)}
    pos = {(c.passage.id, s): j for c in ctx for j, s in enumerate(c.sentences)}
    out.sort(key=lambda t: (rank[t[0].id], pos[(t[0].id, t[1])]))
    return out


def extractive_answer(result: SearchResult, encoder, notices: tuple[str, ...] = (),
                      missing: tuple[str, ...] = ()) -> Answer:
    """Quote the sentences of the top passages that best answer the question, each cited.

    With ``missing`` terms the answer opens by saying the sources do not mention them (or
    do not explain them, naming the heading or list sentence that only names one) and
    quotes the nearest passages they do have (those sentences are the only ones listed
    in ``sentences``: the opening is about the sources, not a claim).
    """
    if result.refused or not result.hits:
        return refusal(result.question, "extractive", notices)
    listed = tuple(x for x in result.listed if x[0] in missing)
    in_list = tuple(x for x in result.named_in_list if x[0] in missing)
    # a list sentence the opening quotes is not quoted again as the nearest cover (nor a
    # quote of it cut short or headed by its sub-heading)
    opened = [" ".join(tokenize(x[2])) for x in in_list]
    quotes = [q for q in quote_sentences(result, encoder)
              if not any(k in o or o in k for o in opened for k in [" ".join(tokenize(q[1]))] if k and o)]
    if not quotes:
        if missing:  # nothing near enough to quote: still say what the sources lack
            return note_hollow(Answer(result.question, not_mentioned_text(missing, listed, in_list), False,
                                      "extractive", notices=notices, missing=missing, listed=listed,
                                      named_in_list=in_list), result)
        return note_hollow(refusal(result.question, "extractive", notices), result)
    numbers: dict[int, int] = {}
    for p, _, _ in quotes:
        numbers.setdefault(p.id, len(numbers) + 1)
    sentences = [SentenceSupport(sent, (numbers[p.id],), True, 1.0) for p, sent, _ in quotes]
    body = " ".join(f"{s.text} [{s.cites[0]}]" for s in sentences)
    lead = ""
    if missing:
        lead = not_mentioned_text(missing, listed, in_list) + " The nearest they cover: "
    by_id = {p.id: p for p, _, _ in quotes}
    citations = tuple(
        Citation(n, by_id[pid], " … ".join(s for p, s, _ in quotes if p.id == pid))
        for pid, n in sorted(numbers.items(), key=lambda x: x[1])
    )
    return note_hollow(Answer(result.question, lead + body, False, "extractive", citations, tuple(sentences),
                              notices, missing=missing, listed=listed, named_in_list=in_list), result)


def note_hollow(answer: Answer, result: SearchResult) -> Answer:
    """Say so, citing it, when the best match is a question its source lists without an answer.

    The note goes in ``text`` and ``listed_best``, never in ``sentences``: it says what a
    source lacks, it is no claim a passage supports (a "supported" sentence naming the
    question's topic read as an answer about it). When nothing else is cited it opens "The
    sources do not answer this:", since then the answer holds nothing but the listing.
    """
    top = result.hits[0].passage if result.hits else None
    if top is None or result.refused or not is_hollow(top) or any(c.passage.id == top.id for c in answer.citations):
        return answer
    if any(ref == top.ref for _, ref in result.listed):
        return answer  # the opening already says it lists a term of the question without an answer
    items = [i for i in heading_items(top.answer) if len(i) <= 80]
    # "Batch:; Iteration:; Epoch:" read like a parse error; say they are bare headings
    listed = (f", only the headings {', '.join(items[:-1])} and {items[-1]}" if len(items) > 1 else
              f", only the heading {items[0]}") if items and len(items) <= 6 else ""
    n = len(answer.citations) + 1
    note = f"{top.ref} lists “{top.title or 'this question'}” without an answer{listed}."
    if not answer.citations and not answer.missing:
        note = f"The sources do not answer this: {note}"
    text = f"{answer.text} {note} [{n}]" if answer.text and not answer.refused else f"{note} [{n}]"
    return replace(answer, text=text, refused=False, citations=answer.citations + (Citation(n, top, top.title or ""),),
                   listed_best=ListedBest(note, n))


def _rebuilt(answer: Answer, sentences, citations, **changes) -> Answer:
    """``answer`` with new ``sentences`` and ``citations`` (and ``changes``), its text made
    from them; a note on a listing (``listed_best``) stays at the end, its passage numbered
    last, so the markers still read 1, 2, 3 down the answer."""
    note = answer.listed_best
    if note is None:
        return replace(answer, text=cited_text(sentences), sentences=tuple(sentences), citations=tuple(citations),
                       **changes)
    others = [c for c in citations if c.n != note.n]
    renumber = {c.n: i for i, c in enumerate(others, start=1)}
    last = renumber[note.n] = len(others) + 1
    sentences = tuple(replace(s, cites=tuple(renumber[k] for k in s.cites)) for s in sentences)
    citations = tuple(sorted((replace(c, n=renumber[c.n]) for c in citations), key=lambda c: c.n))
    return replace(answer, text=f"{cited_text(sentences)} {note.text} [{last}]".strip(), sentences=sentences,
                   citations=citations, listed_best=ListedBest(note.text, last), **changes)


def complete_parts(answer: Answer, result: SearchResult, encoder) -> Answer:
    """Add a quoted sentence for each covered part of the question the answer leaves out."""
    if not result.parts or answer.refused:
        return answer
    said = set()
    for s in answer.sentences:
        said |= set(tokenize(s.text))

    def named(terms: set[str]) -> bool:
        # every word of the part, allowing "norm" for "normalize"
        return all(any(t == s or (min(len(t), len(s)) >= 3 and (s.startswith(t) or t.startswith(s)))
                       for s in said) for t in terms)

    missing_parts = [p for p in result.parts if p.covered and part_terms(p.text) and not named(part_terms(p.text))]
    if not missing_parts:
        return answer
    quotes = quote_sentences(result, encoder)
    sentences = list(answer.sentences)
    citations = list(answer.citations)
    by_passage = {c.passage.id: c.n for c in citations}
    added = 0
    for part in missing_parts:
        terms = part_terms(part.text)
        # the quotes chosen for this part, then any quote, then any sentence of the
        # passages found for the part or the question, that names the part
        pool = [(p, s) for p, s, pt in quotes if pt == part.text] + [(p, s) for p, s, _ in quotes]
        pool += [(h.passage, s) for h in part.hits + result.hits[:3] if not is_hollow(h.passage)
                 for _, s in candidate_sentences(h.passage, quoting=True)]
        pool += [(h.passage, s) for h in part.hits + result.hits[:3] if not is_hollow(h.passage)
                 for s in headed_claims(h.passage)]
        pick = next(((p, s) for p, s in pool if terms <= set(tokenize(s))), None) or \
            next(((p, s) for p, s in pool if terms & set(tokenize(s))), None)
        if pick is None:
            continue
        p, sent = pick
        if p.id not in by_passage:
            by_passage[p.id] = len(citations) + 1
            citations.append(Citation(by_passage[p.id], p, sent))
        sentences.append(SentenceSupport(sent, (by_passage[p.id],), True, 1.0))
        added += 1
    if not added:
        return answer
    notices = answer.notices
    if answer.generator != "extractive":  # quotes need no apology for being quotes
        notices += (f"added {added} quoted sentence(s) for a part of the question the model's answer left out",)
    return _rebuilt(answer, sentences, citations, refused=False, notices=notices)


def complete_best(answer: Answer, result: SearchResult, encoder) -> Answer:
    """Open a written answer with a quote of the best passage when the model cited none of it.

    The 1.5B model often drops the passage that answers ("limitations of squared error
    loss": its sentence about the mean-squared-error passage fails the check) and keeps
    true padding from a lower one (what a loss function is). When retrieval ranks a
    passage clearly first (``BEST_MARGIN`` above every cited one) and the answer does not
    cite it, its best sentences for the question lead the answer, cited. One-part
    questions only: ``complete_parts`` sees to each part of "X vs Y".
    """
    if answer.refused or answer.generator == "extractive" or result.parts or not result.hits:
        return answer
    # A hollow best match (a heading listed without an answer) is said by ``note_hollow``;
    # the passage that can be quoted is the best one with an answer.
    # (Only just under the hollow one: a passage further down is no clear best.)
    top = next((h for h in result.hits[:2] if not is_hollow(h.passage)), None)
    if top is None or top.passage.kind not in ("qa", "prose"):
        return answer
    score = {h.passage.id: h.score for h in result.hits}
    cited = [score.get(c.passage.id, float("-inf")) for c in answer.citations if not is_hollow(c.passage)]
    if cited and top.score - max(cited) < BEST_MARGIN:
        return answer  # the best passage is cited, or one about as good
    ctx = select_context(result.searched_as or result.question, [(top.passage, None)], encoder,
                         per_passage=MAX_PER_PASSAGE, budget_chars=QUOTE_BUDGET_CHARS, quoting=True)
    said = {" ".join(tokenize(s.text)) for s in answer.sentences}
    lead = [s for s in (ctx[0].sentences if ctx else ()) if " ".join(tokenize(s)) not in said]
    if not lead:
        return answer
    # The added passage becomes [1] and the model's citations follow in their order, so
    # the markers read 1, 2, 3 down the answer.
    renumber = {c.n: i for i, c in enumerate(answer.citations, start=2)}
    sentences = tuple(SentenceSupport(s, (1,), True, 1.0) for s in lead) + tuple(
        replace(s, cites=tuple(renumber.get(k, k) for k in s.cites)) for s in answer.sentences)
    citations = (Citation(1, top.passage, " … ".join(lead)),) + tuple(
        replace(c, n=renumber[c.n]) for c in answer.citations)
    if answer.listed_best is not None:
        answer = replace(answer, listed_best=replace(answer.listed_best, n=renumber[answer.listed_best.n]))
    notices = answer.notices + (f"added {len(lead)} quoted sentence(s) from the best-matching passage, which the "
                                "model's answer left out",)
    return _rebuilt(answer, sentences, citations, refused=False, notices=notices)
