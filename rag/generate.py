"""Language-model answers (filled in by the generation work); extractive until then."""

from __future__ import annotations

from rag.errors import UserError

__all__ = ["resolve_generator", "answer_with_model"]


def resolve_generator(name: str, settings) -> str:
    """Map 'auto' to the best available generator."""
    if name in ("auto", "extractive"):
        return "extractive"
    raise UserError(f"generator {name!r} is not available")


def answer_with_model(result, name, pipeline, on_token=None):
    raise UserError(f"generator {name!r} is not available")
