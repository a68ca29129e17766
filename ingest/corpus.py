"""Read the corpus folder: the documents, their titles and labels, and a fingerprint.

Documents are ``.txt`` and ``.md`` files (decoded from bytes, never with newline
translation, so character offsets computed here slice the same text every later
reader sees) and ``.pdf`` files (their text extracted with pypdf, page by page, and
offsets given into that extracted text). Sub-folders are read too, and extensions in
any case (``NOTES.TXT``); a document's source identifier is its path relative to the
corpus folder. A file that cannot be used (not UTF-8, empty, unreadable, a PDF with
no text) is skipped with a one-line reason; the rest is indexed.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from rag.errors import CorpusError

__all__ = ["Document", "Skipped", "Corpus", "read_corpus", "load_corpus", "corpus_fingerprint", "document_text",
           "SOURCES_FILE", "MAX_DOCUMENT_BYTES", "FORMATS", "document_files"]

SOURCES_FILE = "sources.toml"
# The five bundled documents are 8-27 kB. Parsing and chunking unstructured text costs ~50 s
# per MB on 2 cores (measured: 1 MB 53 s, 256 kB 14 s; a 20 MB file took minutes and 3.5 GB),
# so a document whose text is over this size is skipped with a one-line warning instead of
# stalling ingest without a word.
MAX_DOCUMENT_BYTES = 256_000
MAX_PDF_BYTES = 50_000_000  # a PDF's file (images and fonts included) before its text is measured
FORMATS = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".pdf": "pdf"}
PAGE_BREAK = "\n\n"  # what joins the text of two PDF pages
# Anything a reader could search for: not whitespace, not a control character (NUL included).
_VISIBLE = re.compile(r"[^\s\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Document:
    """One corpus file: its relative path is its source identifier.

    ``pages`` holds the character offset where each PDF page starts in ``text``
    (empty for text files); ``boilerplate`` is False when ``sources.toml`` turns the
    advert and navigation rules off for this file.
    """

    source: str
    title: str
    label: str
    text: str
    sha256: str
    format: str = "text"
    pages: tuple[int, ...] = ()
    boilerplate: bool = True

    def page_of(self, offset: int) -> int | None:
        """1-based PDF page holding character ``offset`` (None for text files)."""
        if not self.pages:
            return None
        import bisect

        return bisect.bisect_right(self.pages, offset)


@dataclass(frozen=True)
class Skipped:
    """A file of the corpus folder that was not indexed, and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class Corpus:
    """The documents read from a folder and the files skipped."""

    folder: Path
    documents: list[Document]
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a sources.toml entry that names no file

    def notes(self) -> list[str]:
        """One line for each file skipped (naming it and why) and each warning."""
        return [f"skipped {s.source}: {s.reason}" for s in self.skipped] + self.warnings


def _sources(folder: Path) -> dict[str, dict]:
    path = folder / SOURCES_FILE
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise CorpusError(f"{path} cannot be read ({exc.strerror or exc})") from None
    out = {k: v for k, v in data.items() if isinstance(v, dict)}
    loose = [k for k, v in data.items() if not isinstance(v, dict)]
    if loose:  # `label = "Mine"` above every [section]: it says which file it is for nowhere
        raise CorpusError(f"{path}: {loose[0]!r} is outside any [\"file name\"] section")
    # A misspelt key ("boilerplat = false") would be ignored without a word: say so.
    for name, entry in out.items():
        for key, value in entry.items():
            if key not in SOURCE_KEYS:
                raise CorpusError(f"{path}: [{name!r}] has an unknown key {key!r} (known: {', '.join(SOURCE_KEYS)})")
            if not isinstance(value, SOURCE_KEYS[key]):
                kind = "true or false" if SOURCE_KEYS[key] is bool else "text in quotes"
                raise CorpusError(f"{path}: [{name!r}] {key} must be {kind}, not {value!r}")
    return out


SOURCE_KEYS = {"title": str, "label": str, "boilerplate": bool}  # what sources.toml may say of a file


def _walk(folder: Path) -> tuple[list[Path], list[Skipped]]:
    """Every visible file under ``folder`` (sub-folders included), sorted by relative path,
    and what could not be looked at: a sub-folder that cannot be listed, a broken link."""
    if not folder.exists():
        raise CorpusError(f"corpus folder not found: {folder}")
    if not folder.is_dir():
        raise CorpusError(f"corpus path is not a folder: {folder}")
    out: list[Path] = []
    unusable: list[Skipped] = []

    def unlisted(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else folder
        if where == folder:
            raise CorpusError(f"corpus folder cannot be read ({exc.strerror or exc}): {folder}")
        unusable.append(Skipped(where.relative_to(folder).as_posix() + "/",
                                f"folder cannot be read ({exc.strerror or exc})"))

    for root, dirs, names in os.walk(folder, onerror=unlisted):
        for d in dirs:
            if not d.startswith(".") and (Path(root) / d).is_symlink():
                # os.walk does not follow links to folders (a link may loop): say so
                unusable.append(Skipped((Path(root) / d).relative_to(folder).as_posix() + "/",
                                        "a link to a folder (not followed; copy the files in)"))
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (Path(root) / d).is_symlink())
        for name in names:
            p = Path(root) / name
            rel = p.relative_to(folder)
            if name.startswith(".") or rel.as_posix() == SOURCES_FILE:
                continue
            if p.is_file():
                out.append(p)
            elif p.is_symlink() and not p.exists():
                unusable.append(Skipped(rel.as_posix(), "a link to nothing (its target is gone, or the link loops)"))
    return (sorted(out, key=lambda p: p.relative_to(folder).as_posix()),
            sorted(unusable, key=lambda s: s.source))


def document_files(folder: Path) -> list[Path]:
    """The documents of a corpus folder: files whose extension (any case) is a known format."""
    return [p for p in _walk(folder)[0] if p.suffix.lower() in FORMATS]


_WRAP = re.compile(r"(?<=[^\s.!?:;])\n(?=[a-z])")


def _pdf_text(path: Path) -> tuple[str, tuple[int, ...]]:
    """The text of a PDF, its pages joined by ``PAGE_BREAK``, and where each page starts."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError:  # pragma: no cover - a broken install
        raise CorpusError("reading PDF needs pypdf: pip install pypdf") from None
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise ValueError("it is encrypted")
        # A line of a PDF ends where the page's width ran out, not where a sentence did:
        # a break inside a sentence (no stop before it, a lower-case word after it) is a
        # space, so the sentence is quoted and checked whole. (Same length: offsets hold.)
        texts = [_WRAP.sub(" ", (page.extract_text() or "").replace("\x00", "")) for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ValueError(f"not a readable PDF ({str(exc) or type(exc).__name__})") from None
    starts, parts, pos = [], [], 0
    for t in texts:
        starts.append(pos)
        parts.append(t)
        pos += len(t) + len(PAGE_BREAK)
    return PAGE_BREAK.join(parts), tuple(starts)


def document_text(path: Path) -> tuple[str, tuple[int, ...], bytes]:
    """A document's text, its PDF page starts (empty for text), and its raw bytes.

    Raises ``ValueError`` with a short reason when the file cannot be used.
    """
    size = path.stat().st_size
    if path.suffix.lower() != ".pdf" and size > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{size / 1e3:,.0f} kB is over the {MAX_DOCUMENT_BYTES / 1e3:,.0f} kB "
                         "limit for one document (split it into smaller files)")
    raw = path.read_bytes()
    if path.suffix.lower() == ".pdf":
        if len(raw) > MAX_PDF_BYTES:
            raise ValueError(f"{len(raw) / 1e6:,.0f} MB is over the {MAX_PDF_BYTES / 1e6:,.0f} MB limit for one PDF")
        text, pages = _pdf_text(path)
        if not _VISIBLE.search(text):
            raise ValueError("the PDF has no extractable text (a scan? run OCR first)")
    else:
        try:
            # (a byte-order mark, as some Windows editors write, is no part of the text:
            # left in, it hides the first line's heading or question from the parser)
            text = raw.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
        pages = ()
        if not text.strip():
            raise ValueError("it is empty")
        if not _VISIBLE.search(text):
            raise ValueError("it has no text, only NUL bytes or other control characters")
    if pages and len(text.encode("utf-8")) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{len(text.encode('utf-8')) / 1e3:,.0f} kB of text is over the "
                         f"{MAX_DOCUMENT_BYTES / 1e3:,.0f} kB limit for one document (split it into smaller files)")
    return text, pages, raw


@lru_cache(maxsize=64)
def _cached_text(path: str, size: int, mtime_ns: int) -> str:
    return document_text(Path(path))[0]


def indexed_text(path: Path) -> str:
    """The text a document's offsets point into (cached while the file is unchanged)."""
    st = path.stat()
    return _cached_text(str(path), st.st_size, st.st_mtime_ns)


_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


def first_heading(text: str) -> str | None:
    """The document's first heading: a Markdown heading near the top, else a short first line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()][:40]
    for ln in lines:
        m = _MD_HEADING.match(ln)
        if m:
            heading = re.sub(r"[*_`]", "", _CONTROL.sub("", m.group(1))).strip()
            if heading and not heading.endswith("?") and not _LABEL.match(heading):
                return heading
            break  # the first heading asks: it is the first question, not a title
    if lines:
        first = re.sub(r"[*_`#]", "", _CONTROL.sub("", lines[0])).strip()
        # A first line that asks or opens a numbered item is the first question, not a
        # title ("Q: What is gradient clipping?" would name the source in every citation).
        if (first and len(first) <= 100 and len(first.split()) <= 14 and not first.endswith((".", ",", ";", "?"))
                and not _ITEM.match(first)):
            return first
    return None


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060\ufeff]")
_LABEL = re.compile(r"^(?:q(?:uestion)?\s*\d*\s*[:.)]|a(?:nswer)?\s*[:)])", re.I)  # "Q1.", "Question:", "A:"
_ITEM = re.compile(_LABEL.pattern + r"|^\d+\s*[.)]\s", re.I)  # ... or a numbered line


def _short_label(heading: str, limit: int = 40) -> str:
    if len(heading) <= limit:
        return heading
    cut = heading[:limit].rsplit(" ", 1)[0].rstrip(" :–-,")
    return cut + "…"


def read_corpus(folder: Path) -> Corpus:
    """Read every document under ``folder`` with its title, label and format.

    Raises ``CorpusError`` only when the folder itself is unusable (missing, not a
    folder, no documents, bad ``sources.toml``, nothing readable); a bad file is listed
    in ``skipped`` with its reason.
    """
    candidates, unusable = _walk(folder)
    files = [p for p in candidates if p.suffix.lower() in FORMATS]
    skipped = unusable + [Skipped(p.relative_to(folder).as_posix(), "not a supported format (.txt, .md, .pdf)")
                          for p in candidates if p.suffix.lower() not in FORMATS]
    if not files:
        raise CorpusError(f"corpus folder has no .txt, .md or .pdf documents: {folder}")
    meta = _sources(folder)
    docs: list[Document] = []
    for path in files:
        rel = path.relative_to(folder).as_posix()
        try:
            text, pages, raw = document_text(path)
        except ValueError as exc:
            skipped.append(Skipped(rel, str(exc)))
            continue
        except OSError as exc:
            skipped.append(Skipped(rel, f"cannot be read ({exc.strerror or exc})"))
            continue
        info = meta.get(rel, {})
        heading = first_heading(text)
        docs.append(Document(
            source=rel,
            title=str(info.get("title") or heading or path.stem),
            label=str(info.get("label") or (_short_label(heading) if heading else path.stem)),
            text=text,
            sha256=hashlib.sha256(raw).hexdigest(),
            format=FORMATS[path.suffix.lower()],
            pages=pages,
            boilerplate=bool(info.get("boilerplate", True)),
        ))
    # Labels name sources in filters and cards: two documents with one heading get their file stem too.
    seen: dict[str, int] = {}
    for d in docs:
        seen[d.label.lower()] = seen.get(d.label.lower(), 0) + 1
    docs = [d if seen[d.label.lower()] == 1 else Document(d.source, d.title, f"{d.label} ({Path(d.source).stem})",
                                                           d.text, d.sha256, d.format, d.pages, d.boilerplate)
            for d in docs]
    if not docs:
        reasons = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:3])
        raise CorpusError(f"corpus folder has no document with text to index: {folder} ({reasons})")
    known = {p.relative_to(folder).as_posix() for p in candidates}
    warnings = [f"{SOURCES_FILE}: [{name!r}] names no file of the folder" + (
        f" (file names are case-sensitive: {match[0]!r}?)" if (match := [k for k in known if k.lower() == name.lower()])
        else "") for name in meta if name not in known]
    return Corpus(folder, docs, skipped, warnings)


def load_corpus(folder: Path, warn: Callable[[str], None] = lambda _msg: None) -> list[Document]:
    """The documents of ``folder``; each skipped file gets a one-line ``warn`` naming it and why."""
    corpus = read_corpus(folder)
    for note in corpus.notes():
        warn(note)
    return corpus.documents


def corpus_fingerprint(folder: Path) -> dict[str, list]:
    """sha256 and modification time of every document and of sources.toml.

    The time is included so that touching a file rebuilds the index, as a user who
    touched it expects; hashing ~100 kB is cheap enough to do on every query.
    """
    paths = document_files(folder) + [p for p in [folder / SOURCES_FILE] if p.exists()]
    out: dict[str, list] = {}
    for p in paths:
        try:
            out[p.relative_to(folder).as_posix()] = [hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns]
        except OSError as exc:
            # an unreadable file is skipped by the build: its state is that it cannot be read
            out[p.relative_to(folder).as_posix()] = [f"unreadable: {exc.strerror or type(exc).__name__}", None]
    return out
