"""Practice mode: grade a user's answer to an interview question against the sources.

The key points of a question are the sentences of its covering sources' best
passages (``rag.compare`` decides which sources cover it), grouped across sources
when they say the same thing. A user's answer is split into sentences; each point is
*covered* when a user sentence states it, *missed* otherwise; a user sentence that
covers no point and that no passage supports is *unsupported* ("not in the sources",
not "wrong": the sources are not the whole truth). A sentence that contradicts the
passage it resembles ("dropout is used at inference time") covers nothing and is
unsupported, however many words it shares with the passage.

The score is the share of points covered, each point weighted by how many sources
make it. Thresholds are named constants below; how they were chosen is in
``eval/README.md`` (the cover thresholds on round 1 of ``eval/practice.jsonl``; the
clause, sibling and swapped-role rules by reading every disagreement on all 74 answers
with both label files; the comparison, "instead of", number, direction and subject rules
by reading rounds 3 and 4, later rules by reading rounds 5 to 10, all tuning data now;
rounds 11 to 13 are held out).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from rag.citations import _NUMBER, supports  # one notion of a number for both checks
from rag.context import candidate_sentences, is_hollow, leans_back, looks_like_instruction
from rag.keyword import tokenize
from rag.records import Citation, Passage, cited_text
from rag.text import split_sentences

__all__ = [
    "KeyPoint", "PointResult", "Feedback", "Exercise", "PracticeQuestion",
    "key_points", "prepare", "grade", "model_feedback", "split_answer", "contradicts", "question_subject",
    "pick_question", "practice_questions", "find_topic", "topic_of",
    "MAX_POINTS", "SAME_POINT", "MAX_ANSWER_CHARS",
]

SAME_POINT = 0.7  # two sources' sentences make the same point (compare groups agreement at 0.72)
MAX_POINTS = 6  # a spoken interview answer makes a handful of points; more is a list to read, not feedback
MIN_POINT_WORDS = 4
PASSAGES_PER_SOURCE = 1  # the best passage speaks for its source, as in compare's agreement
MAX_ANSWER_CHARS = 5000


@dataclass(frozen=True)
class KeyPoint:
    """A point the sources make: its text, the sources that make it and where (one quote each)."""

    text: str
    sources: tuple[str, ...]
    quotes: tuple[tuple[Passage, str], ...]  # (passage, its sentence that makes the point), one per source


@dataclass(frozen=True)
class PointResult:
    """One key point and whether the user's answer covers it (and with which sentence)."""

    point: KeyPoint
    covered: bool
    user_sentence: str | None
    citations: tuple[Citation, ...]

    def to_json(self) -> dict:
        """One element of ``points`` in ``rag practice --json``."""
        return {
            "text": self.point.text,
            "sources": list(self.point.sources),
            "covered": self.covered,
            "citations": [c.to_json() for c in self.citations],
            "user_sentence": self.user_sentence,
        }


@dataclass(frozen=True)
class Feedback:
    """The graded answer: covered and missed points, unsupported sentences, the weighted score.

    ``refused`` is set when no source covers the question: there is nothing to grade
    against, ``points`` is empty and ``score`` is ``None``.
    """

    question: str
    answer: str
    points: tuple[PointResult, ...]
    unsupported: tuple[str, ...]
    score: float | None
    sources: tuple[str, ...]  # the covering sources
    refused: bool = False
    # sentences of ``unsupported`` that say the opposite of a passage sentence: (the
    # user's sentence, that passage, its sentence)
    contradicted: tuple[tuple[str, Passage, str], ...] = ()

    def contradiction(self, sentence: str) -> tuple[Passage, str] | None:
        """The passage and sentence that say the opposite of ``sentence``, if the grade found one."""
        return next(((p, q) for s, p, q in self.contradicted if s == sentence), None)

    @property
    def covered(self) -> tuple[PointResult, ...]:
        """The points the answer states."""
        return tuple(p for p in self.points if p.covered)

    @property
    def missed(self) -> tuple[PointResult, ...]:
        """The points the sources make that the answer does not."""
        return tuple(p for p in self.points if not p.covered)

    def to_json(self) -> dict:
        """``rag practice --json`` output (schema in the README)."""
        return {
            "question": self.question,
            "refused": self.refused,
            "sources": list(self.sources),
            "points": [p.to_json() for p in self.points],
            "unsupported": [{"text": s, **({"contradicts": {"passage": c[0].ref, "source": c[0].source,
                                                              "start": c[0].start, "sentence": c[1]}}
                                             if (c := self.contradiction(s)) else {})}
                            for s in self.unsupported],
            "score": None if self.score is None else round(self.score, 4),
        }


_LABEL = re.compile(r"^([^:]{2,40}):\s+(\S.*)$")
_LABEL_WORDS = frozenset("""why use it how to when what where problem solved role importance definition way ways
    prevent solution purpose difference architecture case cases example idea key benefit benefits training step
    steps type types work works working goal note""".split())


def _meaning_text(sentence: str, subject: str) -> str:
    """The sentence as it is embedded: "Why Use It: It helps prevent overfitting" reads
    "dropout helps prevent overfitting". A sub-heading that names something ("Pooling
    Layers: They reduce ...") stands for the pronoun after it; a generic one ("Why Use
    It", "Problem Solved") is dropped and the question's subject stands for the pronoun."""
    m = _LABEL.match(sentence)
    label, rest = (m.group(1), m.group(2)) if m and len(m.group(1).split()) <= 5 else ("", sentence)
    named = bool(set(re.findall(r"[a-z0-9]+", label.lower())) - _LABEL_WORDS)
    if _ANAPHOR.match(rest):
        who = label if named else subject
        return _ANAPHOR.sub(lambda a: who + ("'s" if a.group(1).lower() == "its" else ""), rest, count=1)
    return sentence if named else rest


def _source_sentences(comparison) -> list[tuple[str, Passage, str]]:
    """(source, passage, sentence) for every claim of each covering source's best passage."""
    out = []
    for s in comparison.sources:
        if not s.covered:
            continue
        for passage in [p for p in s.passages if not is_hollow(p)][:PASSAGES_PER_SOURCE]:
            out.extend((s.source, passage, sent) for _, sent in candidate_sentences(passage)
                       if not looks_like_instruction(sent) and not sent.rstrip().endswith(":")
                       and len(tokenize(sent)) >= MIN_POINT_WORDS)
    return out


def key_points(comparison, encoder) -> tuple[KeyPoint, ...]:
    """The points the covering sources make for the compared question, grouped across sources.

    Two sentences from different sources are one point when their embeddings are at
    least ``SAME_POINT`` similar (greedy, the most-echoed sentence first, as compare
    groups agreement). Points made by more sources come first; within that, in the
    order the passages make them (a passage leads with its main point); at most
    ``MAX_POINTS``. A line that introduces a list ("… are as follows:") or says too
    little to be checked (fewer than ``MIN_POINT_WORDS`` content words) is not a point.
    """
    sents = _source_sentences(comparison)
    if not sents:
        return ()
    vecs = encoder.encode([t for _, _, t in sents])
    sim = vecs @ vecs.T
    owner = np.array([s for s, _, _ in sents])
    position = {}
    for i, (src, _, _) in enumerate(sents):
        position[i] = sum(1 for j in range(i) if sents[j][0] == src)
    others = {i: [o for o in dict.fromkeys(owner.tolist()) if o != owner[i]] for i in range(len(sents))}
    echoes = {i: sum(sim[i, owner == o].max() >= SAME_POINT for o in others[i]) for i in range(len(sents))}
    order = sorted(range(len(sents)), key=lambda i: (-echoes[i], position[i], i))
    used: set[int] = set()
    groups: list[list[int]] = []
    for i in order:
        if i in used:
            continue
        group = [i]
        for o in others[i]:
            cols = [j for j in np.where(owner == o)[0] if j not in used]
            if cols:
                j = max(cols, key=lambda c: sim[i, c])
                if sim[i, j] >= SAME_POINT:
                    group.append(int(j))
        used.update(group)
        groups.append(group)
    groups.sort(key=lambda g: (-len(g), position[g[0]], g[0]))
    points = []
    for g in groups[:MAX_POINTS]:
        g_sorted = sorted(g, key=lambda j: j)  # corpus order of the sources
        points.append(KeyPoint(sents[g[0]][2], tuple(sents[j][0] for j in g_sorted),
                               tuple((sents[j][1], sents[j][2]) for j in g_sorted)))
    return tuple(points)


# ---------------------------------------------------------------------------------------
# Grading

# Where a user's sentence starts another statement: a semicolon or colon, a conjunction
# after a comma, "while"/"whereas", and a bare "and" when a new subject and its verb
# follow ("... no labels and the model looks for structure"); "a generator and a
# discriminator", "the weights and the biases during training" are noun phrases.
_CLAUSE = re.compile(r"\s*(?:;|:|,\s*(?:and|but|while|whereas|so|which|because)\b|\s(?:while|whereas)\b|"
                     r"\s+and(?=\s+(?:(?:it|they|this|these)\s+|(?:the|this|these)\s+\w+\s+)"
                     r"(?:\w+s|is|are|was|were|can|will|has|have)\b))"
                     r"\s*", re.I)


def split_answer(answer: str) -> list[str]:
    """The user's answer as sentences (a line break or full stop ends one)."""
    return [s.strip() for s in split_sentences(answer) if s.strip()]


_FRAME = re.compile(r"^\s*(?:(?:what|how|why|when|which|explain|describe|define|can|could|you|please|tell|me|about|"
                    r"is|are|does|do|did|a|an|the|of|role|purpose|concept|idea|behind|meant|by|limitations?|"
                    r"advantages?|disadvantages?|benefits?|drawbacks?|importance|significance|and|using)\b[\s,]*)+",
                    re.I)
_ASKS_MORE = re.compile(r"\s*(?:,\s*(?:and\s+)?|\band\s+)(?:how|why|what|when|which|its|their)\b.*$", re.I)
_TAIL = re.compile(r"\s+(?:work|works|important|needed|used|mean|do)$", re.I)
_ANAPHOR = re.compile(r"^(it|this|they|these|that|its)\b", re.I)


def question_subject(question: str) -> str:
    """What the question asks about: "How do GANs work?" -> "GANs" (for "It ..." in an answer)."""
    q = _ASKS_MORE.sub("", question.strip().rstrip("?.! "))
    q = _TAIL.sub("", _FRAME.sub("", q)).strip()
    return q or question


def _units(sentence: str, subject: str = "") -> list[tuple[str, bool]]:
    """The sentence and, when it makes several statements, each clause: a long sentence
    that makes two points should match each of them as well as a short one would. A
    sentence that opens with "It"/"This" also counts with the question's subject in its
    place, since the embedding cannot resolve the pronoun."""
    parts = [c for c in _CLAUSE.split(sentence) if len(tokenize(c)) >= 3]
    units = [(sentence, True)] + [(c, False) for c in (parts if len(parts) > 1 else [])]
    if subject:
        # Only the sentence and its first clause: a pronoun in a later clause points back
        # into the sentence ("In supervised learning every example has a label, and it's
        # used for classification"), not to the question's subject.
        units += [(_ANAPHOR.sub(lambda m: subject + ("'s" if m.group(1).lower() == "its" else ""), u, count=1), whole)
                  for k, (u, whole) in enumerate(units) if k <= 1 and _ANAPHOR.match(u)]
    return units


# Opposite words: a user sentence that uses one side where the passage sentence it
# resembles uses the other (and not the first) says the opposite of the passage.
# General-language oppositions, not the corpus's facts; each side is a regex.
_OPPOSITES: tuple[tuple[str, str], ...] = (
    (r"increas\w*|enlarg\w*|expand\w*|add(?:s|ed|ing)? more|grow(?:s|ing|n)?|rais(?:e|es|ed|ing)",
     r"reduc\w*|decreas\w*|shrink\w*|lower(?:s|ed|ing)?|diminish\w*"),
    (r"maximi[sz]\w*", r"minimi[sz]\w*"),
    (r"faster|quicker|accelerat\w*|speed(?:s)? up|(?:more )?efficient\w*", r"slower|slow(?:s|ed)? down|less efficient"),
    (r"large|larger|big|bigger|huge", r"small|smaller|tiny"),
    (r"train(?:ing)?", r"inference|test(?:ing)?(?: time)?|prediction time"),
    (r"(?<!un)supervised", r"unsupervised"),
    (r"vanish\w*", r"explod\w*"),
    # which way a step goes ("in the direction of the positive gradient")
    (r"(?:direction of|along|follows?|towards?|in) (?:the )?positive gradient|positive direction",
     r"(?:direction of|along|follows?|towards?|in) (?:the )?negative (?:gradient|of the gradient)|negative direction|"
     r"negative of the gradient"),
    (r"up", r"down"),
    (r"above|exceed\w*", r"below"),
    (r"(?<!non-)(?<!non)linear(?:ly)?", r"non-?linear\w*"),
    (r"same|identical|equal", r"different|differ\w*"),
    (r"same direction", r"opposite (?:direction|to)"),
    (r"parallel", r"one at a time|one by one|sequentially"),
    (r"dense", r"sparse|zero"),
    (r"absolute", r"squares?|squared"),
    (r"average|mean", r"maximum"),
    (r"pre-?trained", r"from scratch|random(?:ly initiali[sz]ed)? weights"),
    # what training changes against what it leaves alone ("the weights stay fixed")
    (r"(?:stay|stays|remain|remains|kept|keeps?) (?:fixed|constant|unchanged|the same)|(?:are|is) (?:fixed|constant)|"
     r"never (?:change|updated)",
     r"adjust\w*|updat\w*|learnable|optimi[sz]ed"),
    # where a layer sits ("the fully connected layers come first" / "at the end")
    (r"(?:comes?|placed|go|goes|sits?) first|at the (?:beginning|start)", r"at the end|(?:comes?|placed|go|goes) last"),
    (r"recurrent|loops? back|feed(?:s|ing)? back", r"feed-?forward"),
)
_OPPOSITE_RES = tuple((re.compile(rf"\b(?:{a})\b", re.I), re.compile(rf"\b(?:{b})\b", re.I)) for a, b in _OPPOSITES)
_NEGATOR = re.compile(r"\b(?:not|no|never|cannot|can't|won't|doesn't|don't|isn't|aren't|without|neither|nor|none|"
                      r"insufficient\w*|lacks?|unable|fails?|instead of|rather than|"
                      # "hard to capture" denies what "efficiently captures" asserts
                      r"(?:hard|difficult|impossible) to|struggles? to)\b|n't\b", re.I)
_SCOPE_END = re.compile(r"[,;:.!?]|\b(?:and|but|while|whereas|which|because)\b", re.I)
NEGATION_SCOPE = 4  # content words after a negation that it denies
# Verbs that keep something from happening: "stops the network relying on a few neurons"
# agrees with "instead of relying on a few neurons", so a sentence with one is not read
# as asserting what the other side denies.
_HINDERS = re.compile(r"\b(?:prevent\w*|stop\w*|avoid\w*|reduc\w*|mitigat\w*|against|hinder\w*|keeps? \w+ from)\b", re.I)


def _negated(text: str) -> list[set[str]]:
    """The content words each negation in ``text`` denies (up to the end of its clause)."""
    out = []
    for m in _NEGATOR.finditer(text):
        rest = text[m.end():]
        end = _SCOPE_END.search(rest)
        scope = tokenize(rest[: end.start()] if end else rest)[:NEGATION_SCOPE]
        if scope:
            out.append(set(scope))
    return out


def _affirmed(text: str) -> str:
    """``text`` without its negated spans ("not enough data to train from scratch" does not
    say "from scratch")."""
    out, pos = [], 0
    for m in _NEGATOR.finditer(text):
        if m.start() < pos:
            continue
        out.append(text[pos:m.start()])
        end = _SCOPE_END.search(text, m.end())
        pos = end.start() if end else len(text)
    out.append(text[pos:])
    return " ".join(out)


# Comparatives and their direction: "faster than SGD" is (+1, "sgd"), "slower than SGD" (-1, "sgd").
_COMPARATIVES = (
    (r"faster|quicker|larger|bigger|greater|higher|more|better|stronger|longer", 1),
    (r"slower|smaller|lower|less|fewer|worse|weaker|shorter", -1),
)
_COMPARATIVE_RES = tuple((re.compile(rf"\b(?:{words})\b([^.,;:]{{0,40}}?)\bthan\s+(?:the\s+|a\s+|an\s+)?([\w-]+)", re.I),
                          sign) for words, sign in _COMPARATIVES)


def _comparisons(text: str) -> set[tuple[int, str]]:
    """(direction, what it is compared with) for each "X-er than Y" in ``text``."""
    out = set()
    for rx, sign in _COMPARATIVE_RES:
        for m in rx.finditer(text):
            what = tokenize(m.group(2))
            if what and not _NEGATOR.search(m.group(1)):
                out.add((sign, what[0]))
    return out


_TOWARD = re.compile(r"\b(?:to|into)\b", re.I)
DIRECTION_WORDS = 4  # what "to"/"into" leads to: the last content word of the next few
_AFTER_TOWARD = re.compile(rf"^\s*((?:[\w-]+\s+){{0,{DIRECTION_WORDS - 1}}}[\w-]+)")


def _directions(text: str) -> set[tuple[str, str]]:
    """(from, to) pairs of content words around "to"/"into": "a function of time to a
    function of frequency" gives ("time", "frequency"). Incidental pairs ("used to
    prevent overfitting") are harmless: only a pair the other side has reversed counts."""
    out = set()
    for m in _TOWARD.finditer(text):
        before = re.findall(r"[\w-]+", text[max(0, m.start() - 40):m.start()])
        after = _AFTER_TOWARD.match(text[m.end():])
        if not before or not after:
            continue
        left, right = tokenize(before[-1]), tokenize(re.split(r"[,;:.]", after.group(1))[0])
        if left and right and left[-1] != right[-1]:
            out.add((left[-1], right[-1]))
    return out


def contradicts(claim: str, passage_sentence: str) -> bool:
    """Whether ``claim`` says the opposite of ``passage_sentence`` (taken to be about the same thing).

    Signs about wording rather than meaning, because sentence embeddings barely move
    when a statement is negated: a negation on one side whose denied words the other
    side asserts ("no memory of previous inputs" / "a memory of previous inputs"), or
    each side denying what the other asserts ("the sum instead of a moving average");
    a comparison turned round ("faster than SGD" / "slower than SGD"); a direction
    turned round ("frequency into time" / "time to frequency"); numbers that differ;
    a pair of opposite words ("dense" / "zero", "inference" / "training"), each side
    read without its negated spans.
    """
    claim, passage_sentence = claim.replace("’", "'"), passage_sentence.replace("’", "'")
    c_neg, p_neg = _negated(claim), _negated(passage_sentence)
    c_toks, p_toks = set(tokenize(claim)), set(tokenize(passage_sentence))
    if c_neg and not p_neg and not _HINDERS.search(passage_sentence):
        if any(len(scope & p_toks) >= max(1, (len(scope) + 1) // 2) for scope in c_neg):
            return True
    if p_neg and not c_neg and not _HINDERS.search(claim):
        if any(len(scope & c_toks) >= max(1, (len(scope) + 1) // 2) for scope in p_neg):
            return True
    said, passage_said = _affirmed(claim), _affirmed(passage_sentence)
    if c_neg and p_neg:
        # Swapped around the negation: "the sum instead of a moving average" against
        # "a moving average instead of the sum". Each side denies what the other asserts.
        c_said, p_said = set(tokenize(said)), set(tokenize(passage_said))
        if any(len((scope & p_said) - set().union(*p_neg)) >= max(1, (len(scope) + 1) // 2) for scope in c_neg) and \
                any(len((scope & c_said) - set().union(*c_neg)) >= max(1, (len(scope) + 1) // 2) for scope in p_neg):
            return True
    if _comparisons(said) & {(-sign, what) for sign, what in _comparisons(passage_said)}:
        return True  # "faster than SGD" where the passage says "slower than SGD"
    c_dir, p_dir = _directions(said), _directions(passage_said)
    if {(b, a) for a, b in c_dir} & p_dir and not c_dir & p_dir:
        return True  # "from frequency into time" where the passage goes "from time to frequency"
    c_num, p_num = set(_NUMBER.findall(said)), set(_NUMBER.findall(passage_sentence))
    if c_num and p_num and not c_num & p_num:
        return True  # "the default stride is 2" where the passage says "stride = 1"
    for a, b in _OPPOSITE_RES:
        for x, y in ((a, b), (b, a)):
            if x.search(said) and not y.search(claim) and y.search(passage_said) and not x.search(passage_sentence):
                return True
    return False


# Grading thresholds. COVER_SIM, COVER_WORDS and COMMON_SHARE were chosen by a grid
# (0.5-0.6 x 0.15-0.35 x 0.2-1.0) on the tune split of eval/practice.jsonl for the best
# recall at a "covered" precision above 0.9 there; the contradiction and paraphrase
# settings by reading that split's disagreements. Figures (all tuning data now): README, Measured.
COVER_SIM = 0.55  # a user sentence (or clause) this similar to a point's sentence may cover it ...
COVER_WORDS = 0.2  # ... when it also has this share of the point's own words (not the question's, not common)
COMMON_SHARE = 0.3  # a word in more than this share of passages is common
MIN_CLAIM_WORDS = 3  # fewer content words ("I don't know.") is not a claim to check
CONTRA_SIM = 0.5  # a passage sentence this similar is about the same thing: checked for contradiction ...
CONTRA_CHECKED = 3  # ... among the claim's most similar passage sentences ...
CONTRA_MARGIN = 0.1  # ... and no further than this below the most similar one
SAME_SENTENCE = 0.85  # a user sentence this close to a passage sentence (and agreeing) restates it
SUPPORT_SIM = 0.7  # a paraphrase this close to a passage sentence ...
SUPPORT_WORDS = 0.5  # ... and sharing this share of its own words is in the sources


@dataclass(frozen=True)
class _Evidence:
    """Everything a grade needs about the question's passages, embedded once."""

    points: tuple[KeyPoint, ...]
    passages: tuple[Passage, ...]
    sentences: tuple[tuple[Passage, str], ...]  # every claim of every covering passage
    sentence_vecs: np.ndarray
    quote_owner: tuple[tuple[int, ...], ...]  # point -> its quotes' rows in ``sentences``
    mentions: tuple[frozenset[str], ...] = ()  # sentence -> the terms it is about (see ``_mentions``)
    siblings: dict[str, frozenset[str]] | None = None  # term -> the terms it is told apart from
    roles: dict[str, frozenset[str]] | None = None  # term -> the terms that play the other part (``_roles``)
    role_texts: tuple[tuple[str, frozenset[str]], ...] = ()  # passage sentences and clauses, with their terms
    stems: tuple[str, ...] = ()  # sentence -> its stems joined by spaces (``_swapped``'s verbatim test)
    role_tokens: tuple["_Tokens", ...] = ()  # ``role_texts`` tokenized once, for ``_crossed``
    pairs: frozenset[tuple[str, str]] = frozenset()  # terms the passages treat as counterparts (``_counterparts``)
    text: str = ""  # the covering passages' titles and answers, lower-cased (``_foreign``)


def _evidence(comparison, encoder) -> _Evidence:
    points = key_points(comparison, encoder)
    passages = tuple(dict.fromkeys(p for s in comparison.sources if s.covered for p in s.passages
                                   if not is_hollow(p)))
    sentences = [(p, s) for p in passages for _, s in candidate_sentences(p)]
    for k in points:  # a point's quotes are claims of these passages; make sure each has a row
        for q in k.quotes:
            if q not in sentences:
                sentences.append(q)
    subject = question_subject(comparison.question)
    vecs = encoder.encode([_meaning_text(s, subject) for _, s in sentences]) if sentences else np.zeros((0, 1))
    rows = {q: i for i, q in enumerate(sentences)}
    owner = tuple(tuple(rows[q] for q in k.quotes) for k in points)
    terms = set(tokenize(comparison.question)).union(*(set(tokenize(s)) for _, s in sentences))
    mentions = _mentions(sentences)
    siblings = _siblings(terms)
    roles, role_texts = _roles(sentences, mentions, siblings)
    stems = tuple(" ".join(tokenize(s)) for _, s in sentences)
    role_tokens = tuple(_Tokens.of(t) for t, _ in role_texts)
    text = " ".join(f"{p.title or ''} {p.answer}" for p in passages).lower()
    return _Evidence(points, passages, tuple(sentences), vecs, owner, mentions, siblings, roles, role_texts, stems,
                     role_tokens, _counterparts(role_tokens), text)


ROLE_MIN_SENTENCES = 3  # a term in fewer passage sentences is a passing word, not a part the sources describe


def _roles(sentences, mentions, siblings):
    """Terms that play different parts and what the passages say of each: sibling terms,
    and the subjects of two clauses of one passage sentence ("The generator creates fake
    data samples, while the discriminator tries to distinguish ...") that each name only
    their own and each occur in at least ``ROLE_MIN_SENTENCES`` passage sentences.
    Returns (term -> its counterparts, [(sentence or clause, its terms)])."""
    pairs = {a: set(b) for a, b in siblings.items()}
    texts = list(zip((s for _, s in sentences), mentions))
    count = lambda t: sum(t in m for m in mentions)  # noqa: E731
    for _, sent in sentences:
        clauses = [c for c in _CLAUSE.split(sent) if len(tokenize(c)) >= 3]
        if len(clauses) < 2:
            continue
        heads = [(tokenize(c)[0], frozenset(tokenize(c))) for c in clauses]
        texts.extend((c, w) for c, (_, w) in zip(clauses, heads))
        for a, wa in heads:
            for b, wb in heads:
                if a != b and a not in wb and b not in wa and min(count(a), count(b)) >= ROLE_MIN_SENTENCES:
                    pairs.setdefault(a, set()).add(b)
    return {a: frozenset(b) for a, b in pairs.items()}, tuple(texts)


SWAP_MIN_WORDS = 2  # what the user says of a term must share this many words with what the passages say of the other


SWAPPED, ONE_SIDED = 1, 2  # ``_swapped``'s verdicts, weakest first (0: no swap)


def _swapped(unit: str, ev: "_Evidence", question_words: set[str]) -> int:
    """Whether ``unit`` says of one term what the passages say of its counterpart: "the
    generator classifies them as real or fake" (the discriminator "tries to distinguish
    between real and fake samples"); "L2 is the one that sets weights to zero" (L1 "can
    make some weights zero"). The unit opens with the term and does not name the other;
    its other words (not the question's, not common) match a passage sentence or clause
    about the counterpart better than any about the term itself, by at least
    ``SWAP_MIN_WORDS``, and it does not contradict that sentence (a contrast, "unsupervised
    learning uses data without labels", names the opposite on purpose): ``SWAPPED``.

    ``ONE_SIDED`` when the evidence is also one-sided: a word the passages use only of the
    counterpart, and none they use only of the term itself ("the generator tries to
    produce fake samples that look real" borrows the discriminator's "tries ... real and
    fake samples", but "produce" is the generator's own). 0 when it is no swap."""
    toks = tokenize(unit)
    if not toks or not ev.roles or toks[0] not in ev.roles:
        return 0
    said_as_is = " ".join(toks)
    if any(said_as_is in stems for stems in ev.stems):
        return 0  # a passage's own words, in its own order, say nothing of the wrong term
    a, words = toks[0], set(toks)
    siblings = (ev.siblings or {}).get(a, frozenset())
    verdict = 0
    for b in ev.roles[a]:
        # a clause subject the question (or most passages) use is what everything is about, not a part
        if b in words or (b not in siblings and (a in question_words or b in question_words)):
            continue
        said = words - {a, b} - question_words

        def best(x, y):
            return max(((len(said & (m - {x, y})), t) for t, m in ev.role_texts if x in m and y not in m),
                       default=(0, ""))

        own, other = best(a, b), best(b, a)
        if other[0] >= SWAP_MIN_WORDS and other[0] > own[0] and not contradicts(unit, other[1]):
            verdict = SWAPPED
            of_a = set().union(*(m for _, m in ev.role_texts if a in m and b not in m))
            of_b = set().union(*(m for _, m in ev.role_texts if b in m and a not in m))
            if said & (of_b - of_a) and not said & (of_a - of_b):
                return ONE_SIDED
    return verdict


def _clause_tokens(sentence: str) -> list[list[str]]:
    """The sentence's clauses as token lists; a clause too short to say anything ("the
    decoder" before ", which reads ...") is joined to the next."""
    out, carry = [], []
    for c in _CLAUSE.split(sentence):
        toks = carry + tokenize(c)
        if len(toks) < 3:
            carry = toks
            continue
        out.append(toks)
        carry = []
    if carry and out:
        out[-1] += carry
    return out


_FOR = {"for", "in", "with"}  # "X for regression": what is said of a term comes before it
LIST_GAP = 2  # two terms this close in a passage sentence are listed together, not told apart


@dataclass(frozen=True)
class _Tokens:
    """A passage sentence's tokens, which of them follow "for"/"in"/"with", and its clauses' first tokens."""

    tokens: tuple[str, ...]
    after_for: tuple[bool, ...]
    heads: frozenset[str]

    @classmethod
    def of(cls, text: str) -> "_Tokens":
        tokens, after_for, prev = [], [], ""
        for w in re.findall(r"[\w'-]+", text):
            for st in tokenize(w):
                tokens.append(st)
                after_for.append(prev in _FOR)
            prev = w.lower()
        return cls(tuple(tokens), tuple(after_for), frozenset(c[0] for c in _clause_tokens(text)))


def _said_of(t: _Tokens, x: str, y: str) -> frozenset[str]:
    """What a passage sentence says of ``x`` rather than of ``y``: all of it when it does
    not name ``y``; nothing when it lists the two together ("the input gate, forget gate
    and output gate"); else, when each follows "for" ("mean squared error for regression
    and cross-entropy for classification"), the words before ``x`` back to ``y``;
    otherwise the words from ``x`` up to ``y`` when ``x`` comes first, or after ``x``
    (each term's first mention)."""
    tokens = t.tokens
    if x not in tokens:
        return frozenset()
    if y not in tokens:
        return frozenset(tokens)
    i, j = tokens.index(x), tokens.index(y)
    if abs(i - j) <= LIST_GAP:
        return frozenset()
    if t.after_for[i] and t.after_for[j]:
        return frozenset(tokens[j + 1:i] if j < i else tokens[:i])
    return frozenset(tokens[i + 1:j] if i < j else tokens[i + 1:])


def _name_words(clause: list[str], texts: tuple[_Tokens, ...]) -> set[str]:
    """The words that run on from the clause's first word exactly as in some passage
    sentence ("mean squared error"): the rest of the term's name, not what is said of it."""
    longest = 0
    for t in texts:
        toks = t.tokens
        for k, w in enumerate(toks):
            if w != clause[0]:
                continue
            n = 0
            while n + 1 < len(clause) and k + n + 1 < len(toks) and toks[k + n + 1] == clause[n + 1]:
                n += 1
            longest = max(longest, n)
    return set(clause[1:1 + longest])


def _counterparts(texts: tuple[_Tokens, ...]) -> frozenset[tuple[str, str]]:
    """Pairs of terms the passages treat as two of a kind: the heads of two clauses of one
    sentence ("a large learning rate can overshoot ..., while a very small learning rate
    ..."), items of one list ("the input gate, forget gate and output gate"; "the
    generator and the discriminator"), or the first words of sentences that open alike
    ("Reset Gate: ...", "Update Gate: ..."). Both orders of each pair."""
    out = set()
    for t in texts:
        toks = t.tokens
        for i, a in enumerate(toks):
            if i + 1 < len(toks):
                out.add((a, toks[i + 1]))
            if i + 3 < len(toks) and toks[i + 1] == toks[i + 3]:
                out.add((a, toks[i + 2]))
        out.update((a, b) for a in t.heads for b in t.heads)
    # sentences that open alike ("Reset Gate: ...", "Update Gate: ...") name parallel parts
    openings: dict[str, set[str]] = {}
    for t in texts:
        if len(t.tokens) >= 2:
            openings.setdefault(t.tokens[1], set()).add(t.tokens[0])
    out.update((a, b) for group in openings.values() for a in group for b in group)
    return frozenset(p for pair in out for p in (pair, pair[::-1]) if p[0] != p[1])


CROSS_MARGIN = 2  # crossed over, the two clauses share this many more words with the passages
CROSS_REACH = 2  # clauses compared with the next one or two of the same sentence


def _crossed(sentence: str, ev: "_Evidence", question_words: set[str]) -> bool:
    """Whether ``sentence`` swaps what the passages say of two counterparts between its
    clauses: "A small learning rate tends to overshoot the minimum, while a large learning
    rate makes training extremely slow" (the passage: "A large Learning Rate can overshoot
    the minimum while a very small Learning Rate can make training extremely slow").

    Each clause opens with its term (or names it first of the words the question and the
    other clause do not use: "If the learning rate is too low, ...") and does not name the
    other's; the passages treat the two as counterparts (``_counterparts``). What each
    clause says (its words less the other clause's, the question's, common words and the
    rest of the term's name) is matched against what the passages say of each term
    (``_said_of``): read crossed over, both clauses match at least as well, and together by
    ``CROSS_MARGIN`` words more. A sentence whose words a passage has in the same order is
    that passage's. Each clause is compared with the next ``CROSS_REACH`` ones only, so a
    long run-on answer costs little."""
    said_as_is = " ".join(tokenize(sentence))
    if not ev.role_tokens or any(said_as_is in stems for stems in ev.stems):
        return False
    clauses = _clause_tokens(sentence)
    memo: dict[tuple[str, str], list[frozenset[str]]] = {}

    def match(x: str, y: str, words: set[str]) -> int:
        if (x, y) not in memo:
            memo[x, y] = [said for said in (_said_of(t, x, y) for t in ev.role_tokens) if said]
        return max((len(words & said) for said in memo[x, y]), default=0)

    def heads(clause: list[str], other: list[str]) -> list[str]:
        # its first word, and its first word neither the question nor the other clause
        # uses ("If the learning rate is too low, ..." is about "low")
        own = [t for t in clause if t not in question_words and t not in other]
        return list(dict.fromkeys(clause[:1] + own[:1]))

    for i, ci in enumerate(clauses):
        for cj in clauses[i + 1:i + 1 + CROSS_REACH]:
            for a, b in ((a, b) for a in heads(ci, cj) for b in heads(cj, ci)):
                if a in cj or b in ci or (a, b) not in ev.pairs:
                    continue
                drop = question_words | {a, b} | _name_words(ci[ci.index(a):], ev.role_tokens) \
                    | _name_words(cj[cj.index(b):], ev.role_tokens)
                of_a, of_b = set(ci) - set(cj) - drop, set(cj) - set(ci) - drop
                if not of_a or not of_b:
                    continue
                straight_a, crossed_a = match(a, b, of_a), match(a, b, of_b)
                straight_b, crossed_b = match(b, a, of_b), match(b, a, of_a)
                if crossed_a >= straight_a and crossed_b >= straight_b and \
                        crossed_a + crossed_b >= straight_a + straight_b + CROSS_MARGIN:
                    return True
    return False


_NUMBERED = re.compile(r"([a-z]+)(\d+)")
SIBLING_MIN_CHARS = 5  # "un" + a short word is mostly a function word ("unlike"), not a term


def _siblings(terms: set[str]) -> dict[str, frozenset[str]]:
    """Terms the sources tell apart because they name different things of one kind:
    the same letters with a different number ("l1" / "l2") or a negating prefix
    ("supervised" / "unsupervised", "labeled" / "unlabeled"). A statement about one
    of them is not a statement about the other, however alike the two sentences read."""
    out: dict[str, set[str]] = {}
    numbered: dict[str, set[str]] = {}
    for t in terms:
        m = _NUMBERED.fullmatch(t)
        if m:
            numbered.setdefault(m.group(1), set()).add(t)
    for group in numbered.values():
        for t in group:
            out.setdefault(t, set()).update(group - {t})
    for t in terms:
        for prefix in ("un", "non-", "non"):
            base = t[len(prefix):]
            if t.startswith(prefix) and base in terms and len(base) >= SIBLING_MIN_CHARS:
                out.setdefault(t, set()).add(base)
                out.setdefault(base, set()).add(t)
    return {t: frozenset(v) for t, v in out.items() if v}


def _mentions(sentences) -> tuple[frozenset[str], ...]:
    """The terms each passage sentence is about: its own words and, when it opens with
    "This"/"It" after a sentence of the same passage, what that sentence was about (its
    sub-heading, else its first words): "L1 Regularization: Adds a penalty ... This can
    make some weights zero" -- the second sentence is about L1."""
    out, prev_passage, prev = [], None, frozenset()
    for passage, sent in sentences:
        if prev_passage is None or passage.id != prev_passage.id:
            prev = frozenset()
        m = _LABEL.match(sent)
        head = frozenset(tokenize(m.group(1))) - _LABEL_WORDS if m and len(m.group(1).split()) <= 5 else frozenset()
        words = frozenset(tokenize(sent))
        if not head and _ANAPHOR.match(m.group(2) if m else sent):
            words |= prev
        out.append(words)
        prev = head or frozenset(tokenize(sent)[:2])
        prev_passage = passage
    return tuple(out)


def _about_other(words: set[str], row: int, ev: "_Evidence") -> bool:
    """Whether a user sentence with ``words`` names one of two sibling terms and passage
    sentence ``row`` the other ("L2 is the one that sets weights to zero" against L1's
    "This can make some weights zero"): it says nothing about that sentence's term."""
    sib = ev.siblings or {}
    mentioned = ev.mentions[row] if ev.mentions else frozenset()
    return any(a not in mentioned and sib[a] & mentioned and not sib[a] & words for a in words & sib.keys())


def _own_words(text: str, question_words: set[str]) -> set[str]:
    return set(tokenize(text)) - question_words


@dataclass(frozen=True)
class Exercise:
    """A question ready to grade answers against: its comparison and key points, embedded once.

    Made when the question is shown, so that grading an answer only embeds the answer.
    """

    question: str
    comparison: object  # rag.compare.Comparison
    evidence: _Evidence

    @property
    def points(self) -> tuple[KeyPoint, ...]:
        """The key points answers are graded against."""
        return self.evidence.points

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources that cover the question (corpus order)."""
        return tuple(s.source for s in self.comparison.sources if s.covered)


_EXERCISES: "OrderedDict[tuple[int, str], Exercise]" = OrderedDict()
_CACHED_EXERCISES = 64
_EXERCISES_LOCK = threading.Lock()  # the app's sessions share the cache


def prepare(pipeline, question: str) -> Exercise:
    """The question's comparison and key points (cached per pipeline and question).

    Raises ``UserError`` for an empty or over-long question.
    """
    from rag.retrieve import clean_question

    question = clean_question(question)
    key = (id(pipeline), question)
    with _EXERCISES_LOCK:
        found = _EXERCISES.get(key)
    if found is not None:
        return found
    comparison = pipeline.compare(question)
    exercise = Exercise(question, comparison, _evidence(comparison, pipeline.index.encoder))
    with _EXERCISES_LOCK:
        _EXERCISES[key] = exercise
        while len(_EXERCISES) > _CACHED_EXERCISES:
            _EXERCISES.popitem(last=False)
    return exercise


def grade(pipeline, question: "str | Exercise", answer: str) -> Feedback:
    """Grade ``answer`` to ``question`` (text, or an ``Exercise`` from ``prepare``) against
    the sources; no model is called.

    Raises ``UserError`` for an empty or over-long question or answer.
    """
    from rag.errors import UserError

    if not answer or not answer.strip():
        raise UserError("the answer is empty: write what you would say in the interview")
    if len(answer) > MAX_ANSWER_CHARS:
        raise UserError(f"the answer is {len(answer):,} characters; the limit is {MAX_ANSWER_CHARS:,}")
    exercise = question if isinstance(question, Exercise) else prepare(pipeline, question)
    question = exercise.question
    encoder = pipeline.index.encoder
    ev = exercise.evidence
    covering = exercise.sources
    if not ev.points:
        return Feedback(question, answer, (), (), None, covering, refused=True)
    sents = split_answer(answer)
    claims = [i for i, s in enumerate(sents) if len(tokenize(s)) >= MIN_CLAIM_WORDS]
    subject = question_subject(question)
    split = [(si, u, whole) for si in claims for u, whole in _units(sents[si], subject)]
    units = [(si, u) for si, u, _ in split]
    sim = (encoder.encode([u for _, u in units]) @ ev.sentence_vecs.T) if units else np.zeros((0, 0))
    wholes: dict[int, list[int]] = {}  # sentence -> its units that are the whole sentence
    for ui, (si, _, whole) in enumerate(split):
        if whole:
            wholes.setdefault(si, []).append(ui)
    opposite = _contradicted(units, sim, ev, wholes)  # sentence -> the passage sentence it contradicts
    contradicted = set(opposite)
    vocab = pipeline.retriever.vocab
    # Words most passages use ("network", "model", "data") show no point is made: they
    # count like the question's own words.
    question_words = set(tokenize(question)) | {t for t, n in vocab.stems.items() if n > COMMON_SHARE * vocab.n_docs}
    # Swapped parts read like the passage word for word; only which term does what differs.
    # Word counts cannot tell a swap from a right sentence that borrows the other part's
    # words ("the generator tries to produce fake samples that look real" shares more with
    # the discriminator's sentence), so a swap only keeps the sentence from covering a
    # point; it is not called "not in the sources" on that evidence.
    swaps = [(si, _swapped(unit, ev, question_words)) for si, unit in units if si not in contradicted]
    swapped = {si for si, verdict in swaps if verdict}
    # ... unless the evidence is one-sided: it says something the passages say only of the
    # other term and nothing they say only of its own ("the generator tries to spot which
    # samples are fake"), or it swaps two terms' parts within one sentence.
    contradicted |= {si for si, verdict in swaps if verdict == ONE_SIDED}
    contradicted |= {si for si in claims if si not in contradicted and _crossed(sents[si], ev, question_words)}
    results, covering_sents = [], set()
    numbers: dict[int, int] = {}  # passage id -> citation number, in order of first use
    for point, rows in zip(ev.points, ev.quote_owner):
        best: tuple[float, int] | None = None
        for ui, (si, unit) in enumerate(units):
            if si in contradicted or si in swapped:
                continue
            words = set(tokenize(unit))
            for j in rows:
                own = _own_words(ev.sentences[j][1], question_words)
                share = len(own & words) / len(own) if own else 1.0
                if sim[ui, j] >= COVER_SIM and share >= COVER_WORDS and (best is None or sim[ui, j] > best[0]) \
                        and not _about_other(words, j, ev):
                    best = (float(sim[ui, j]), si)
        cites = tuple(Citation(numbers.setdefault(p.id, len(numbers) + 1), p, q) for p, q in point.quotes)
        if best is not None:
            covering_sents.add(best[1])
        results.append(PointResult(point, best is not None, sents[best[1]] if best else None, cites))
    unsupported = []
    for si in claims:
        if si in contradicted or _foreign(sents[si], ev, vocab):
            unsupported.append(sents[si])
            continue
        if si in covering_sents:
            continue
        if _paraphrases(si, units, sim, ev, question_words):
            continue
        if not any(supports(sents[si], p, vocab) for p in ev.passages):
            unsupported.append(sents[si])
    total = sum(len(r.point.sources) for r in results)
    score = sum(len(r.point.sources) for r in results if r.covered) / total
    against = tuple((sents[si], ev.sentences[j][0], _with_antecedent(*ev.sentences[j]))
                    for si, j in sorted(opposite.items()) if sents[si] in unsupported)
    return Feedback(question, answer, tuple(results), tuple(unsupported), score, covering, contradicted=against)


_YEAR = re.compile(r"\b(?:in|since|by|from|around|until)\s+((?:1[89]|20)\d\d)\b", re.I)
_NAME = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]{3,}\b")


def _foreign(sentence: str, ev: _Evidence, vocab) -> bool:
    """Whether the sentence dates something ("in 2014") or names a person or place (a
    capitalised word inside the sentence that no source uses) that no covering passage
    has: history the sources do not tell ("popularized by Bahdanau and colleagues in 2014")."""
    if any(year not in ev.text for year in _YEAR.findall(sentence)):
        return True
    return any(tokenize(w) and not vocab.knows(w) and w.lower() not in ev.text for w in _NAME.findall(sentence))


def _paraphrases(si: int, units, sim: np.ndarray, ev: _Evidence, question_words: set[str]) -> bool:
    """Whether user sentence ``si`` restates a passage sentence in other words: close in
    meaning and sharing at least ``SUPPORT_WORDS`` of its own words (those not in the
    question; "It works like a decision tree" is close to any sentence about the subject
    once "It" is read as the subject, but shares none of their words)."""
    for ui, (s, unit) in enumerate(units):
        if s != si:
            continue
        own = _own_words(unit, question_words)
        for j in np.argsort(-sim[ui])[:CONTRA_CHECKED]:
            if sim[ui, j] < SUPPORT_SIM:
                break
            said = ev.sentences[j][1]
            if bool(_NEGATOR.search(unit)) != bool(_NEGATOR.search(said)):
                continue  # "dropout is used at inference time" is not "during inference, dropout is not applied"
            if own and len(own & set(tokenize(said))) / len(own) >= SUPPORT_WORDS:
                return True
    return False



def _with_antecedent(passage: Passage, sentence: str) -> str:
    """``sentence``, after the passage sentence before it when it opens with a pronoun
    ("This can make some weights zero" says nothing of what "This" is)."""
    if not leans_back(sentence):
        return sentence
    sents = split_sentences(passage.answer)
    i = next((k for k, s in enumerate(sents) if s == sentence or sentence.startswith(s) or s.startswith(sentence)), None)
    return f"{sents[i - 1]} {sentence}" if i else sentence


def _contradicted(units: list[tuple[int, str]], sim: np.ndarray, ev: _Evidence,
                  wholes: dict[int, list[int]]) -> dict[int, int]:
    """The user sentences one of whose units says the opposite of a passage sentence it
    resembles, each with the row of that passage sentence in ``ev.sentences``.

    A sentence split into clauses is judged by its clauses: read whole, a sentence that
    contrasts two things ("in supervised learning every example has a label; in
    unsupervised learning there are none") resembles the passage about the first and
    holds the opposite word of the second.
    """
    out: dict[int, int] = {}
    clausal = {si for si, _ in units if len(wholes.get(si, ())) < sum(1 for s, _ in units if s == si)}
    for ui, (si, unit) in enumerate(units):
        if si in clausal and ui in wholes[si]:
            continue
        order = np.argsort(-sim[ui])[:CONTRA_CHECKED]
        if si in out:
            continue  # decided by another of its clauses
        # a sentence much less like the claim than its best match is about something else
        against = [int(j) for j in order if sim[ui, j] >= max(CONTRA_SIM, sim[ui, order[0]] - CONTRA_MARGIN)
                   and contradicts(unit, ev.sentences[j][1])]
        if against:
            # shown as the evidence: the one that shares most of the claim's words ("During
            # inference, dropout is not applied" for "at test time dropout is also applied"),
            # looked for a little further down than the decision looks
            words = set(tokenize(unit))
            near = max(CONTRA_SIM, sim[ui, order[0]] - 2 * CONTRA_MARGIN)
            wider = [int(j) for j in np.argsort(-sim[ui])[:3 * CONTRA_CHECKED] if sim[ui, j] >= near
                     and contradicts(unit, ev.sentences[j][1])]
            out[si] = max(wider or against, key=lambda j: (len(words & set(tokenize(ev.sentences[j][1]))),
                                                          float(sim[ui, j])))
    # A sentence that is nearly a passage sentence, and does not contradict it, is that
    # passage's claim: a sentence copied from one source may echo another source's
    # negation in other words ("prevents co-adapting" / "instead of relying on").
    for si in list(out):
        for ui in wholes.get(si, ()):
            j = int(np.argmax(sim[ui]))
            if sim[ui, j] >= SAME_SENTENCE and not contradicts(units[ui][1], ev.sentences[j][1]):
                del out[si]
                break
    return out


# ---------------------------------------------------------------------------------------
# Picking a question


@dataclass(frozen=True)
class PracticeQuestion:
    """A corpus question to practise: its text (the title a source asks), topic, and the
    sources whose questions share that topic. Carries no answer text."""

    text: str
    topic: str
    sources: tuple[str, ...]
    passage_id: int


def practice_questions(tmap) -> list[PracticeQuestion]:
    """Every askable corpus question (its source answers it: not a bare heading), with its topic."""
    from rag.context import is_hollow

    out = []
    for t in tmap.topics:
        srcs = tuple(t.by_source)
        for p in t.questions:
            if p.title and not is_hollow(p):
                out.append(PracticeQuestion(p.title.strip(), t.name, srcs, p.id))
    return out


def find_topic(tmap, name: str) -> str:
    """The topic called ``name`` (case-insensitive; a unique part of a name is enough)."""
    from rag.errors import UserError

    names = [t.name for t in tmap.topics]
    key = name.strip().lower()
    exact = [n for n in names if n.lower() == key]
    found = exact or [n for n in names if key and key in n.lower()]
    if len(found) == 1:
        return found[0]
    shown = ", ".join(found[:8] if found else names[:12])
    what = "matches several topics" if found else "is not a topic"
    raise UserError(f"{name!r} {what}; {'e.g. ' if not found else ''}{shown}{' …' if not found else ''} "
                    "(rag topics lists them all)")


def pick_question(tmap, *, topic: str | None = None, sources: tuple[str, ...] = (), rng=None,
                  avoid: tuple[str, ...] = ()) -> PracticeQuestion:
    """A question to practise: of ``topic`` and/or asked by one of ``sources`` (file names),
    at random, questions of topics that several sources answer far more often (weight:
    the square of the number of sources), and not one of ``avoid`` when there is another.
    """
    import random

    from rag.errors import UserError

    rng = rng or random.Random()
    pool = practice_questions(tmap)
    name = find_topic(tmap, topic) if topic else None
    if name:
        pool = [q for q in pool if q.topic == name]
    if sources:
        by_id = {p.id: p for t in tmap.topics for p in t.questions}
        pool = [q for q in pool if by_id[q.passage_id].source in sources]
    if not pool:
        of = f" of topic {name!r}" if name else ""
        raise UserError(f"no corpus question{of} is asked by that source (rag topics shows who covers what)")
    fresh = [q for q in pool if q.text not in avoid] or pool
    weights = [len(q.sources) ** 2 for q in fresh]
    return rng.choices(fresh, weights=weights, k=1)[0]


def topic_of(pipeline, tmap, question: str) -> str | None:
    """The topic of a typed question: that of the corpus question that best matches it."""
    result = pipeline.search(question, k=1)
    if result.refused or not result.hits:
        return None
    pid = result.hits[0].passage.id
    return next((t.name for t in tmap.topics if any(p.id == pid for p in t.questions)), None)


# ---------------------------------------------------------------------------------------
# Written feedback (optional, with a language model)

FEEDBACK_TASK = ("Above is the user's answer to this interview question. In exactly two sentences, "
                 "first say which point of the passages the answer explained well, then name the most "
                 "important point of the passages it did not mention, stated as the passages state it. "
                 "End each sentence with the passage number, like [1].")
FEEDBACK_TOKENS = 120
# "You explained well that X [1]." / "Your answer did not mention that X, which two sources stress [2]."
# The check reads X: what is said about the user is not a claim about the sources.
_ABOUT_USER = re.compile(r"^.*?\b(?:mention\w*|explain\w*|describ\w*|cover\w*|point|stress\w*|miss\w*|"
                         r"omit\w*|forg[oe]t\w*)\b.*?\b(?:that|how|why)\s+", re.I)
_MARKS_AFTER_STOP = re.compile(r"([.!?])((?:\s*\[\d+(?:\s*,\s*\d+)*\])+)")
_STRESS_TAIL = re.compile(r",?\s+(?:which|as|something)\b[^.\[]*\b(?:sources?|passages?)\b[^.\[]*", re.I)


def _claim_of(sentence: str) -> str:
    """The part of a feedback sentence that states what the sources say."""
    claim = _STRESS_TAIL.sub("", sentence)
    m = _ABOUT_USER.match(claim)
    return claim[m.end():] if m and len(tokenize(claim[m.end():])) >= MIN_CLAIM_WORDS else claim


def model_feedback(pipeline, fb: Feedback, generator: str, on_token=None):
    """Two sentences of written feedback by a language model, checked like any answer.

    The model sees the key points' passages (the sentences that make the points) and the
    user's answer. A sentence stays only when what it says the sources say passes the
    citation check (``rag.citations``) against the passages it cites; the rest is left
    out with a notice. Returns an ``Answer`` (``generator == "extractive"`` and a notice
    when the model failed or wrote nothing the sources support: the point lists stand).
    """
    from rag.citations import check_citations
    from rag.context import ContextPassage
    from rag.errors import GenerationError
    from rag.generate import build_messages, generate_text, resolve_generator
    from rag.records import Answer, SentenceSupport

    name = resolve_generator(generator, pipeline.settings)
    if fb.refused or not fb.points or name == "extractive":
        return Answer(fb.question, "", False, "extractive")
    by_passage: dict[int, tuple[Passage, list[str]]] = {}
    for r in sorted(fb.points, key=lambda r: r.covered):  # missed points first: they matter most
        for passage, quote in r.point.quotes:
            by_passage.setdefault(passage.id, (passage, []))[1].append(quote)
    context = [ContextPassage(p, tuple(dict.fromkeys(q))) for p, q in list(by_passage.values())[:4]]
    passages = [c.passage for c in context]
    prompt_q = f"{fb.question}\nThe user's answer: {' '.join(fb.answer.split())[:1500]}"
    messages = build_messages(prompt_q, context, FEEDBACK_TASK)
    try:
        text, stats = generate_text(name, messages, pipeline.settings, on_token, FEEDBACK_TOKENS)
    except GenerationError as exc:
        return Answer(fb.question, "", False, "extractive", notices=(f"{exc}; the point lists are the feedback",))
    sentences, citations, dropped, left_out = [], {}, 0, []
    for sent in split_sentences(_MARKS_AFTER_STOP.sub(r"\2\1", text)):
        markers = re.findall(r"\[\d+(?:\s*,\s*\d+)*\]", sent)  # none: the check finds the passage itself
        checked = check_citations(_claim_of(sent) + " " + " ".join(markers), passages, pipeline.index.encoder,
                                  pipeline.retriever.vocab)
        ok = [s for s in checked.sentences if s.supported and s.cites]
        if not ok:
            dropped += 1
            left_out += checked.left_out  # (with the reason; empty for a connective)
            continue
        by_n = {c.n: c for c in checked.citations}
        cites = []
        for n in dict.fromkeys(n for s in ok for n in s.cites):
            c = by_n[n]
            key = c.passage.id
            if key not in citations:
                citations[key] = Citation(len(citations) + 1, c.passage, c.quote)
            cites.append(citations[key].n)
        clean = re.sub(r"\s*\[\d+(?:\s*,\s*\d+)*\]", "", sent).strip()
        sentences.append(SentenceSupport(clean, tuple(cites), True, max(s.support for s in ok)))
    notices = (f"left out {dropped} sentence(s) of the model's feedback that the passages do not support",) \
        if dropped else ()
    if not sentences:
        return Answer(fb.question, "", False, "extractive", notices=(
            f"the {name} model's feedback is not supported by the sources; the point lists are the feedback",),
            stats=stats, left_out=tuple(left_out))
    rendered = cited_text(sentences)
    return Answer(fb.question, rendered, False, name, tuple(citations.values()), tuple(sentences), notices,
                  stats=stats, left_out=tuple(left_out))
