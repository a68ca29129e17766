"""The one pipeline the CLI and the UI both call: search, ask, compare.

Holds the loaded index and retriever; answers are built by the generator modules
and always returned as ``Answer`` records.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Callable

from rag.config import Settings
from rag.errors import RagError
from rag.index import Index, open_index
from rag.records import Answer, SearchResult

if TYPE_CHECKING:
    from rag.compare import Comparison
    from rag.topics import TopicMap
from rag.retrieve import Retriever

__all__ = ["Pipeline"]

# A refused question this long may describe a thing instead of naming it ("the table of
# true and false positives and negatives"); a shorter one names its subject itself.
MIN_DESCRIPTION_WORDS = 4
# Names asked for a description: greedy naming sits on a near tie for some descriptions
# ("ROC" or "Confusion matrix" for the table of true and false positives, by the process),
# so a name the sources do not hold gets one more ask, with that name ruled out.
NAME_TRIES = 2
# A covered description is named too, but the name only reorders retrieval's own best
# few ("an optimizer that adapts the step for each parameter using past squared
# gradients": "Adam" lifts the optimizers passage from third to first); it never brings
# in a passage retrieval did not rank, nor decides coverage.
NAMED_AMONG = 5
# ... and only when the question shares at most this many content words with the best
# passage's heading: a question that names what was found ("how does an RNN get trained")
# gets a name no better than its own words ("RNN"), for ~0.9 s of model time.
NAMED_SHARED_WORDS = 1


class Pipeline:
    """Question answering over the corpus index; safe to share between threads."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        notify: Callable[[str], None] = lambda _msg: None,
        progress: bool = False,
        index: Index | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.notify = notify
        self.index = index or open_index(self.settings, notify=notify, progress=progress)
        self.retriever = Retriever(self.index)

    def search(self, question: str, k: int | None = None, sources: list[str] | None = None) -> SearchResult:
        """Ranked passages for a question and the refusal decision."""
        return self.retriever.search(question, k or self.settings.k, sources)

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        sources: list[str] | None = None,
        generator: str = "extractive",
        on_token: Callable[[str], None] | None = None,
    ) -> Answer:
        """Answer a question with checked citations.

        Retrieval decides coverage, never the model: a refused question, or one about a
        term no source uses ("softmax") or only names ("what is early stopping?"), is
        answered without calling a model; a covered question always gets a cited answer
        (the quotes, when the model fails or declines).
        """
        result = self.search(question, k, sources)
        return self.answer(result, generator=generator, on_token=on_token)

    def answer(self, result: SearchResult, *, generator: str = "extractive",
               on_token: Callable[[str], None] | None = None) -> Answer:
        """The answer for an existing search result (lets a caller show the quotes first)."""
        from rag.answer import complete_best, complete_parts, extractive_answer, not_mentioned_text, refusal
        from rag.generate import answer_with_model, resolve_generator

        name = resolve_generator(generator, self.settings)
        if result.refused:
            # a question that names a thing the sources lack ("diffusion models") is not
            # named again: the model would map it to the nearest thing they hold ("GAN");
            # a description with an odd word ("the s-shaped function …") still is
            from rag.query import is_named_thing

            lacks = any(is_named_thing(t) for t in result.missing)
            named = self._search_named(result, name) if name != "extractive" and not lacks else None
            if named is None:
                return refusal(result.question, name)
            answer = self.answer(named, generator=name, on_token=on_token)
            return replace(answer, notices=(f"searched for “{named.searched_as}”, the term the question "
                                            "seems to describe",) + answer.notices)
        missing_parts = [p for p in result.parts if any(t.lower() in p.text.lower() for t in result.missing)]
        if result.missing and (not result.parts or len(missing_parts) == len(result.parts)):
            return extractive_answer(result, self.index.encoder, missing=result.missing)
        if name == "extractive":
            answer = extractive_answer(result, self.index.encoder)
        else:
            named = self._named_first(result, name)
            if named is not None:
                result = named[0]
            answer = complete_best(answer_with_model(result, name, self, on_token=on_token), result,
                                   self.index.encoder)
            if named is not None:
                answer = replace(answer, stats={**answer.stats, "named": named[1]})
        answer = complete_parts(answer, result, self.index.encoder)
        if result.missing and not answer.refused:
            lead = not_mentioned_text(result.missing, result.listed, result.named_in_list)
            answer = replace(answer, text=f"{lead} {answer.text}", missing=result.missing, listed=result.listed,
                             named_in_list=result.named_in_list)
        return answer

    def _search_named(self, result: SearchResult, name: str) -> SearchResult | None:
        """A refused question searched again by the name of what it describes (model ``name``
        names it), or None. Only a description is named (``MIN_DESCRIPTION_WORDS`` content
        words or more). The new search must be covered on its own, with no missing term
        but the name itself when the sources only name it (then the answer says so), and
        its best passage must write every word of the name: the model only suggests
        what to look for; the sources decide whether they hold it. A name they do not hold
        gets one more ask with that name ruled out (``NAME_TRIES``)."""
        from rag.generate import name_concept
        from rag.keyword import tokenize

        if len(tokenize(result.question)) < MIN_DESCRIPTION_WORDS:
            return None  # "diffusion models" names its subject; a model would only swap it for a near one ("GAN")
        tried: list[str] = []
        for _ in range(NAME_TRIES):
            term = name_concept(result.question, name, self.settings, tuple(tried))
            if not term or term.lower() in (t.lower() for t in tried):
                return None  # not machine learning, or no other name
            found = self._found_as(result, term)
            if found is not None:
                return found
            tried.append(term)
        return None

    def _named_first(self, result: SearchResult, name: str) -> tuple[SearchResult, str] | None:
        """``result`` with the passage its model-given name finds best moved to the front,
        and that name; None when nothing moves. Only for a one-part description
        (``MIN_DESCRIPTION_WORDS`` content words or more, at most ``NAMED_SHARED_WORDS`` of
        them in the best passage's heading), a name that uses none of the question's words,
        and a passage already among the best ``NAMED_AMONG``: retrieval chooses the
        candidates, the name picks."""
        from rag.context import part_terms
        from rag.generate import name_concept
        from rag.keyword import tokenize

        if result.parts or result.missing or not result.hits:
            return None
        if len(tokenize(result.question)) < MIN_DESCRIPTION_WORDS:
            return None
        asked = part_terms(result.searched_as or result.question)
        if len(asked & set(tokenize(result.hits[0].passage.title or ""))) > NAMED_SHARED_WORDS:
            return None
        term = name_concept(result.question, name, self.settings)
        if not term or set(tokenize(term)) & set(tokenize(result.question)):
            return None  # no name, or the question's own word for it ("GAN" for "gan that controls style")
        found = self._search_term(result, term)
        if found is None or not found.hits:
            return None
        best = found.hits[0].passage.id
        among = [h.passage.id for h in result.hits[:NAMED_AMONG]]
        if best not in among[1:]:
            return None
        hits = tuple(sorted(result.hits, key=lambda h: h.passage.id != best))  # stable: the rest keep their order
        return replace(result, hits=hits), term

    def _search_term(self, result: SearchResult, term: str) -> SearchResult | None:
        """``term`` searched as ``result`` was (as many hits, the same sources); None when
        the search cannot be made."""
        try:
            return self.search(term, len(result.hits) or None, list(result.sources) or None)
        except RagError:
            return None

    def _found_as(self, result: SearchResult, term: str) -> SearchResult | None:
        """The search for ``term`` standing in for refused ``result``, or None when the
        sources do not hold it (see ``_search_named``)."""
        from rag.keyword import tokenize

        found = self._search_term(result, term)
        named = {t for t, *_ in found.listed + found.named_in_list} if found is not None else set()
        if found is None or found.refused or set(found.missing) - named or not found.hits:
            return None  # (a name the sources only list is found: the answer says they do not explain it)
        top = found.hits[0].passage
        said = set(tokenize(f"{top.title or ''} {top.answer}"))
        if not set(tokenize(term)) <= said:
            return None  # "gradient boosting" finds passages about gradients, not boosting
        return replace(found, question=result.question, searched_as=term)

    def compare(
        self,
        question: str,
        *,
        sources: list[str] | None = None,
        generator: str = "extractive",
        on_token: Callable[[str], None] | None = None,
    ) -> "Comparison":
        """How each source answers the question, with agreement and differences."""
        from rag.compare import compare_sources

        return compare_sources(self, question, sources, generator, on_token)

    def synthesize(self, comparison: "Comparison", *, generator: str,
                   on_token: Callable[[str], None] | None = None) -> Answer:
        """A model-written synthesis for an existing comparison (lets a page show the cards first)."""
        from rag.generate import compare_with_model, resolve_generator

        covered = [s for s in comparison.sources if s.covered]
        return compare_with_model(comparison.question, covered, resolve_generator(generator, self.settings), self,
                                  on_token=on_token)

    def topics(self) -> "TopicMap":
        """The corpus's questions grouped into named topics, with the sources covering each."""
        from rag.topics import topic_map

        return topic_map(self.index)
