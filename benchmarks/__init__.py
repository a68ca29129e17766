"""Benchmark scripts (see the README's "Measured" section for what each one measured)."""

from __future__ import annotations


def bundled_settings():
    """Settings for a benchmark of the bundled documents: the usual data folder's index,
    which must be of the bundled corpus.

    Every command uses the folder that built the index, so after ``rag ingest --corpus
    mydocs`` a benchmark would quietly measure ``mydocs`` with the bundled question sets;
    and naming the bundled corpus would rebuild over the user's index. Stop instead.
    """
    from rag.config import DEFAULT_CORPUS, Settings
    from rag.errors import UserError

    try:
        settings = Settings.from_env()
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None
    if settings.corpus.resolve() != DEFAULT_CORPUS.resolve():
        raise SystemExit(f"error: this benchmark measures the bundled documents, but the index in "
                         f"{settings.index_dir} is of {settings.corpus}; set RAG_HOME to another folder "
                         "(the index is built there on first use)")
    return settings
