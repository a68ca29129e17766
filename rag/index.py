"""Open the search index for querying, building or rebuilding it when needed.

Loading reads FAISS binaries, JSON and an ONNX model: nothing is unpickled. A
missing, stale or damaged index is rebuilt with a one-line notice; a build that
fails leaves the previous index in place and raises a one-line error.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from rag.config import Settings
from rag.errors import IndexError_, RagError
from rag.keyword import BM25
from rag.records import Passage

__all__ = ["Index", "open_index"]


@dataclass
class Index:
    """Everything a query needs, loaded once and shared (read-only) between threads."""

    path: Path
    passages: list[Passage]
    chunk_passage: "np.ndarray"  # chunk row -> passage id
    dense: object  # faiss.Index over chunk embeddings
    titles: object  # faiss.Index over passage (question title) embeddings
    keyword_title: BM25
    keyword_body: BM25
    encoder: object  # rag.embed.OnnxEncoder
    manifest: dict
    aliases: object = None  # faiss.Index over other ways to ask for a passage (ingest.expand)
    alias_passage: "np.ndarray | None" = None  # alias row -> passage id

    @property
    def sources(self) -> dict[str, dict]:
        """Corpus file name -> {"title", "label", "sha256"}."""
        return self.manifest["sources"]

    def file_text(self, source: str) -> str:
        """The exact text of a corpus file as indexed (a PDF's extracted text), which
        passage offsets point into (for citation checks and deep links)."""
        from ingest.corpus import indexed_text

        return indexed_text(Path(self.manifest["corpus_dir"]) / source)


def _load(real: Path, settings: Settings) -> Index:
    import faiss

    from rag.embed import OnnxEncoder

    manifest = json.loads((real / "manifest.json").read_text(encoding="utf-8"))
    with open(real / "passages.jsonl", encoding="utf-8") as fh:
        passages = [Passage(**{k: row.get(k) for k in Passage.__dataclass_fields__})
                    for row in map(json.loads, fh)]
    with open(real / "chunks.jsonl", encoding="utf-8") as fh:
        chunk_passage = np.array([json.loads(line)["passage"] for line in fh], dtype=np.int64)
    keyword = json.loads((real / "keyword.json").read_text(encoding="utf-8"))
    dense = faiss.read_index(str(real / "chunks.faiss"))
    titles = faiss.read_index(str(real / "titles.faiss"))
    aliases = faiss.read_index(str(real / "aliases.faiss"))
    with open(real / "aliases.jsonl", encoding="utf-8") as fh:
        alias_passage = np.array([json.loads(line)["passage"] for line in fh], dtype=np.int64)
    if dense.ntotal != len(chunk_passage) or aliases.ntotal != len(alias_passage) or not (
        titles.ntotal == len(passages) == len(keyword["body"]) == len(keyword["title"])
    ):
        raise ValueError("index files disagree on the number of rows")
    if any(p.id != i for i, p in enumerate(passages)) or any(
        len(ids) and (ids.min() < 0 or ids.max() >= len(passages)) for ids in (chunk_passage, alias_passage)
    ):
        raise ValueError("passage ids are not row numbers")
    encoder = OnnxEncoder(real / "encoder" / "model.onnx", real / "encoder" / "tokenizer.json")
    manifest["corpus_dir"] = str(settings.corpus)
    return Index(real, passages, chunk_passage, dense, titles, BM25(keyword["title"]), BM25(keyword["body"]), encoder,
                 manifest, aliases, alias_passage)


def _load_live(settings: Settings) -> Index:
    """Load the version the live link points at.

    A build that swaps in a new version removes the old one; a reader that resolved
    the link just before the swap then finds its files gone. That is not damage: when
    the link has moved meanwhile, read the new version instead (a few times at most).
    """
    for _ in range(3):
        real = settings.index_dir.resolve()  # pin one version for every file read below
        try:
            return _load(real, settings)
        except RagError:
            raise
        except Exception:
            if settings.index_dir.resolve() == real:
                raise
    return _load(settings.index_dir.resolve(), settings)


_cache: dict[tuple, Index] = {}
_cache_lock = threading.Lock()


def open_index(
    settings: Settings,
    *,
    notify: Callable[[str], None] = lambda _msg: None,
    progress: bool = False,
    cached: bool = True,
) -> Index:
    """Return a loaded, current index for ``settings``; build it first if needed.

    ``notify`` receives one-line notices (e.g. "index stale: corpus changed; rebuilding").
    With ``cached`` the same process reuses one loaded index per (corpus, data dir).
    """
    from ingest.build import build_index, index_status

    key = (str(settings.corpus), str(settings.index_dir), settings.max_tokens)
    with _cache_lock:
        if cached and key in _cache:
            return _cache[key]
        status = index_status(settings)
        if status != "current":  # build_index says why in its notice
            build_index(settings, progress=progress, notify=notify)
        try:
            index = _load_live(settings)
        except RagError:
            raise
        except Exception as exc:  # damaged in a way the manifest did not catch: rebuild once
            notify(f"index damaged ({type(exc).__name__}); rebuilding")
            build_index(settings, force=True, progress=progress, notify=notify)
            try:
                index = _load_live(settings)
            except Exception as exc2:
                raise IndexError_(f"index at {settings.index_dir} cannot be loaded: {exc2}") from None
        if cached:
            _cache[key] = index
        return index
