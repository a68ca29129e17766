"""The one pipeline the CLI and the UI both call: search, ask, compare.

Holds the loaded index and retriever; answers are built by the generator modules
and always returned as ``Answer`` records.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Callable

from rag.config import Settings
from rag.index import Index, open_index
from rag.records import Answer, SearchResult

if TYPE_CHECKING:
    from rag.compare import Comparison
    from rag.topics import TopicMap
from rag.retrieve import Retriever

__all__ = ["Pipeline"]


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
        term no source uses ("softmax"), is answered without calling a model; a covered
        question always gets a cited answer (the quotes, when the model fails or declines).
        """
        result = self.search(question, k, sources)
        return self.answer(result, generator=generator, on_token=on_token)

    def answer(self, result: SearchResult, *, generator: str = "extractive",
               on_token: Callable[[str], None] | None = None) -> Answer:
        """The answer for an existing search result (lets a caller show the quotes first)."""
        from rag.answer import complete_parts, extractive_answer, not_mentioned_text, refusal
        from rag.generate import answer_with_model, resolve_generator

        name = resolve_generator(generator, self.settings)
        if result.refused:
            return refusal(result.question, name)
        missing_parts = [p for p in result.parts if any(t.lower() in p.text.lower() for t in result.missing)]
        if result.missing and (not result.parts or len(missing_parts) == len(result.parts)):
            return extractive_answer(result, self.index.encoder, missing=result.missing)
        if name == "extractive":
            answer = extractive_answer(result, self.index.encoder)
        else:
            answer = answer_with_model(result, name, self, on_token=on_token)
        answer = complete_parts(answer, result, self.index.encoder)
        if result.missing and not answer.refused:
            answer = replace(answer, text=f"{not_mentioned_text(result.missing)} {answer.text}",
                             missing=result.missing)
        return answer

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
