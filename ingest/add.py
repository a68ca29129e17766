"""Add documents to the corpus (the app's upload, ``rag add FILE…``) or set one aside, and rebuild.

The checkout's bundled ``corpus/`` is never written to. The first document added while
the index is built from it makes a folder of one's own, ``$RAG_HOME/documents``, with a
copy of the bundled five (and their ``sources.toml``) beside the new file; the index is
rebuilt from that folder, so every command and the app use it from then on (the index
remembers its corpus). A folder of one's own is added to in place.

Nothing the user has is overwritten or lost: each file is read as ingest would read it
(format, UTF-8, size, text in a PDF) before it is written, and refused with the reason if
it cannot be used or if a different file already has its name; a removed document is
moved to ``$RAG_HOME/removed/``, not deleted.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ingest.build import BuildReport, build_index
from ingest.corpus import FORMATS, SOURCES_FILE, document_text
from rag.config import DEFAULT_CORPUS, Settings
from rag.errors import UserError

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
    nothing changed)."""

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


def _is_bundled(folder: Path) -> bool:
    try:
        return folder.resolve() == DEFAULT_CORPUS.resolve()
    except OSError:
        return False


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


def _seed(folder: Path) -> None:
    """Make ``folder`` with a copy of the bundled documents and their ``sources.toml``."""
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for p in sorted(DEFAULT_CORPUS.iterdir()):
        if p.is_file() and (p.suffix.lower() in FORMATS or p.name == SOURCES_FILE):
            shutil.copy2(p, tmp / p.name)
    os.replace(tmp, folder)  # whole or not at all


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


def _place(folder: Path, base: str, data: bytes) -> Added:
    """Write a checked file into ``folder`` unless a different file has its name."""
    taken = [p for p in folder.iterdir() if p.name.lower() == base.lower()]
    if taken:
        if taken[0].is_file() and taken[0].read_bytes() == data:
            return Added(base, "unchanged", f"already in {folder}")
        return Added(base, "refused", f"a different {taken[0].name} is already in {folder}; rename the new file")
    tmp = folder / f".adding-{os.getpid()}-{time.monotonic_ns()}{Path(base).suffix}"
    try:
        tmp.write_bytes(data)
        os.replace(tmp, folder / base)  # never a half-written document under its name
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
    ``documents_folder``) and rebuild the index from that folder when any was added.

    Raises ``UserError`` when the folder cannot be used; a file that cannot is refused
    in the report, and the others are still added.
    """
    import tempfile

    folder = documents_folder(settings, environ)
    if not folder.exists() and not _is_bundled(settings.corpus):
        raise UserError(f"corpus folder not found: {folder}")
    with tempfile.TemporaryDirectory(prefix="rag-add-") as scratch:
        checked = [_check(name, data, Path(scratch)) for name, data in files]
    if not folder.exists() and any(c.status == "added" for c in checked):
        # (only for a usable file: refusing everything leaves the bundled corpus in use)
        try:
            _seed(folder)
        except OSError as exc:
            raise UserError(f"cannot make {folder} ({exc.strerror or exc})") from None
        notify(f"made {folder} with a copy of the bundled documents; new documents go there")
    outcomes = tuple(c if c.status == "refused" else _place(folder, c.name, data)
                     for c, (_, data) in zip(checked, files))
    if not any(o.status == "added" for o in outcomes) and (not folder.exists() or _same_corpus(settings, folder)):
        return AddReport(folder, outcomes, None)  # nothing new, and the index already reads this folder
    build = build_index(replace(settings, corpus=folder), progress=progress, notify=notify)
    return AddReport(folder, outcomes, build)


def _same_corpus(settings: Settings, folder: Path) -> bool:
    try:
        return settings.corpus.resolve() == folder.resolve()
    except OSError:
        return False


def own_documents(settings: Settings) -> list[str]:
    """Documents of the corpus folder that the bundled corpus does not hold (by name and
    content): the ones ``remove_document`` may set aside."""
    if _is_bundled(settings.corpus) or not settings.corpus.is_dir():
        return []
    bundled = {p.name: p for p in DEFAULT_CORPUS.iterdir() if p.is_file()}
    out = []
    for p in sorted(settings.corpus.iterdir()):
        if not p.is_file() or p.name.startswith(".") or p.suffix.lower() not in FORMATS:
            continue
        twin = bundled.get(p.name)
        if twin is None or twin.read_bytes() != p.read_bytes():
            out.append(p.name)
    return out


def remove_document(settings: Settings, name: str, *, progress: bool = False,
                    notify: Callable[[str], None] = lambda _msg: None) -> tuple[Path, BuildReport]:
    """Move document ``name`` out of the corpus folder into ``$RAG_HOME/removed/`` (kept,
    under a timestamped name if one is there already) and rebuild the index.

    Raises ``UserError`` for the bundled corpus or a name the folder does not hold."""
    if _is_bundled(settings.corpus):
        raise UserError("the bundled corpus is not changed; add a document first to get a folder of your own")
    src = settings.corpus / Path(name).name
    if not src.is_file() or src.suffix.lower() not in FORMATS:
        raise UserError(f"no document {name!r} in {settings.corpus}")
    others = [p for p in settings.corpus.iterdir()
              if p.is_file() and p != src and not p.name.startswith(".") and p.suffix.lower() in FORMATS]
    if not others:
        raise UserError(f"{src.name} is the only document in {settings.corpus}; an index needs one")
    kept = settings.home / REMOVED
    kept.mkdir(parents=True, exist_ok=True)
    dest = kept / src.name
    if dest.exists():
        dest = kept / f"{src.stem}.{time.strftime('%Y%m%d-%H%M%S')}{src.suffix}"
    shutil.move(src, dest)
    notify(f"moved {src.name} to {dest}")
    return dest, build_index(settings, progress=progress, notify=notify)
