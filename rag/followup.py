"""Turn a follow-up question into one that retrieval can answer on its own, by rule.

"And how does it compare to L2?" after "What is L1 regularization?" must be searched
as "L1 regularization vs L2 regularization". This used to be a model call, a whole
generation (seconds on 2 cores) paid before retrieval could start (issue 11); the
follow-ups people type are a handful of shapes, so a few rules read them in
microseconds:

1. **A comparison with the previous subject**: "how does it compare to X?", "is it
   better than X?", "compare it with X", "difference between it and X", "vs X?" ->
   "<subject> vs X". "How do they compare?" after two questions -> "<earlier> vs <later>".
2. **The same question about something else**: "and X?", "what about X?" -> the previous
   question with X in place of its subject ("How can the vanishing gradient problem be
   mitigated?" + "what about exploding gradients?" -> "How can exploding gradients be
   mitigated?"), or "What is X?" when it has no subject the rules can find.
3. **Pronouns**: "it", "they", "this" / "that" (also "this technique"), "its X" ->
   the previous subject ("Why is it used?" -> "Why is dropout used?";
   "What are its advantages?" -> "What are the advantages of dropout?").

A question that does not lean on the conversation is returned as typed. The table of
cases is ``tests/test_followup.py``.
"""

from __future__ import annotations

import re

from rag.keyword import _STOP
from rag.query import _FRAME, split_parts

__all__ = ["looks_like_followup", "standalone_question", "question_subject"]

_LEADING = re.compile(r"^\s*(?:and|but|also|so|then|what about|how about|and what|why not|compared|vs\.?|versus)\b",
                      re.I)
_ANAPHORA = re.compile(r"\b(?:it|its|it's|they|them|their|this|that|these|those|the same|the former|the latter|"
                       r"the other|the previous|above|one)\b", re.I)
_PRONOUN = r"(?:it|this|that|they|them|these|those|the two|both)"
_QWORD = r"(?:how|why|what|whats|what's|when|where|which|who|is|are|was|were|does|do|did|can|could|should|would|will)"
_CONJ = re.compile(r"^\s*(?:and|but|also|so|then|ok|okay)\s*,?\s+", re.I)
_TAIL = re.compile(r"[\s?.!]+$")
_ARTICLE = re.compile(r"^(?:a|an|the)\s+", re.I)

# Rule 1: the follow-up compares the previous subject with X (X may be absent: "how do they compare?").
_COMPARE = [re.compile(p, re.I) for p in (
    rf"^how\s+(?:does|do|is|are|would|did|will)\s+{_PRONOUN}\s+(?:compare|differ|different|stack\s+up|fare)"
    r"(?:\s+(?:to|with|from|against)\s+(?P<x>.+))?$",
    rf"^(?:is|are|was|were)\s+{_PRONOUN}\s+(?:any\s+)?(?:better|worse|different|faster|slower|similar|the same)"
    r"(?:\s+(?:than|from|to|as)\s+(?P<x>.+))?$",
    rf"^(?:compare|contrast)\s+{_PRONOUN}(?:\s+(?:to|with|and|against)\s+(?P<x>.+))?$",
    rf"^(?:what(?:'s|s|\s+is|\s+are)?\s+)?(?:the\s+)?(?:main\s+|key\s+)?(?:difference|differences|diff)"
    rf"(?:\s+between\s+{_PRONOUN}\s+and\s+(?P<x>.+)|\s+(?:from|with)\s+(?P<x2>.+))?$",
    rf"^(?:{_PRONOUN}\s+)?(?:vs\.?|versus)\s+(?P<x>.+)$",
    r"^(?:and\s+)?(?:how\s+about\s+|what\s+about\s+)?(?:compared|comparing\s+it|in\s+comparison)\s+(?:to|with)\s+(?P<x>.+)$",
)]
# Rule 2: the same question about X.
_ABOUT = re.compile(rf"^(?:(?:and|but|also)\s+)?(?:(?:what|how)\s+about|what\s+of|same\s+for|and\s+for|and)\s+"
                    rf"(?!{_QWORD}\b)(?P<x>.+)$", re.I)

_SETTING = re.compile(r"^(?:in|for|with|on|during|at|inside|within|without|under|after|before)\s", re.I)

# Where a question names its subject; the subject is group "s", the rest is kept for rule 2.
_SUBJECT = [re.compile(p, re.I) for p in (
    r"^(?P<pre>(?:what|whats|what's)\s+(?:is|are|was|were)\s+(?:meant\s+by\s+)?)(?P<s>.+)$",
    r"^(?P<pre>what\s+do(?:es)?\s+(?:you|we|one|people)\s+(?:mean|understand)\s+by\s+)(?P<s>.+)$",
    r"^(?P<pre>what\s+(?:does|do)\s+)(?P<s>.+?)(?P<post>\s+(?:mean|do|stand\s+for))$",
    r"^(?P<pre>(?:can|could)\s+you\s+(?:please\s+)?(?:explain|describe|define)\s+)(?P<s>.+)$",
    r"^(?P<pre>(?:please\s+)?(?:explain|describe|define|tell\s+me\s+about)\s+)(?P<s>.+)$",
    r"^(?P<pre>(?:how|why|when|where)\s+(?:does|do|is|are|can|could|should|would|will|did|was|were)\s+)"
    r"(?P<s>.+)$",
)]
# Nouns that frame a subject: "the advantages of X" is about X.
_OF_FRAME = re.compile(r"^(?:(?:the|a|an)\s+)?(?:main\s+|key\s+|basic\s+)?(?:role|purpose|use|uses|concept|idea|"
                       r"meaning|advantages?|disadvantages?|benefits?|drawbacks?|limitations?|importance|"
                       r"significance|goal|aim|definition|types?|kinds?|need)\s+(?:of|for|behind)\s+", re.I)
# In "how/why" questions the subject ends at its verb ("How does dropout | prevent overfitting").
_VERBS = frozenset(
    """be work works help helps prevent prevents reduce reduces avoid avoids improve improves affect affects
    handle handles learn learns process processes compare differ use used uses apply applied solve solves
    mitigate mitigated cause causes happen happens occur occurs matter matters needed important useful
    necessary better different trained train training chosen choose chose selected initialized initialised
    implemented computed calculated fixed detected prevented avoided addressed solved handled tuned set
    mean means do does differ related relate contribute contributes lead leads make makes""".split()
)
# "this technique", "that method": a generic noun that only points back.
_GENERIC = (r"technique|method|approach|problem|issue|layer|model|function|network|algorithm|concept|term|"
            r"idea|architecture|step|process|one|thing|trick|phenomenon|effect|regularizer|optimizer")
# "this"/"that" is a pronoun here (not "the layer that normalizes"): at the start, or after
# an auxiliary, a preposition or a verb.
_DEMONSTRATIVE = re.compile(
    r"(?P<lead>^|\b(?:is|are|was|were|does|do|did|can|could|should|would|will|about|of|for|with|to|in|"
    r"from|on|against|prevent|avoid|fix|solve|use|handle|mitigate|detect|reduce|cause|explain|mean|apply|"
    r"implement|choose|tune|need|like|without|by|cure|stop|address)\s+)"
    rf"(?:this|that)(?:\s+(?:{_GENERIC})s?)?\b(?!\s+(?:is|are|was)\s+(?:a|an|the)\b)", re.I)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*")


def looks_like_followup(question: str) -> bool:
    """Whether a question leans on the conversation: a leading 'and'/'what about', or a pronoun."""
    return bool(_LEADING.search(question) or _ANAPHORA.search(question))


def _clean(text: str) -> str:
    return _TAIL.sub("", " ".join(text.split()))


def _cut_clause(text: str) -> str:
    # "dropout and why is it used" -> "dropout"; "dropout, and ..." -> "dropout"
    return re.split(rf"\s*[,;:]\s*|\s+(?:and|but)\s+(?={_QWORD}\b)", text, maxsplit=1, flags=re.I)[0]


def _core(subject: str) -> tuple[str, str]:
    """(what frames the subject, the subject): "the advantages of dropout" -> ("the advantages of ", "dropout")."""
    m = _OF_FRAME.match(subject)
    if m and subject[m.end():].strip():
        return subject[:m.end()], subject[m.end():]
    return "", subject


def _verb_cut(words: list[str]) -> int:
    """Where the subject of a how/why question ends: at its verb."""
    for i, w in enumerate(words):
        low = w.lower()
        content_before = any(x.lower() not in _STOP for x in words[:i])
        if not content_before:
            continue
        if low in _VERBS:
            return i
        nxt = words[i + 1].lower() if i + 1 < len(words) else None
        if low.endswith("ed") and len(low) > 4 and (nxt is None or nxt in _STOP):
            return i
    return len(words)


def question_subject(question: str) -> tuple[str, str, str] | None:
    """(before, subject, after) of a question, so that before + subject + after is the question
    (without its final '?'), or None when no rule finds a subject.

    >>> question_subject("How can the vanishing gradient problem be mitigated?")
    ('How can ', 'the vanishing gradient problem', ' be mitigated')
    """
    q = _clean(_CONJ.sub("", question))
    for pattern in _SUBJECT:
        m = pattern.match(q)
        if not m:
            continue
        pre, rest = m.group("pre"), m.group("s")
        post = m.groupdict().get("post") or ""
        subject = _cut_clause(rest)
        post = rest[len(subject):] + post
        if pattern is _SUBJECT[-1]:  # how/why/when/where: the subject ends at its verb
            words = subject.split(" ")
            cut = _verb_cut(words)
            post = (" " + " ".join(words[cut:]) if cut < len(words) else "") + post
            subject = " ".join(words[:cut])
        frame, core = _core(subject)
        if not any(w.lower() not in _STOP and w.lower() not in _FRAME for w in _WORD.findall(core)):
            return None
        return pre + frame, core, post
    return None


def _bare(subject: str) -> str:
    """The subject as a concept name: no article ("a GRU" -> "GRU")."""
    return _ARTICLE.sub("", subject.strip())


def _referent(previous: str) -> tuple[str, tuple[str, ...]] | None:
    """What a pronoun in the next question points at: the previous question's subject
    (its parts for "X vs Y" questions), with "the" kept and "a"/"an" dropped."""
    parts = split_parts(previous)
    if parts:
        return " and ".join(parts), parts
    found = question_subject(previous)
    if found is None:
        return None
    subject = found[1]
    return (subject if subject.lower().startswith("the ") else _bare(subject)), ()


def _parallel(x: str, subject: str) -> str:
    """Carry the head noun over to a sibling name: "L2" after "L1 regularization" -> "L2 regularization"."""
    words = _bare(subject).split()
    if " " not in x and len(words) >= 2 and re.fullmatch(r"[A-Za-z]+\d+[A-Za-z]*", x):
        if re.sub(r"\d+", "#", words[0]).lower() == re.sub(r"\d+", "#", x).lower():
            return " ".join([x] + words[1:])
    return x


def _resolve_pronouns(question: str, subject: str, parts: tuple[str, ...]) -> str:
    """Put the previous subject where the question points back at it."""
    out = question
    if parts:
        out = re.sub(r"\bthe former\b", parts[0], out, flags=re.I)
        out = re.sub(r"\bthe latter\b", parts[-1], out, flags=re.I)

    def possessive(m: re.Match) -> str:
        return f"the {m.group(1)} of {subject}"

    # "its advantages over ReLU" -> "the advantages of dropout over ReLU"
    out = re.sub(r"\b(?:its|their)\s+((?:[A-Za-z0-9-]+\s+){0,2}?[A-Za-z0-9-]+?)(?=\s+(?:"
                 + "|".join(sorted(_STOP - {"its", "their"})) + r")\b|[\s?.!,]*$)",
                 possessive, out, flags=re.I)
    out = re.sub(r"\b(?:it|they|them|these|those)\b(?!'s)", subject, out, flags=re.I)
    out = re.sub(r"\bit's\b", f"{subject} is", out, flags=re.I)
    out = _DEMONSTRATIVE.sub(lambda m: m.group("lead") + subject, out)
    return out


def _ask(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + "?"


def standalone_question(question: str, history: list[str]) -> str:
    """The question to retrieve with, given the earlier questions as searched (oldest first).

    Pure rules, no model: see the module docstring.
    """
    if not history or not looks_like_followup(question):
        return question
    previous = history[-1]
    q = _clean(question)
    ref = _referent(previous)
    if ref is None:
        return f"{previous} {question}"
    subject, parts = ref
    concept = " vs ".join(parts) if parts else _bare(subject)

    stripped = _CONJ.sub("", q)
    for pattern in _COMPARE:
        m = pattern.match(stripped) or pattern.match(q)
        if not m:
            continue
        x = m.groupdict().get("x") or m.groupdict().get("x2")
        if x:
            x = _bare(_clean(x))
            return f"{concept} vs {_parallel(x, concept)}"
        if parts:
            return previous
        if len(history) >= 2:
            earlier = _referent(history[-2])
            if earlier and not earlier[1] and _bare(earlier[0]).lower() != concept.lower():
                return f"{_bare(earlier[0])} vs {concept}"
        break

    m = _ABOUT.match(q)
    if m and _SETTING.match(m.group("x")):  # "and in CNNs?": the previous question, in that setting
        return _ask(_clean(_CONJ.sub("", previous)) + " " + _clean(m.group("x")))
    if m and not _ANAPHORA.search(m.group("x")):
        x = _bare(_clean(m.group("x")))
        found = None if parts else question_subject(previous)
        if found is not None:
            pre, old, post = found
            return _ask(pre + _parallel(x, old) + post)
        return f"What is {x}?"
    if m:  # "what about its disadvantages?"
        x = _resolve_pronouns(_clean(m.group("x")), subject, parts)
        verb = "are" if re.search(r"^the\s+\w+s\b", x) else "is"
        return f"What {verb} {x}?"

    resolved = _resolve_pronouns(stripped, subject, parts)
    if resolved != stripped:
        return _ask(resolved)
    if any(w.lower() not in _STOP and w.lower() not in _FRAME for w in _WORD.findall(stripped)):
        return _ask(stripped)  # "And what is a GRU?" stands on its own
    return f"{previous} {question}"
