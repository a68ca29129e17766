"""What ingest made of each file: its format and layout, questions, prose passages,
hidden boilerplate, and the files it skipped. ``rag ingest`` prints it after a build;
``rag ingest --dry-run`` prints it without building anything (parsing only, no model).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.corpus import Corpus, Document, Skipped, read_corpus
from ingest.parse import BOILERPLATE, INTRO, PROSE, QA, Parsed, analyse_document

__all__ = ["FileReport", "CorpusReport", "file_report", "corpus_report"]


@dataclass(frozen=True)
class FileReport:
    """How one document was split."""

    file: str
    format: str
    layout: str
    label: str
    questions: int
    prose: int
    intro: int
    hidden_chars: int
    chars: int
    pages: int | None
    boilerplate_rules: bool

    def to_json(self) -> dict:
        """One element of ``files`` in ``rag ingest --json``."""
        return {"file": self.file, "format": self.format, "layout": self.layout, "label": self.label,
                "questions": self.questions, "prose": self.prose, "intro": self.intro,
                "hidden_chars": self.hidden_chars, "chars": self.chars, "pages": self.pages,
                "boilerplate_rules": self.boilerplate_rules}

    @property
    def warning(self) -> str | None:
        """A one-line reason to look at this file, or None."""
        if self.questions == 0 and self.prose == 0:
            return "nothing searchable was found in it"
        if self.hidden_chars > 0.5 * self.chars:
            return (f"{self.hidden_chars:,} of its {self.chars:,} characters are hidden as adverts or navigation "
                    "(sources.toml: boilerplate = false keeps them)")
        return None


@dataclass(frozen=True)
class CorpusReport:
    """Every document's report and the files skipped."""

    folder: str
    files: tuple[FileReport, ...]
    skipped: tuple[Skipped, ...]
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict:
        """The ``files``, ``skipped`` and ``warnings`` parts of ``rag ingest --json``."""
        return {"corpus": self.folder, "files": [f.to_json() for f in self.files],
                "skipped": [{"file": s.source, "reason": s.reason} for s in self.skipped],
                "warnings": list(self.warnings)}


def file_report(doc: Document, parsed: Parsed) -> FileReport:
    """Count what the parser made of ``doc``."""
    units = parsed.units
    return FileReport(
        file=doc.source, format=doc.format, layout=parsed.layout, label=doc.label,
        questions=sum(u.kind == QA for u in units), prose=sum(u.kind == PROSE for u in units),
        intro=sum(u.kind == INTRO for u in units),
        hidden_chars=sum(len(u.text) for u in units if u.kind == BOILERPLATE),
        chars=len(doc.text), pages=len(doc.pages) if doc.pages else None, boilerplate_rules=doc.boilerplate)


def parse(doc: Document) -> Parsed:
    """Parse one document with its own ``sources.toml`` settings."""
    return analyse_document(doc.text, doc.source, boilerplate=doc.boilerplate)


def corpus_report(folder: Path, corpus: Corpus | None = None) -> CorpusReport:
    """Parse every document of ``folder`` (no embedding, nothing written) and report."""
    corpus = corpus or read_corpus(folder)
    files = tuple(file_report(d, parse(d)) for d in corpus.documents)
    return CorpusReport(str(folder), files, tuple(corpus.skipped), tuple(corpus.warnings))
