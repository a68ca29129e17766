"""Typed records that cross module borders: passages, hits, answers, citations.

Each record has ``to_json()`` giving the documented JSON shape, so the CLI, the UI
and tests all see one schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Passage",
    "Hit",
    "SearchResult",
    "PartHits",
    "Citation",
    "SentenceSupport",
    "LeftOut",
    "ListedBest",
    "cited_text",
    "Answer",
    "REFUSAL_TEXT",
]

REFUSAL_TEXT = "The sources do not cover this."


@dataclass(frozen=True)
class Passage:
    """A question with its answer (or other text) from one corpus file.

    ``text == file_text[start:end]`` exactly; ``answer`` is the cleaned body a reader
    is shown and quoted from (markup, labels and captions removed).
    """

    id: int
    source: str
    label: str
    kind: str
    section: str | None
    qnum: int | None
    title: str | None
    start: int
    end: int
    text: str
    answer: str
    page: int | None = None  # the PDF page the passage starts on (None for text files)

    @property
    def ref(self) -> str:
        """Human reference such as 'GeeksforGeeks Q43', 'Multisoft Systems Advance-Level Q6',
        or for a prose passage 'Self-Supervised Learning ¶4'; a PDF's adds its page ('p. 3')."""
        page = f" (p. {self.page})" if self.page else ""
        if self.qnum is None:
            return f"{self.label} ({self.kind}){page}"
        if self.kind == "prose":
            return f"{self.label} ¶{self.qnum}{page}"
        section = f" {self.section}" if self.section else ""
        return f"{self.label}{section} Q{self.qnum}{page}"

    def to_json(self) -> dict:
        """The passage fields of the JSON schema."""
        return {
            "source": self.source,
            "label": self.label,
            "kind": self.kind,
            "title": self.title,
            "qnum": self.qnum,
            "section": self.section,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "page": self.page,
        }


@dataclass(frozen=True)
class Hit:
    """A passage found for a question, its fused score and the signals behind it."""

    passage: Passage
    score: float
    rank: int
    dense: float = 0.0
    title: float = 0.0
    keyword: float = 0.0

    def to_json(self) -> dict:
        """One element of ``passages`` in ``rag search --json``."""
        return {"rank": self.rank, **self.passage.to_json(), "score": round(self.score, 4)}


@dataclass(frozen=True)
class PartHits:
    """One concept of a multi-part question ("X vs Y"): its own best passages."""

    text: str
    hits: tuple[Hit, ...]
    confidence: float
    covered: bool

    def to_json(self) -> dict:
        """One element of ``parts`` in ``rag search --json``."""
        return {"text": self.text, "covered": self.covered, "confidence": round(self.confidence, 4),
                "passages": [{"source": h.passage.source, "qnum": h.passage.qnum, "title": h.passage.title,
                              "start": h.passage.start} for h in self.hits]}


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits for a question, and whether the corpus is judged not to answer it.

    ``missing`` lists technical terms of the question the corpus never uses (the
    sources cannot be about them), and parts (or a one-part question's subject) that
    no passage explains (``listed`` says which of those a source lists as a bare
    heading, ``named_in_list`` which a sentence names only as one item of a list);
    ``parts`` the per-concept hits of a multi-part question; ``searched_as`` the question
    with typos corrected.
    """

    question: str
    hits: tuple[Hit, ...]
    refused: bool
    confidence: float
    searched_as: str | None = None
    corrections: tuple[tuple[str, str], ...] = ()
    missing: tuple[str, ...] = ()
    parts: tuple[PartHits, ...] = ()
    sources: tuple[str, ...] = ()  # the source filter it was searched with (file names; empty: all)
    # missing terms that a source lists as a heading with no answer: (term, that passage's ref)
    listed: tuple[tuple[str, str], ...] = ()
    # missing terms a source names only as one item of a list: (term, that passage's ref, the sentence)
    named_in_list: tuple[tuple[str, str, str], ...] = ()

    def to_json(self) -> dict:
        """``rag search --json`` output."""
        return {
            "question": self.question,
            "refused": self.refused,
            "confidence": round(self.confidence, 4),
            "searched_as": self.searched_as or self.question,
            "corrections": [{"from": a, "to": b} for a, b in self.corrections],
            "missing_terms": list(self.missing),
            "listed_without_answer": [{"term": t, "passage": ref} for t, ref in self.listed],
            "named_only_in_list": [{"term": t, "passage": ref, "sentence": s} for t, ref, s in self.named_in_list],
            "parts": [p.to_json() for p in self.parts],
            "passages": [h.to_json() for h in self.hits],
        }


@dataclass(frozen=True)
class Citation:
    """Passage ``n`` (1-based marker [n]) as cited by an answer, with the quoted words."""

    n: int
    passage: Passage
    quote: str

    def to_json(self) -> dict:
        """One element of ``citations`` in ``rag ask --json``."""
        return {"n": self.n, **self.passage.to_json(), "quote": self.quote}


@dataclass(frozen=True)
class SentenceSupport:
    """One answer sentence, the passages it cites, and whether they back it."""

    text: str
    cites: tuple[int, ...]
    supported: bool
    support: float

    def to_json(self) -> dict:
        """One element of ``sentences`` in ``rag ask --json``."""
        return {"text": self.text, "cites": list(self.cites), "supported": self.supported,
                "support": round(self.support, 3)}


@dataclass(frozen=True)
class LeftOut:
    """A sentence of a model's answer that the citation check left out, and why."""

    text: str
    cited: tuple[str, ...]  # the references of the passages the model cited for it
    reason: str  # "“Apollo” is in no source", "cites no passage", ...

    def to_json(self) -> dict:
        """One element of ``left_out`` in ``rag ask --json``."""
        return {"text": self.text, "cited": list(self.cited), "reason": self.reason}


@dataclass(frozen=True)
class ListedBest:
    """The note that the best match is a question its source lists without an answer.

    It is the tool's statement about a source, not a claim taken from one, so it is kept
    apart from an answer's ``sentences`` (which are all claims the check supports).
    """

    text: str  # "GeeksforGeeks Q28 lists “Define Epoch, Iterations and Batches.” without an answer, …"
    n: int  # the citation number of that passage

    def to_json(self) -> dict:
        """``listed_best`` in ``rag ask --json``."""
        return {"text": self.text, "cites": [self.n]}


def cited_text(sentences) -> str:
    """An answer's text from its sentences, each followed by its markers ("… [1] [2]")."""
    return " ".join(s.text + "".join(f" [{n}]" for n in s.cites) for s in sentences)


@dataclass(frozen=True)
class Answer:
    """An answer to a question with its checked citations; the same for every generator."""

    question: str
    text: str
    refused: bool
    generator: str
    citations: tuple[Citation, ...] = ()
    sentences: tuple[SentenceSupport, ...] = ()
    notices: tuple[str, ...] = ()
    removed_markers: int = 0
    stats: dict = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    listed: tuple[tuple[str, str], ...] = ()  # as ``SearchResult.listed``
    named_in_list: tuple[tuple[str, str, str], ...] = ()  # as ``SearchResult.named_in_list``
    left_out: tuple[LeftOut, ...] = ()  # the model's sentences the check did not keep
    listed_best: ListedBest | None = None  # the best match is a heading with no answer

    def to_json(self) -> dict:
        """``rag ask --json`` output."""
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "generator": self.generator,
            "citations": [c.to_json() for c in self.citations],
            "sentences": [s.to_json() for s in self.sentences],
            "removed_markers": self.removed_markers,
            "missing_terms": list(self.missing),
            "listed_without_answer": [{"term": t, "passage": ref} for t, ref in self.listed],
            "named_only_in_list": [{"term": t, "passage": ref, "sentence": s} for t, ref, s in self.named_in_list],
            "notices": list(self.notices),
            "left_out": [x.to_json() for x in self.left_out],
            "listed_best": self.listed_best.to_json() if self.listed_best else None,
            "named": self.stats.get("named"),
        }
