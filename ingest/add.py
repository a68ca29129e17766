"""Add documents to the corpus (the app's upload, ``rag add FILE…``) or set one aside, and rebuild.

The checkout's bundled ``corpus/`` is never written to. The first document added while
the index is built from it makes a folder of one's own, ``$RAG_HOME/documents``, with a
copy of the bundled five (and their ``sources.toml``) beside the new file; the index is
rebuilt from that folder, so every command and the app use it from then on (the index
remembers its corpus). A folder of one's own is added to in place.

Nothing the user has is overwritten or lost: each file is read as ingest would read it
(format, UTF-8, size, text in a PDF) before it is written, and refused with the reason if
it cannot be used or if a different file already has its name; a removed document is
moved to ``$RAG_HOME/removed/``, not deleted, and moved back if the index cannot be
rebuilt without it. One addition or removal at a time (a lock in ``$RAG_HOME``), so two
app sessions cannot interleave.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ingest.build import BuildReport, build_index, file_lock
from ingest.corpus import FORMATS, SOURCES_FILE, document_files, document_text
from rag.config import DEFAULT_CORPUS, Settings
from rag.errors import RagError, UserError

__all__ = ["Added", "AddReport", "add_documents", "remove_document", "documents_folder", "own_documents"]

DOCUMENTS = "documents"  # under $RAG_HOME: the folder of one's own made at the first addition
REMOVED = "removed"  # under $RAG_HOME: documents set aside by ``remove_document``


@dataclass(frozen=True)
class Added:
    """What became of one offered file: ``added``, ``unchanged`` (the same bytes were
    already there) or ``refused`` (with the reason)."""

    name: str
    status: str
    reason: str = ""

    def to_json(self) -> dict:
        """One element of ``files`` in ``rag add --json``."""
        return {"file": self.name, "status": self.status, "reason": self.reason}


@dataclass(frozen=True)
class AddReport:
    """The folder written to, each offered file's outcome, and the rebuild (None when
    the index did not change)."""

    folder: Path
    files: tuple[Added, ...]
    build: BuildReport | None

    @property
    def added(self) -> tuple[str, ...]:
        """Names of the files written."""
        return tuple(f.name for f in self.files if f.status == "added")

    def to_json(self) -> dict:
        """``rag add --json`` output."""
        return {"folder": str(self.folder), "files": [f.to_json() for f in self.files],
                "index": self.build.to_json() if self.build is not None else None}


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _is_bundled(folder: Path) -> bool:
    return _same(folder, DEFAULT_CORPUS)


def documents_folder(settings: Settings, environ: dict[str, str] | None = None) -> Path:
    """The folder new documents go to: the corpus that builds the index, or, when that is
    the bundled ``corpus/``, ``$RAG_HOME/documents``.

    Raises ``UserError`` when ``RAG_CORPUS`` pins the bundled corpus (the next command
    would rebuild from it and leave the added documents out)."""
    if not _is_bundled(settings.corpus):
        return settings.corpus
    env = os.environ if environ is None else environ
    if env.get("RAG_CORPUS"):
        raise UserError(f"RAG_CORPUS names the bundled corpus ({settings.corpus}), which is not written to; "
                        "unset it, or set it to a folder of your own, to add documents")
    return settings.home / DOCUMENTS


def _changing(home: Path) -> contextlib.AbstractContextManager[None]:
    """One addition or removal at a time, across processes and the app's sessions."""
    return file_lock(home / ".documents.lock",
                     lambda exc: f"cannot write in {home} ({exc.strerror or exc}); set RAG_HOME to a writable folder")


def _seed(folder: Path) -> None:
    """Make ``folder`` with a copy of the bundled documents and their ``sources.toml``:
    whole or not at all (a failed copy leaves nothing behind)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        for p in sorted(DEFAULT_CORPUS.iterdir()):
            if p.is_file() and (p.suffix.lower() in FORMATS or p.name == SOURCES_FILE):
                shutil.copy2(p, tmp / p.name)
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _check(name: str, data: bytes, scratch: Path) -> Added:
    """Whether ingest can use a file of this name and these bytes: ``added`` (not yet
    written) or ``refused`` with the reason."""
    base = Path(name.replace("\\", "/")).name  # an upload's or a path's last part only
    if not base or base.startswith(".") or base == SOURCES_FILE:
        return Added(name, "refused", "not a document name")
    if Path(base).suffix.lower() not in FORMATS:
        return Added(base, "refused", "not a supported format (.txt, .md or .pdf)")
    probe = scratch / f"probe{Path(base).suffix}"
    try:
        probe.write_bytes(data)
        document_text(probe)  # raises ValueError with the reason ingest would skip it for
    except ValueError as exc:
        return Added(base, "refused", str(exc))
    finally:
        probe.unlink(missing_ok=True)
    return Added(base, "added")


def _clash(existing: Path, base: str, data: bytes, where: Path) -> Added | None:
    """The outcome when ``existing`` (a folder's listing, or the bundled corpus a new
    folder would copy) already has a file named ``base`` in any case; None if free."""
    taken = [p for p in existing.iterdir() if p.name.lower() == base.lower()] if existing.is_dir() else []
    if not taken:
        return None
    try:
        same = taken[0].is_file() and taken[0].read_bytes() == data
    except OSError:
        same = False
    if same:
        return Added(base, "unchanged", f"already in {where}")
    return Added(base, "refused", f"a different {taken[0].name} is already in {where}; rename the new file")


def _place(folder: Path, base: str, data: bytes) -> Added:
    """Write a checked file into ``folder`` under ``base`` unless its name is taken."""
    clash = _clash(folder, base, data, folder)
    if clash is not None:
        return clash
    tmp = folder / f".adding-{os.getpid()}{Path(base).suffix}"
    try:
        tmp.write_bytes(data)
        os.link(tmp, folder / base)  # never replaces a file, never shows a half-written one
    except FileExistsError:
        return Added(base, "refused", f"a different {base} is already in {folder}; rename the new file")
    except OSError as exc:
        return Added(base, "refused", f"cannot be written to {folder} ({exc.strerror or exc})")
    finally:
        tmp.unlink(missing_ok=True)
    return Added(base, "added")


def add_documents(
    settings: Settings,
    files: list[tuple[str, bytes]],
    *,
    environ: dict[str, str] | None = None,
    progress: bool = False,
    notify: Callable[[str], None] = lambda _msg: None,
) -> AddReport:
    """Write ``files`` (name, bytes) into the corpus folder of ``settings`` (see
    ``documents_folder``) and rebuild the index from that folder when any was added
    (or when a file already there is not in the index yet).

    Raises ``UserError`` when the folder cannot be used or the rebuild fails (then it
    says which files were written and how to index them); a file that cannot be used is
    refused in the report, and the others are still added.
    """
    folder = documents_folder(settings, environ)
    with _changing(settings.home):
        if folder.exists() and not folder.is_dir():
            raise UserError(f"{folder} exists and is not a folder; move it away to add documents")
        if not folder.exists() and not _is_bundled(settings.corpus):
            raise UserError(f"corpus folder not found: {folder}")
        with tempfile.TemporaryDirectory(prefix="rag-add-") as scratch:
            checked = [_check(name, data, Path(scratch)) for name, data in files]
        if not folder.exists():
            # Judge names against what the new folder would hold before making it, so
            # nothing is made, and the index stays on the bundled corpus, for nothing.
            checked = [(_clash(DEFAULT_CORPUS, c.name, data, DEFAULT_CORPUS) or c) if c.status == "added" else c
                       for c, (_, data) in zip(checked, files)]
            if not any(c.status == "added" for c in checked):
                return AddReport(folder, tuple(checked), None)
            try:
                _seed(folder)
            except OSError as exc:
                raise UserError(f"cannot make {folder} ({exc.strerror or exc})") from None
            notify(f"made {folder} with a copy of the bundled documents; new documents go there")
        outcomes = tuple(_place(folder, c.name, data) if c.status == "added" else c
                         for c, (_, data) in zip(checked, files))
        added = [o.name for o in outcomes if o.status == "added"]
        waiting = any(o.status == "unchanged" for o in outcomes) and not _same(settings.corpus, folder)
        if not added and not waiting:
            return AddReport(folder, outcomes, None)  # the index already reads everything offered
        try:
            build = build_index(replace(settings, corpus=folder), progress=progress, notify=notify)
        except RagError as exc:
            raise UserError(f"{', '.join(added) or 'the documents'} in {folder}, but the index was not rebuilt "
                            f"({exc}); run: rag ingest --corpus {folder}") from None
        return AddReport(folder, outcomes, build)


def own_documents(settings: Settings) -> list[str]:
    """Documents of the corpus folder (paths relative to it) that are not copies of the
    bundled ones: what the app offers to set aside."""
    if _is_bundled(settings.corpus) or not settings.corpus.is_dir():
        return []
    out = []
    for p in document_files(settings.corpus):
        rel = p.relative_to(settings.corpus).as_posix()
        twin = DEFAULT_CORPUS / rel
        try:  # (the sizes first: this runs on every render of the Corpus page)
            if twin.is_file() and twin.stat().st_size == p.stat().st_size and twin.read_bytes() == p.read_bytes():
                continue
        except OSError:
            pass
        out.append(rel)
    return out


def _kept_name(kept: Path, name: str) -> Path:
    """A name in ``kept`` that no earlier removed file has."""
    dest, n = kept / name, 1
    while dest.exists():
        n += 1
        dest = kept / f"{Path(name).stem}.{n}{Path(name).suffix}"
    return dest


def remove_document(settings: Settings, name: str, *, progress: bool = False,
                    notify: Callable[[str], None] = lambda _msg: None) -> tuple[Path, BuildReport]:
    """Move document ``name`` (its path in the corpus folder, as ``rag search`` names its
    source) into ``$RAG_HOME/removed/`` and rebuild the index without it. If the index
    cannot be rebuilt without it, the document is moved back.

    Raises ``UserError`` for the bundled corpus, a name the folder does not hold, its
    only document, or a failed rebuild."""
    corpus = settings.corpus
    if _is_bundled(corpus):
        raise UserError("the bundled corpus is not changed; add a document first to get a folder of your own")
    with _changing(settings.home):
        try:
            docs = {p.relative_to(corpus).as_posix(): p for p in document_files(corpus)}
        except RagError as exc:
            raise UserError(str(exc)) from None
        src = docs.get(name.replace("\\", "/").strip("/"))
        if src is None:
            raise UserError(f"no document {name!r} in {corpus}")
        if len(docs) == 1:
            raise UserError(f"{name} is the only document in {corpus}; an index needs one")
        kept = settings.home / REMOVED
        try:
            kept.mkdir(parents=True, exist_ok=True)
            dest = _kept_name(kept, src.name)
            shutil.move(src, dest)
        except OSError as exc:
            raise UserError(f"cannot move {name} to {kept} ({exc.strerror or exc})") from None
        notify(f"moved {name} to {dest}")
        try:
            return dest, build_index(settings, progress=progress, notify=notify)
        except RagError as exc:
            shutil.move(dest, src)  # the index still holds it: put it back where it was
            raise UserError(f"{name} was not removed: the index cannot be rebuilt without it ({exc})") from None
