"""Read the corpus folder: the documents, their titles and labels, and a fingerprint.

Documents are decoded from bytes (never with newline translation) so character
offsets computed here slice the same text every later reader sees.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rag.errors import CorpusError

__all__ = ["Document", "load_corpus", "corpus_fingerprint", "SOURCES_FILE", "MAX_DOCUMENT_BYTES"]

SOURCES_FILE = "sources.toml"
# The five documents are 8-27 kB. Parsing and chunking unstructured text costs ~50 s per
# MB on 2 cores (measured: 1 MB 53 s, 256 kB 14 s; a 20 MB file took minutes and 3.5 GB),
# so a file over this size is skipped with a one-line warning instead of stalling ingest
# without a word.
MAX_DOCUMENT_BYTES = 256_000
# Anything a reader could search for: not whitespace, not a control character (NUL included).
_VISIBLE = re.compile(r"[^\s\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Document:
    """One corpus file: its name is its source identifier."""

    source: str
    title: str
    label: str
    text: str
    sha256: str


def _sources(folder: Path) -> dict[str, dict[str, str]]:
    path = folder / SOURCES_FILE
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path} is not valid TOML: {exc}") from None
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def _files(folder: Path) -> list[Path]:
    if not folder.exists():
        raise CorpusError(f"corpus folder not found: {folder}")
    if not folder.is_dir():
        raise CorpusError(f"corpus path is not a folder: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix == ".txt" and p.is_file())


def load_corpus(folder: Path, warn: Callable[[str], None] = lambda _msg: None) -> list[Document]:
    """Read every ``*.txt`` in ``folder`` (sorted by name) with its title and label.

    A file over ``MAX_DOCUMENT_BYTES``, or one with no visible text (only NUL bytes or
    other control characters), is skipped with a one-line ``warn``; an unreadable or
    empty one is an error.
    """
    files = _files(folder)
    if not files:
        raise CorpusError(f"corpus folder has no .txt documents: {folder}")
    meta = _sources(folder)
    docs = []
    for path in files:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            warn(f"skipped {path.name}: {size / 1e3:,.0f} kB is over the {MAX_DOCUMENT_BYTES / 1e3:,.0f} kB "
                 "limit for one document (split it into smaller files)")
            continue
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CorpusError(f"{path.name} is not UTF-8 text (byte {exc.start})") from None
        if not text.strip():
            raise CorpusError(f"{path.name} is empty")
        if not _VISIBLE.search(text):
            warn(f"skipped {path.name}: it has no text, only NUL bytes or other control characters")
            continue
        info = meta.get(path.name, {})
        docs.append(
            Document(
                source=path.name,
                title=str(info.get("title") or path.stem),
                label=str(info.get("label") or path.stem),
                text=text,
                sha256=hashlib.sha256(raw).hexdigest(),
            )
        )
    if not docs:
        raise CorpusError(f"corpus folder has no document with text to index: {folder}")
    return docs


def corpus_fingerprint(folder: Path) -> dict[str, list]:
    """sha256 and modification time of every document and of sources.toml.

    The time is included so that touching a file rebuilds the index, as a user who
    touched it expects; hashing ~80 kB is cheap enough to do on every query.
    """
    paths = _files(folder) + [p for p in [folder / SOURCES_FILE] if p.exists()]
    return {p.name: [hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns] for p in paths}
