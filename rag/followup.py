"""Turn a follow-up question into one that retrieval can answer on its own.

"And how does it compare to L2?" after "What is L1 regularization?" must be searched
as a question about L1 and L2. With a language model the follow-up is rewritten by
the model; without one (or when it fails) the previous question is carried along.
"""

from __future__ import annotations

import re

from rag.errors import GenerationError

__all__ = ["looks_like_followup", "standalone_question"]

_LEADING = re.compile(r"^\s*(?:and|but|also|so|then|what about|how about|and what|why not|compared)\b", re.I)
_ANAPHORA = re.compile(r"\b(?:it|its|it's|they|them|their|this|that|these|those|the same|the former|the latter|"
                       r"the other|the previous|above|one)\b", re.I)
_REWRITE_PROMPT = (
    "Rewrite the user's last question so it can be understood without the conversation. Keep its meaning, "
    "replace pronouns with what they refer to, and output only the rewritten question."
)


def looks_like_followup(question: str) -> bool:
    """Whether a question leans on the conversation: a leading 'and'/'what about', or a pronoun."""
    return bool(_LEADING.search(question) or _ANAPHORA.search(question))


def standalone_question(question: str, history: list[str], pipeline=None, generator: str = "extractive") -> str:
    """The question to retrieve with, given earlier user questions (oldest first)."""
    if not history or not looks_like_followup(question):
        return question
    previous = history[-1]
    if pipeline is not None and generator in ("local", "api"):
        from rag.generate import generate_text

        turns = "\n".join(f"Earlier question: {q}" for q in history[-3:])
        messages = [{"role": "system", "content": _REWRITE_PROMPT},
                    {"role": "user", "content": f"{turns}\nLast question: {question}\nRewritten question:"}]
        try:
            text, _ = generate_text(generator, messages, pipeline.settings, max_tokens=60)
            text = text.strip().strip('"').splitlines()[0].strip()
            if 5 <= len(text) <= 300:
                return text
        except GenerationError:
            pass
    return f"{previous} {question}"
