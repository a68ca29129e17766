"""The project's own exceptions: the CLI and the UI turn these into one-line messages."""

from __future__ import annotations

__all__ = ["RagError", "UserError", "CorpusError", "IndexError_", "GenerationError"]


class RagError(Exception):
    """Base of every error this project raises on purpose; its message is for the user."""

    exit_code = 1


class UserError(RagError):
    """Bad input from the user: an empty question, an unknown source, a missing file."""


class CorpusError(RagError):
    """The corpus cannot be read: missing folder, not UTF-8, empty."""


class IndexError_(RagError):
    """The index is missing, stale or damaged and could not be rebuilt."""


class GenerationError(RagError):
    """A language model failed to load, timed out or returned nothing."""
