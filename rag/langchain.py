"""The retriever as a langchain ``BaseRetriever``, to plug into other chains.

Kept in its own module: importing langchain_core costs ~1.4 s, which the CLI's
query path does not pay.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

__all__ = ["PassageRetriever"]


class PassageRetriever(BaseRetriever):
    """Hybrid passage search; returns no documents when the sources do not cover the question."""

    pipeline: Any
    k: int = 5
    sources: list[str] | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        result = self.pipeline.search(query, k=self.k, sources=self.sources)
        if result.refused:
            return []
        return [
            Document(
                page_content=h.passage.text,
                metadata={**{k: v for k, v in h.passage.to_json().items() if k != "text"},
                          "rank": h.rank, "score": h.score, "answer": h.passage.answer},
            )
            for h in result.hits
        ]
