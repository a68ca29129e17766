"""What an answer is written from: which passages, and which of their sentences.

Both the extractive answer and the model's prompt draw on the same selection:

- passages: the question's best question-and-answer passages, and for a multi-part
  question ("X vs Y") each part's best passages first, so every part is represented;
  hollow passages (a heading with no answer) are left out;
- sentences: within each passage, the sentences closest to the question (or to the
  part the passage was chosen for), in the passage's own order, within a character
  budget. A lean prompt is the whole cost of the local model's first token
  (prompt evaluation measured ~61 tokens/s on two cores).

Sentences that read as instructions to a model ("ignore previous instructions…")
are never selected: a passage is data, and such text is not an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rag.keyword import _WORD, tokenize
from rag.query import _FRAME, split_asks
from rag.records import Passage, SearchResult
from rag.text import announces, in_order_at, is_header_row, is_legend, split_sentences, table_sentences

__all__ = ["ContextPassage", "answer_passages", "select_context", "looks_like_instruction", "headed_claims",
           "leans_back", "heading_items",
           "candidate_sentences", "named_claims", "is_claim", "names_in_list", "is_hollow", "part_terms", "is_heading_only",
           "MAX_PASSAGES", "SENTENCES_PER_PASSAGE", "CONTEXT_BUDGET_CHARS"]

MAX_PASSAGES = 4
SENTENCES_PER_PASSAGE = 3
# Prompt evaluation is the whole cost of the first token. With this budget the part of
# the prompt after the cached system prompt is ~170 tokens (median over the everyday
# questions, without the passages' titles; ~210 with them; 1,000 characters gave ~290,
# 1,400 ~370, 400 ~195). The budget is filled after each passage's best sentence, so
# every passage and every part of a question keeps its sentence. On the same 40
# questions 600 and 1,000 gave the same answers' quality (README, "Answers end to end").
CONTEXT_BUDGET_CHARS = 600
# A sentence picked for one ask of a two-ask question must be at least this close to it
# (MiniLM cosine): below it, the passages do not answer that ask.
ASK_FLOOR = 0.35
MAX_SENTENCE_CHARS = 400

_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget)\b.{0,40}\b(?:instruction|instructions|previous|above|prompt|rules)\b"
    r"|\b(?:reply|respond|answer|say|output)\s+(?:only\s+)?with\s+(?:the\s+)?(?:word|phrase|text)\b"
    r"|\byou\s+are\s+now\b|\bsystem\s+prompt\b|\bnew\s+instructions?\b",
    re.I,
)


def looks_like_instruction(sentence: str) -> bool:
    """Whether a sentence addresses a model rather than a reader (a planted instruction)."""
    return bool(_INSTRUCTION.search(sentence))


@dataclass(frozen=True)
class ContextPassage:
    """A passage chosen for an answer, the sentences chosen from it, and the part it serves."""

    passage: Passage
    sentences: tuple[str, ...]
    part: str | None = None


def answer_passages(result: SearchResult, limit: int = MAX_PASSAGES) -> list[tuple[Passage, str | None]]:
    """The passages to answer from, each with the part of the question it was chosen for.

    Each covered part's best two passages come first (one each when there are more
    than two parts), then the whole question's best, up to ``limit``: retrieval's first
    passage, then those sharing half the question's content words. Hollow passages and
    non-question text are skipped unless nothing else was found.
    """
    def usable(hits, words: set[str]) -> list[Passage]:
        # A passage that shares few words with what it was found for is a near miss of
        # the embedding ("l1" finding an LSTM passage), not an answer.
        need = (len(words) + 1) // 2
        return [h.passage for h in hits if h.passage.kind in ("qa", "prose") and not is_hollow(h.passage)
                and (not words or len(words & set(tokenize(f"{h.passage.title or ''} {h.passage.answer}"))) >= need)]

    question_words = part_terms(result.searched_as or result.question)

    chosen: list[tuple[Passage, str | None]] = []
    seen: set[int] = set()
    per_part = 2 if len(result.parts) <= 2 else 1
    for part in result.parts:
        if not part.covered:
            continue
        for p in usable(part.hits, part_terms(part.text))[:per_part]:
            if p.id not in seen:
                chosen.append((p, part.text))
                seen.add(p.id)
    part_words = set().union(*(set(tokenize(p.text)) for p in result.parts)) if result.parts else set()
    # Retrieval's first passage, when it has an answer, comes first without the word test:
    # a description ("when gradients get smaller and smaller in the early layers") shares
    # few words with the passage that names it, and the test alone let a lower passage
    # that happens to share them take its place. Under a hollow first passage (a heading
    # listed without an answer) the next one is no clear best: it still needs the words.
    lead = usable(result.hits[:1], set())
    for p in lead + usable(result.hits, question_words):
        if len(chosen) >= limit:
            break
        # For "X vs Y", a passage about neither X nor Y adds nothing.
        if part_words and not part_words & set(tokenize(f"{p.title or ''} {p.answer}")):
            continue
        if p.id not in seen:
            chosen.append((p, None))
            seen.add(p.id)
    if not chosen:
        chosen = [(h.passage, None) for h in result.hits[:1] if not is_hollow(h.passage)]
    return chosen[:limit]


_HEADING_WORDS = 8  # an unpunctuated line this short is a sub-heading ("RMSProp (Root Mean Square ...)")
_ANAPHORA = re.compile(r"^(?:this|it|its|these|they|that|those|such|here)\b", re.I)


def leans_back(sentence: str) -> bool:
    """Whether a sentence opens with a word that points back ("It …", "This …")."""
    return bool(_ANAPHORA.match(sentence.strip()))


def heading_items(text: str) -> list[str]:
    """The lines of ``text`` as bare headings, each once: numbering, markup and a closing
    colon removed ("**1. Layer Normalization (LayerNorm):" -> "Layer Normalization (LayerNorm)")."""
    items = (re.sub(r"^[\s*#]*(?:\d+[.)]\s*)?", "", s).rstrip(":").strip() for s in split_sentences(text))
    return list(dict.fromkeys(i for i in items if i))


def is_claim(sentence: str) -> bool:
    """A sentence that says something: three content words, and not a bare sub-heading."""
    if len(tokenize(sentence)) < 3 or is_header_row(sentence) or is_legend(sentence):
        return False  # a table's header row names columns, a legend a formula's symbols: nothing to quote or grade
    return bool(re.search(r"[.!?]['\")]*$", sentence.strip())) or len(sentence.split()) > _HEADING_WORDS


# Before an item of a list ("techniques like dropout, regularization, and early stopping",
# "include mean squared error … and cross-entropy loss") or after one ("early stopping and
# …"). A bare comma lists only after a listing word ("Algorithms like decision trees,
# SVMs, …"): "During training, dropout randomly sets …" is no list.
_LISTING = r"like|include[sd]?|including|such as|e\.g\.|as well as"
_LIST_WORD = re.compile(rf"\b(?:{_LISTING})\s", re.I)
_LIST_BEFORE = re.compile(rf"\b(?:and|or|{_LISTING})\s*$", re.I)
_LIST_AFTER = re.compile(r"^\s*(?:and|or|as well as)\b", re.I)
_COMMA_BEFORE = re.compile(r",\s*$")
_COMMA_AFTER = re.compile(r"^\s*,")
# ... unless the item is explained where it stands ("and Tanh, which maps inputs to …",
# "max pooling, which takes the maximum", "Adam (Adaptive Moment Estimation)", "and batch
# normalization provides a slight regularization effect").
_EXPLAINED_AFTER = re.compile(r"^\s*(?:,?\s*(?:(?:which|that|who|whose|where)\b|i\.e\.)|,\s*(?:a|an|the)\b|\(|:"
                              r"|[-–—]\s|(?:is|are|was|were|refers|means|can|could|may|will|does|do|has|have|helps?"
                              r"|provides?|allows?|reduces?|prevents?|improves?|works?|uses?|sets?|makes?|adds?"
                              r"|assigns?|learns?|maps?|takes?|keeps?|randomly|also|both)\b)", re.I)


def _spans(sentence: str, words: tuple[str, ...], gap: int) -> list[tuple[int, int]]:
    """Character spans where ``sentence`` writes the tokens ``words`` in order (at most
    ``gap`` other tokens between two; a hyphenated word also gives its parts)."""
    flat = [(t, m.start(), m.end()) for m in _WORD.finditer(sentence.lower().replace("’", "'"))
            for t in tokenize(m.group())]
    return [(flat[i][1], flat[j][2]) for i, j in in_order_at([t for t, _, _ in flat], words, gap)]


def names_in_list(sentence: str, words: tuple[str, ...], gap: int = 1) -> bool:
    """Whether ``sentence`` writes ``words`` (tokens, in order) only as one item of a list,
    never explained where it stands: "You can use techniques like dropout, regularization,
    and early stopping." names early stopping and says nothing of it."""
    spans = _spans(sentence, tuple(words), gap) if words else []

    def listed(a: int, b: int) -> bool:
        before, after = sentence[:a], sentence[b:]
        listing = bool(_LIST_WORD.search(before))
        return bool(_LIST_BEFORE.search(before) or _LIST_AFTER.search(after)
                    or (listing and (_COMMA_BEFORE.search(before) or _COMMA_AFTER.search(after))))

    return bool(spans) and all(listed(a, b) and not _EXPLAINED_AFTER.search(sentence[b:])
                               and not _verb_next(sentence[b:]) for a, b in spans)


_NEXT_WORD = re.compile(r"^\s+([a-z]+)\b")


def _verb_next(text: str) -> bool:
    """Whether ``text`` opens with a word that can be a verb ("… and unsupervised learning
    finds patterns": the item is a clause's subject, said something of), by the
    lemminflect lexicon; without it, False."""
    m = _NEXT_WORD.match(text)
    if not m:
        return False
    try:
        from lemminflect import getAllLemmas
    except ImportError:
        return False
    return "VERB" in getAllLemmas(m.group(1))


def is_hollow(passage: Passage) -> bool:
    """A question the source lists without an answer: no sentence that says something.

    (003 Q28 "Define Epoch, Iterations and Batches." is a heading over empty sub-headings;
    003's cross-entropy question lists three names and explains none.)
    Hollow passages are found like any other but never quoted or put in a prompt.
    """
    return passage.kind in ("qa", "prose") and _no_claim(passage.answer)


def is_heading_only(passage: Passage) -> bool:
    """A question with no answer text at all, or a lone heading line between answers.

    Such a passage matches a question that repeats its words almost exactly, yet answers
    nothing; coverage decisions leave it out. (A hollow passage that lists names, such as
    003's "1. Dropout / 2. Early Stopping", still shows the source treats the topic.)
    """
    body = passage.answer.strip()
    if passage.kind == "qa":
        return not body
    return "\n" not in body and len(body.split()) <= _HEADING_WORDS + 4 and not body.endswith((".", "!", "?"))


@lru_cache(maxsize=4096)
def _no_claim(answer: str) -> bool:
    # asked several times per question for the same passages: split each answer once
    return not any(is_claim(s) for s in split_sentences(answer))


def part_terms(text: str) -> set[str]:
    """The content words of a question or of one of its parts ("what", "difference" left out)."""
    return {t for t in tokenize(text) if t not in _FRAME}


def headed_claims(passage: Passage) -> list[str]:
    """Each sub-heading joined to the claim that follows it ("Adam (Adaptive Moment
    Estimation): It combines the benefits of Momentum and RMSProp."): the heading names
    what the claim is about when the claim itself only says "It"."""
    sents = split_sentences(passage.answer)
    out = []
    for i, (head, nxt) in enumerate(zip(sents, sents[1:])):
        if not is_claim(head) and len(tokenize(head)) >= 1 and is_claim(nxt) and not looks_like_instruction(nxt):
            name = head.rstrip(":").strip()
            out.append(f"{name}: {nxt}"[:MAX_SENTENCE_CHARS])
            # Later claims under the same heading that say "It …" are about it too ("Adam
            # (Adaptive Moment Estimation) / It combines … / It is the default optimizer …").
            for later in sents[i + 2:]:
                if not is_claim(later) or not leans_back(later):
                    break
                if not looks_like_instruction(later):
                    out.append(f"{name}: {later}"[:MAX_SENTENCE_CHARS])
    return out


def candidate_sentences(passage: Passage, quoting: bool = False) -> list[tuple[int, str]]:
    """A passage's sentences that make claims, with their positions: not labels or
    instructions; with ``quoting``, not sentences that only announce what follows them in
    the passage ("... are as follows:"; the model still sees them in its prompt), nor a
    table's body rows."""
    out = []
    rows = table_sentences(passage.answer) if quoting else frozenset()
    for pos, sent in enumerate(split_sentences(passage.answer)):
        if sent in rows:
            continue  # a table row's cells run together: garbled as a quote
        if is_claim(sent) and not looks_like_instruction(sent) and not (quoting and announces(sent)):
            out.append((pos, sent[:MAX_SENTENCE_CHARS]))
    return out


def named_claims(passage: Passage) -> dict[str, str]:
    """Each claim under a sub-heading mapped to its form with the sub-heading in front
    (``headed_claims``): what a claim that only says "It …" is shown as."""
    return {h.split(": ", 1)[1]: h for h in headed_claims(passage) if ": " in h}


def _ask_sentences(asks, cands, svecs, avecs, picked, per_passage) -> list[int]:
    """For each ask of a question, the candidate sentence that answers it rather than the
    others, when no sentence already picked does so as well: its cosine with the ask, plus
    how much closer it is to that ask than to the others, plus the share of the ask's own
    words it holds ("prevent" in "how do you prevent overfitting")."""
    if len(asks) < 2:
        return []
    toks = [set(tokenize(a)) for a in asks]
    sims = [[float(v @ a) for a in avecs] for v in svecs]
    said = [set(tokenize(c[2])) for c in cands]  # (each candidate's words, once for every ask)
    chosen_now = {i for ids in picked.values() for i in ids}
    added: list[int] = []
    for k in range(len(asks)):
        own = toks[k] - set().union(*(t for j, t in enumerate(toks) if j != k))

        def fit(i: int) -> float:
            other = max(s for j, s in enumerate(sims[i]) if j != k)
            held = len(own & said[i]) / len(own) if own else 0.0
            return sims[i][k] + (sims[i][k] - other) + 0.3 * held

        best = max(range(len(cands)), key=fit)
        # Only a sentence nearer this ask than the others, and not a passing mention.
        if best in chosen_now or sims[best][k] < ASK_FLOOR or fit(best) - sims[best][k] <= 0:
            continue
        if any(fit(i) >= fit(best) for i in chosen_now) or len(picked[cands[best][0]]) >= per_passage:
            continue
        chosen_now.add(best)
        added.append(best)
    return added


def select_context(
    question: str,
    chosen: list[tuple[Passage, str | None]],
    encoder,
    per_passage: int = SENTENCES_PER_PASSAGE,
    budget_chars: int = CONTEXT_BUDGET_CHARS,
    quoting: bool = False,
) -> list[ContextPassage]:
    """The best sentences of each chosen passage for the question (or its part), within
    budget; with ``quoting``, sentences that can stand alone as quotes."""
    # A claim that says "It …" under a sub-heading is given with the sub-heading in front
    # ("Adam (Adaptive Moment Estimation): It combines the benefits of Momentum and
    # RMSProp."), to be scored and shown: bare, it was quoted for "rmsprop how it works"
    # as if RMSProp's, and the model read such lines as the last name it had seen.
    cands = []
    for pi, (p, _) in enumerate(chosen):
        named = named_claims(p)
        cands += [(pi, pos, named.get(sent, sent) if leans_back(sent) else sent)
                  for pos, sent in candidate_sentences(p, quoting)]
    if not cands:
        return []
    # A one-concept question that asks two things ("What is overfitting and how do you
    # prevent it?"): the question's vector is mostly its subject, so every definition
    # outscores the one sentence that answers the second ask; each ask gets its own best
    # sentence below.
    asks = () if any(part for _, part in chosen) else split_asks(question)
    targets = list(dict.fromkeys([question] + sorted({part for _, part in chosen if part}) + list(asks)))
    vecs = encoder.encode([c[2] for c in cands] + targets)
    svecs, tvecs = vecs[: len(cands)], vecs[len(cands):]
    target_of = {t: i for i, t in enumerate(targets)}
    qtok = {t: set(tokenize(t)) for t in targets}
    scores = []
    for (pi, pos, sent), v in zip(cands, svecs):
        part = chosen[pi][1]
        t = part or question
        toks = set(tokenize(sent))
        overlap = len(qtok[t] & toks) / max(1, len(qtok[t]))
        sim = float(v @ tvecs[target_of[t]])
        if part:
            sim = max(sim, float(v @ tvecs[0]))
        # An answer's opening sentence usually states the definition: a small lift; one
        # that opens with "This"/"It" leans on the sentence before it: a small drop.
        # A passage chosen for one part of "X vs Y" should be quoted where it names X.
        scores.append(sim + (0.6 if part else 0.3) * overlap + (0.1 if pos == 0 else 0.0) - 0.02 * pi
                      - (0.15 if _ANAPHORA.match(sent) else 0.0))
    picked: dict[int, list[int]] = {}
    # First the best sentence of every passage (so each passage, and each part, is
    # represented), then the rest by score while the budget lasts.
    order = sorted(range(len(cands)), key=lambda i: -scores[i])
    firsts = []
    for i in order:
        pi = cands[i][0]
        if pi not in picked:
            picked[pi] = [i]
            firsts.append(i)
    used = sum(len(cands[i][2]) for i in firsts)
    for i in _ask_sentences(asks, cands, svecs, [tvecs[target_of[a]] for a in asks], picked, per_passage):
        picked[cands[i][0]].append(i)
        used += len(cands[i][2])
    for i in order:
        pi = cands[i][0]
        if i in picked[pi] or len(picked[pi]) >= per_passage:
            continue
        if used + len(cands[i][2]) > budget_chars:
            continue
        picked[pi].append(i)
        used += len(cands[i][2])
    out = []
    for pi, (p, part) in enumerate(chosen):
        if pi in picked:
            sents = _unrepeated([cands[i][2] for i in sorted(picked[pi], key=lambda i: cands[i][1])])
            out.append(ContextPassage(p, sents, part))
    return out


def _unrepeated(sents: list[str]) -> tuple[str, ...]:
    """A passage's chosen sentences in order, a sub-heading put in front of one (``named_claims``)
    left off when the sentence before already opens with it ("RMSProp (…): It Fixes … It
    works well …")."""
    out = list(sents)
    for i in range(1, len(sents)):
        head, sep, rest = sents[i].partition(": ")
        if sep and sents[i - 1].startswith(head + sep) and leans_back(rest):
            out[i] = rest
    return tuple(out)
