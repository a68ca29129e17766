"""Hybrid retrieval over question-and-answer passages, with abstention.

Signals per passage:

- ``dense``: cosine of the question with the passage's best chunk (title + answer);
- ``title``: cosine of the question with the passage's question title, or with the
  nearest of its aliases (other ways to ask for it, written at ingest: ``ingest.expand``);
- ``keyword``: BM25 over titles plus BM25 over answers, divided by the query's best.

- ``phrase``: the share of the question's rare corpus phrases (adjacent content-word
  stems, ``rag.query.rare_phrases``: "batch size", "squared gradients") that the
  passage's title and answer also write side by side.

Fused linearly: ``dense + 0.4 * title + 0.2 * keyword``, chosen on the tuning sets (odd
dev ids and ``eval/tune.jsonl``; a plateau: alias-title weight 0.4-0.6 with keyword
0.15-0.2). Three terms that only order passages follow (``Signals.ordering``; the
stand-out test below leaves them out): ``+ 0.2 * phrase``, chosen later on the same
sets; ``- 0.2`` for an ``intro`` passage; and, for a passage without cached questions,
its dense cosine + 0.05 standing in for its title cosine where higher (both chosen on
``eval/tune_docs``). The first weights (0.3 / 0.1, chosen on the whole dev set before aliases
existed) beat reciprocal rank fusion of the same signals (hit@1 0.86) and each signal
alone (dense 0.97, BM25 0.58-0.81).

Abstention: the question is refused when no passage's dense cosine reaches
``refuse_below``. Chosen on the whole dev set as the midpoint of the gap between
the best out-of-corpus score (0.41) and the worst answerable one (0.45). A question of
one part is not refused, whatever its cosine, when its best passage's fused score stands
``stands_out`` (0.55) above the median passage's: a description embeds weakly against
every passage but less weakly against its own, while an off-topic question is about as
far from all of them (chosen in the tuning sets' gap; the curve is in the README).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from rag.config import MAX_QUESTION_CHARS
from rag.errors import UserError
from rag.index import Index
from rag.keyword import tokenize
from rag.query import (_HEADS, _WORD, QueryPlan, Vocabulary, is_technical, plan_question, named_subject,
                       rare_phrases)
from rag.context import is_claim, is_hollow, names_in_list
from rag.records import Hit, PartHits, SearchResult
from rag.text import in_order, split_sentences

__all__ = ["Retriever", "RetrievalParams", "Signals", "clean_question"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_question(question: str) -> str:
    """Validate a question: not empty, not over 2,000 characters; control characters dropped."""
    if question is None or not question.strip():
        raise UserError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise UserError(f"the question is {len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,}")
    # Phones and macOS type curly apostrophes ("What’s"); the question patterns expect "'".
    question = question.replace("’", "'").replace("‘", "'")
    cleaned = re.sub(r"\s+", " ", _CONTROL.sub(" ", question)).strip()
    if not cleaned:
        raise UserError("the question is empty")
    return cleaned


@dataclass(frozen=True)
class RetrievalParams:
    """Fusion weights and the abstention threshold (see the module docstring)."""

    title_weight: float = 0.4
    keyword_weight: float = 0.2
    refuse_below: float = 0.43
    # ... unless the best passage stands out from the corpus: its fused score this far
    # above the median passage's (a description embeds weakly against every passage, but
    # much less weakly against its own; an off-topic question is equally far from all).
    stands_out: float = 0.55
    kinds: tuple[str, ...] = ("qa", "intro", "prose")
    # A part's own best passage competes with the whole question's ranking, slightly
    # discounted, so "X vs Y" puts both X's and Y's passages near the top.
    part_margin: float = 0.05
    # Added times the share of the question's rare corpus phrases (``rare_phrases``: "batch
    # size", "squared gradient") a passage writes word for word: an exact phrase the dense
    # and title cosines blur into its commoner neighbours ("batch normalization"). Chosen on
    # the tuning sets (0.15-0.3 all gain; 0.2 best). It orders passages only: the stand-out
    # test for refusal leaves it out ("new task" is no evidence of "catastrophic forgetting").
    phrase_weight: float = 0.2
    # Taken off an ``intro`` passage's fused score: an introduction names what the whole
    # document covers, so it matches questions about any part of it ("hardest-first
    # ordering, does it help" ranked a notes file's introduction above its anti-curriculum
    # answer). Chosen on eval/tune_docs (0.2-1.0 all gain one question of 24, 0.1 none; the
    # tuning sets and eval/own_docs unchanged). Like the phrase, it orders passages only.
    intro_penalty: float = 0.2
    # A passage without cached questions (a document of one's own before ``--expand``)
    # has only its heading and opening statement for the title signal, where a bundled
    # passage has the best of six or so questions: its title cosine runs ~0.2 lower for
    # the same match ("The basic idea" against "all embeddings end up as the same
    # vector"), so bundled passages won on the title alone. Its dense cosine plus this
    # stands in when higher. Chosen on eval/tune_docs and eval/own_docs (0 to 0.1 all gain:
    # facts at rank 1 15 -> 17 of 18, reworded in the top 3 18 -> 20 of 24; 0.05 loses
    # nothing on the tuning sets). It orders passages only.
    stand_in_margin: float = 0.05


@dataclass(frozen=True)
class Signals:
    """Per-passage scores for one question; arrays are indexed by passage id."""

    dense: np.ndarray
    title: np.ndarray
    keyword: np.ndarray
    fused: np.ndarray
    phrase: np.ndarray | None = None  # the rare-phrase share (``fused`` holds it times RetrievalParams.phrase_weight)
    # What ``fused`` holds that only orders passages (the phrase, the introduction's
    # penalty, the title's stand-in): the stand-out refusal test takes it out again.
    ordering: np.ndarray | float = 0.0


class Retriever:
    """Search an ``Index``: hybrid ranking, source filter, and a refusal decision."""

    def __init__(self, index: Index, params: RetrievalParams | None = None) -> None:
        self.index = index
        self.params = params or RetrievalParams()
        self._kind_mask = np.array([p.kind in self.params.kinds for p in index.passages], dtype=bool)
        self._source_of = np.array([p.source for p in index.passages])
        self.vocab = Vocabulary.from_texts(
            [f"{p.title or ''}\n{p.answer}" for p in index.passages if p.kind in self.params.kinds])
        self._intro = np.array([p.kind == "intro" for p in index.passages], dtype=np.float32)
        # passages with cached questions: more than the one opening-statement alias
        asked = (np.bincount(index.alias_passage, minlength=len(index.passages))
                 if index.alias_passage is not None and len(index.alias_passage)
                 else np.zeros(len(index.passages), dtype=np.int64))
        self._unasked = asked[: len(index.passages)] < 2
        self._token_cache: dict[int, tuple] = {}  # passage id -> ``_tokens``
        self._phrase_postings: dict[tuple[str, str], np.ndarray] | None = None

    def resolve_sources(self, names: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
        """Map labels, file names, stems or numeric prefixes (e.g. '003') to corpus file names."""
        if not names:
            return ()
        out = []
        for name in names:
            key = name.strip().lower()
            found = [
                src for src, info in self.index.sources.items()
                if key in (src.lower(), src.lower().rsplit(".", 1)[0], src.lower().rsplit("/", 1)[-1],
                           src.lower().rsplit("/", 1)[-1].rsplit(".", 1)[0], info["label"].lower(),
                           src.split("_", 1)[0])
            ]
            if not found:
                known = ", ".join(f"{s.split('_', 1)[0]} ({i['label']})" for s, i in self.index.sources.items())
                raise UserError(f"unknown source {name!r}; known sources: {known}")
            out.extend(found)
        return tuple(dict.fromkeys(out))

    def signals(self, question: str, vector: np.ndarray | None = None) -> Signals:
        """Compute every passage's scores for ``question`` (an already-clean question)."""
        ix = self.index
        q = ix.encoder.encode([question])[0] if vector is None else vector
        n = len(ix.passages)
        chunk_scores = _all_scores(ix.dense, q)
        dense = np.full(n, -1.0, dtype=np.float32)
        np.maximum.at(dense, ix.chunk_passage, chunk_scores)
        title = _all_scores(ix.titles, q)
        if ix.aliases is not None and ix.aliases.ntotal:
            # Other ways to ask for a passage (ingest.expand) count as its titles: a
            # description ("the small matrix that slides over an image") meets an alias,
            # not the heading ("What is a kernel?").
            np.maximum.at(title, ix.alias_passage, _all_scores(ix.aliases, q))
        tokens = tokenize(question)
        kw = ix.keyword_title.scores(tokens) + ix.keyword_body.scores(tokens)
        top = float(kw.max()) if len(kw) else 0.0
        keyword = kw / top if top > 0 else kw
        return self._fuse(dense, title, keyword, self._phrases(question))

    def _phrases(self, question: str) -> np.ndarray | None:
        """Per passage, the share of the question's rare phrases it writes word for word
        (its title or answer); None when the question has none."""
        phrases = rare_phrases(question, self.vocab)
        if not phrases or not self.params.phrase_weight:
            return None
        if self._phrase_postings is None:
            found: dict[tuple[str, str], list[int]] = {}
            for p in self.index.passages:
                toks = tokenize(f"{p.title or ''} {p.answer}")
                for bg in set(zip(toks, toks[1:])):
                    found.setdefault(bg, []).append(p.id)
            self._phrase_postings = {bg: np.array(ids, dtype=np.int64) for bg, ids in found.items()}
        share = np.zeros(len(self.index.passages), dtype=np.float32)
        for bg in phrases:
            ids = self._phrase_postings.get(bg)
            if ids is not None:
                share[ids] += 1.0 / len(phrases)
        return share

    def _fuse(self, dense: np.ndarray, title: np.ndarray, keyword: np.ndarray,
              phrase: np.ndarray | None = None) -> Signals:
        p = self.params
        stand_in = np.where(self._unasked, np.maximum(title, dense + p.stand_in_margin), title)
        ordering = p.title_weight * (stand_in - title) - p.intro_penalty * self._intro
        if phrase is not None:
            ordering = ordering + p.phrase_weight * phrase
        fused = dense + p.title_weight * title + p.keyword_weight * keyword + ordering
        return Signals(dense, title, keyword, fused, phrase, ordering)

    def mask(self, sources: tuple[str, ...] = (), include_boilerplate: bool = False) -> np.ndarray:
        """Which passages may be returned, given a source filter."""
        m = np.ones(len(self.index.passages), dtype=bool) if include_boilerplate else self._kind_mask.copy()
        if sources:
            m &= np.isin(self._source_of, list(sources))
        return m

    def search(
        self,
        question: str,
        k: int = 5,
        sources: list[str] | tuple[str, ...] | None = None,
        include_boilerplate: bool = False,
    ) -> SearchResult:
        """The ``k`` best passages for ``question`` and whether to refuse answering.

        Raises ``UserError`` for an empty or over-long question, an unknown source, or k < 1.
        """
        if k < 1:
            raise UserError("k must be at least 1")
        question = clean_question(question)
        resolved = self.resolve_sources(sources)
        allowed = self.mask(resolved, include_boilerplate)
        plan = self.plan(question)
        sig = self.signals(plan.search_text)
        if plan.search_text != question:
            # Typos corrected for the keyword match; the dense signals take the better of
            # the question as typed and as corrected (a wrong correction cannot hurt it).
            typed = self.signals(question)
            sig = self._fuse(np.maximum(sig.dense, typed.dense), np.maximum(sig.title, typed.title), sig.keyword,
                             sig.phrase)
        if not plan.parts:
            return self._only_named(replace(self.rank(question, sig, allowed, k, plan), sources=resolved), plan)
        part_sigs = [self.signals(p) for p in plan.parts]
        merged = np.maximum.reduce([sig.fused] + [ps.fused - self.params.part_margin for ps in part_sigs])
        dense = np.maximum.reduce([sig.dense] + [ps.dense for ps in part_sigs])
        whole = Signals(dense, sig.title, sig.keyword, merged, ordering=sig.ordering)
        parts = []
        for text, ps in zip(plan.parts, part_sigs):
            sub = self.rank(text, ps, allowed, 3)
            parts.append(PartHits(text, sub.hits, sub.confidence, self._part_covered(text, sub)))
        first = int(np.argmax(np.where(allowed, sig.fused, -np.inf)))
        result = replace(self.rank(question, whole, allowed, k, plan, tuple(parts), first), sources=resolved)
        # A part that is a name ("group norm" in "group norm vs batch norm") which no
        # passage covers or names is a topic the sources lack, like a missing term: the
        # answer says so instead of answering the other part alone. (A longer part is a
        # description, "one example at a time", which passages rarely word alike. With a
        # source filter, the other sources may well cover it: nothing is said.)
        short = [p for p in parts if not resolved and len(p.text.split()) <= NAME_PART_WORDS
                 and not any(m.lower() in p.text.lower() for m in result.missing)]
        # A covered name that only a bare heading writes ("layer normalization": 003 lists
        # "Layer Normalization" with nothing under it; the passages that match otherwise
        # are about batch normalization), or only a list names ("early stopping"), is as
        # good as missing, and the answer says where it is named.
        named = [(p.text, self._listing(p.text)) for p in short if p.covered]
        listed = tuple((t, where[0].ref) for t, where in named if where and where[0])
        in_list = tuple((t, where[1][0].ref, where[1][1]) for t, where in named if where and where[1])
        only_named = tuple(t for t, where in named if where)
        unnamed = tuple(p.text for p in short if not p.covered) + only_named
        if not unnamed:
            return result
        # (its nearest passages, about something else, are not quoted for it either)
        parts_now = tuple(replace(p, covered=False) if p.text in only_named else p for p in result.parts)
        return replace(result, missing=result.missing + unnamed, listed=listed, named_in_list=in_list,
                       parts=parts_now)

    def _only_named(self, result: SearchResult, plan: QueryPlan) -> SearchResult:
        """``result`` of a one-part question whose subject ("what is early stopping") the
        sources only name, in a list or as a bare heading, with that subject as a missing
        term and where it is named; else ``result`` unchanged. (With a source filter the
        other sources may explain it: nothing is said.)"""
        if result.refused or result.missing or result.sources:
            return result
        subject = named_subject(plan.search_text)
        where = self._listing(subject) if subject else None
        if where is None:
            return result
        heading, in_list = where
        if in_list is None and result.hits and result.hits[0].passage.id == heading.id and is_hollow(heading):
            return result  # the best match is that hollow passage: the answer's note cites it (``note_hollow``)
        return replace(result, missing=(subject,), listed=((subject, heading.ref),) if heading else (),
                       named_in_list=((subject, in_list[0].ref, in_list[1]),) if in_list else ())

    def _listing(self, text: str):
        """Where the sources only name ``text`` (its words in order) and no passage says
        what it is: ``(heading, in_list)``, the passage that writes it as a heading with
        nothing under it and ``(passage, sentence)`` for a sentence that names it only as
        one item of a list ("You can use techniques like dropout, regularization, and
        early stopping."), either None but not both. None when a passage writes it in a
        title it answers or in a sentence that says something of it, or when no passage
        writes it, or when it is a shorter name's with a generic head noun added ("tanh
        activations", "self attention mechanism": see below).
        The words may stand one apart: "shallow and deep networks" writes "shallow networks"."""
        words = tuple(tokenize(text))
        if not words:
            return None
        explained, heading, in_list = self._scan(words)
        if explained or (heading is None and in_list is None):
            return None
        # A name that ends in a generic head noun is explained when its shorter form is and
        # that form is a name itself: technical words ("tanh" of "tanh activations") or a
        # name with its own head noun ("self attention" of "self attention mechanism"). A
        # plain word is no name: "average" is said elsewhere, "average pooling" only heads
        # ("layer" of "layer normalization" neither).
        shorter = words[:-1]
        if words[-1] in _HEAD_TOKENS and shorter and ((len(shorter) > 1 and shorter[-1] in _HEAD_TOKENS)
                                                       or all(is_technical(w) for w in shorter)):
            if self._scan(shorter)[0]:
                return None
        return heading, in_list

    def _scan(self, words: tuple[str, ...]):
        """(whether some passage explains ``words``, the passage that only heads them,
        (passage, sentence) that only lists them); see ``_listing``."""
        heading = in_list = None
        for p in self.index.passages:
            if p.kind not in ("qa", "prose"):
                continue
            said, headed, raw = self._tokens(p)
            for s, text in zip(said, raw):
                if in_order(s, words, gap=1):
                    # (a sentence that says "shallow and deep networks" explains both)
                    if text is None or not names_in_list(text, words):
                        return True, None, None
                    if in_list is None:
                        in_list = (p, text)
            if any(in_order(s, words) for s in headed):
                # the passage whose own heading it is before one listing it among others
                if heading is None or (in_order(tokenize(p.title or ""), words)
                                       and not in_order(tokenize(heading.title or ""), words)):
                    heading = p
        return False, heading, in_list

    def _tokens(self, passage) -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...],
                                        tuple[str | None, ...]]:
        """A passage's token runs that say something (its answered title, its claims), those
        that only head (the title of a hollow passage, sub-headings), and the text of each
        run that says something (None for the title: a question it answers is explained)."""
        cache = self._token_cache
        if passage.id not in cache:
            title = tuple(tokenize(passage.title or ""))
            sents = split_sentences(passage.answer)
            said = [is_claim(s) for s in sents]
            # a sub-heading with a claim under it ("Leaky ReLU:" / "It allows …") is explained
            claimed = [i for i in range(len(sents)) if said[i] or (i + 1 < len(sents) and said[i + 1])]
            claims = tuple(tuple(tokenize(sents[i])) for i in claimed)
            heads = tuple(tuple(tokenize(s)) for i, s in enumerate(sents)
                          if not said[i] and not (i + 1 < len(sents) and said[i + 1]))
            if is_hollow(passage):
                cache[passage.id] = ((), (title,) + heads, ())
            else:
                # a sub-heading with its claim under it is explained there ("Leaky ReLU:")
                raw = tuple(sents[i] if said[i] else None for i in claimed)
                cache[passage.id] = ((title,) + claims, heads, (None,) + raw)
        return cache[passage.id]

    def plan(self, question: str) -> QueryPlan:
        """Typos corrected, missing terms and parts of a clean question (``rag.query``)."""
        return plan_question(question, self.vocab)

    def _part_covered(self, text: str, sub: SearchResult) -> bool:
        """A part is covered when its dense score passes, or one of its best passages names it.

        A one- or two-word part ("sigmoid") embeds weakly, so its own words in the title
        or answer of one of its best three passages count as well.
        """
        if not sub.refused:
            return True
        toks = set(tokenize(text))
        return bool(toks) and any(toks <= set(tokenize(f"{h.passage.title or ''} {h.passage.answer}"))
                                  for h in sub.hits[:3])

    def rank(self, question: str, sig: Signals, allowed: np.ndarray, k: int, plan: QueryPlan | None = None,
             parts: tuple[PartHits, ...] = (), first: int | None = None) -> SearchResult:
        """Turn signals into a ``SearchResult`` over the ``allowed`` passages."""
        fused = np.where(allowed, sig.fused, -np.inf)
        order = list(np.argsort(-fused, kind="stable")[: max(k, 10)])
        if parts:
            # Both sides of "X vs Y" near the top: after the whole question's best passage,
            # each part's best passage, then the rest in fused order.
            lead = [first] if first is not None else order[:1]
            for part in parts:
                if part.covered and part.hits and part.hits[0].passage.id not in lead:
                    lead.append(part.hits[0].passage.id)
            order = lead + [i for i in order if i not in lead]
        order = order[: min(k, int(allowed.sum()))]
        hits = tuple(
            Hit(self.index.passages[i], float(sig.fused[i]), rank + 1, float(sig.dense[i]),
                float(sig.title[i]), float(sig.keyword[i]))
            for rank, i in enumerate(order)
        )
        best = float(np.max(np.where(allowed, sig.dense, -1.0))) if allowed.any() else -1.0
        refused = best < self.params.refuse_below
        if refused and plan is not None and not parts and allowed.any():
            # (a question of one part: for "X vs Y" each part must be covered, below)
            scores = (sig.fused - sig.ordering)[allowed]  # the passages as the question alone finds them
            refused = float(scores.max() - np.median(scores)) < self.params.stands_out
        if refused and plan is not None and len(rare_phrases(plan.search_text, self.vocab)) > len(plan.unknown):
            # The corpus writes the question's rare phrases ("internal covariate shift")
            # more than the question uses words it never writes: evidence the dense
            # score misses.
            refused = False
        if refused and len(parts) > 1 and all(p.covered and _names_a_term(p.text) for p in parts):
            # "tanh vs sigmoid": each side is a term and named by one of its own best
            # passages; the whole question embeds weakly only because it is two short names.
            # ("speech vs text": ordinary words any passage may use say nothing of coverage.)
            refused = False
        if plan is None:
            return SearchResult(question, hits, refused, best)
        return SearchResult(question, hits, refused, best, plan.search_text, plan.corrections, plan.missing, parts)


def _names_a_term(text: str) -> bool:
    """Whether ``text`` holds a technical word (one an English vocabulary lacks: "tanh")."""
    return any(is_technical(w) for w in _WORD.findall(text))


_HEAD_TOKENS = frozenset(t for w in _HEADS for t in tokenize(w))
NAME_PART_WORDS = 2  # a part of at most this many words names a topic (see ``search``)
CANDIDATES = 2048  # beyond this many rows, only the nearest candidates are scored


def _all_scores(faiss_index, q: np.ndarray, limit: int = CANDIDATES) -> np.ndarray:
    """Inner product of ``q`` with every row, in row order; rows outside the nearest
    ``limit`` (only on indexes larger than that) get -1, below any real cosine."""
    n = faiss_index.ntotal
    scores, ids = faiss_index.search(q.reshape(1, -1).astype(np.float32), min(n, limit))
    out = np.full(n, -1.0, dtype=np.float32)
    valid = ids[0] >= 0  # FAISS pads missing hits with -1
    out[ids[0][valid]] = scores[0][valid]
    return out
