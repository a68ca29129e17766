"""One settings object for the whole pipeline, read from ``RAG_*`` environment variables.

Every field has a description and bounds; an unknown ``RAG_*`` variable is an error,
so a misspelt setting fails loudly instead of being ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from rag.errors import UserError

__all__ = ["Settings", "PROJECT_ROOT", "DEFAULT_CORPUS", "MAX_QUESTION_CHARS"]

# Nothing in this project may reach a model hub: set before any HF library loads.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = PROJECT_ROOT / "corpus"
MAX_QUESTION_CHARS = 2000


def _default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rag-dlqa"


@dataclass(frozen=True)
class Settings:
    """Where things live and the parameters that shape the index and the answers."""

    home: Path = field(default_factory=_default_home, metadata={"env": "RAG_HOME",
                       "help": "data directory: index, assembled local model"})
    corpus: Path = field(default=DEFAULT_CORPUS, metadata={"env": "RAG_CORPUS",
                         "help": "folder of documents (.txt, .md, .pdf) and sources.toml; "
                         "default: the folder that built the index, else the bundled corpus"})
    index: Path | None = field(default=None, metadata={"env": "RAG_INDEX",
                               "help": "index folder (default: HOME/index)"})
    max_tokens: int = field(default=254, metadata={"env": "RAG_MAX_TOKENS", "min": 32, "max": 510,
                            "help": "word pieces per chunk (MiniLM reads 256 with 2 special tokens)"})
    k: int = field(default=5, metadata={"env": "RAG_K", "min": 1, "max": 50,
                   "help": "passages returned by default"})
    api_base: str = field(default="", metadata={"env": "RAG_API_BASE",
                          "help": "OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1"})
    api_model: str = field(default="", metadata={"env": "RAG_API_MODEL", "help": "model name at the API"})
    api_key: str = field(default="", metadata={"env": "RAG_API_KEY", "help": "API key (or OPENAI_API_KEY)"})
    timeout: float = field(default=120.0, metadata={"env": "RAG_TIMEOUT", "min": 1.0, "max": 3600.0,
                           "help": "seconds a generation may take before falling back"})

    @property
    def index_dir(self) -> Path:
        """The live index folder: ``index`` if set, else ``home/index``."""
        return self.index if self.index is not None else self.home / "index"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> "Settings":
        """Build settings from ``RAG_*`` variables, then apply explicit overrides."""
        env = os.environ if environ is None else environ
        known = {f.metadata["env"]: f for f in fields(cls)}
        allowed_extra = {"RAG_DEBUG"}
        unknown = sorted(k for k in env if k.startswith("RAG_") and k not in known and k not in allowed_extra)
        if unknown:
            raise UserError(f"unknown setting {unknown[0]} (known: {', '.join(sorted(known))})")
        values: dict[str, object] = {}
        for name, f in known.items():
            if name in env and env[name] != "":
                values[f.name] = _convert(f, env[name])
        if not values.get("api_key") and env.get("OPENAI_API_KEY"):
            values["api_key"] = env["OPENAI_API_KEY"]
        settings = cls(**values)  # type: ignore[arg-type]
        clean = {k: v for k, v in overrides.items() if v is not None}
        settings = replace(settings, **clean) if clean else settings
        if "corpus" not in values and "corpus" not in clean:
            remembered = remembered_corpus(settings.index_dir)
            if remembered is not None:
                settings = replace(settings, corpus=remembered)
        return settings


def remembered_corpus(index_dir: Path) -> Path | None:
    """The corpus folder that built the index at ``index_dir`` (None: no index).

    Every command uses it unless told otherwise (``--corpus`` or ``RAG_CORPUS``), so
    documents ingested from another folder stay the ones searched.

    A folder that has gone (moved, deleted, a drive not mounted) is an error, not a reason
    to rebuild the index from the bundled corpus and lose the user's documents from it;
    unless the index holds exactly the bundled documents (built from another checkout's
    copy of them), in which case this checkout's copy serves.

    Raises ``UserError`` for a remembered folder that no longer exists.
    """
    import hashlib
    import json

    from ingest.corpus import FORMATS

    try:
        manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
        folder = Path(manifest["corpus_dir"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if folder.is_dir():
        return folder
    try:
        built = {name: info["sha256"] for name, info in manifest["sources"].items()}
        # every bundled document and nothing else (two of the five are not "the bundled ones")
        bundled = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in DEFAULT_CORPUS.iterdir()
                   if p.is_file() and p.suffix.lower() in FORMATS}
    except (OSError, KeyError, TypeError, AttributeError):
        built, bundled = {}, {}
    if bundled and bundled == built:
        return DEFAULT_CORPUS
    raise UserError(f"the index was built from {folder}, which no longer exists; the index is kept. "
                    f"Say which documents to use with --corpus DIR or RAG_CORPUS "
                    f"(the bundled ones: --corpus {DEFAULT_CORPUS})")


def _convert(f, raw: str) -> object:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "str")
    try:
        if "Path" in kind:
            return Path(raw).expanduser()
        if "int" in kind:
            value: object = int(raw)
        elif "float" in kind:
            value = float(raw)
        else:
            return raw
    except ValueError:
        raise UserError(f"{f.metadata['env']} must be a number, got {raw!r}") from None
    lo, hi = f.metadata.get("min"), f.metadata.get("max")
    if (lo is not None and value < lo) or (hi is not None and value > hi):  # type: ignore[operator]
        raise UserError(f"{f.metadata['env']} must be between {lo} and {hi}, got {raw}")
    return value
