"""Check a generated answer's citations against the passages, in code.

Small local models cite unreliably: they invent markers, forget them, or put them
on sentences the passage does not say. After generation this module:

1. removes markers that point at no passage, and counts them;
2. splits the answer into sentences, each with the markers that follow it;
3. decides for each sentence and passage whether the passage *says* it (``supports``):
   the sentence's content words must be found in one or two adjacent sentences of the
   passage (not merely somewhere in it); a technical term no source uses, a rare term
   the passage lacks, a number the passage lacks, or a negation only one side has
   fails it; a comparison ("X does a, while Y does b") needs each side found. The old
   lenient score (half word share, half cosine with the closest sentence) is kept only
   as the reported ``support`` and to order passages that pass;
4. keeps the cited passages that support the sentence; where none does, attaches
   the best supporting passage; where no passage does, marks the sentence
   unsupported (and keeps no citation for it);
5. renumbers the surviving citations 1..n in order of first use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rag.context import headed_claims
from rag.keyword import _STOP as _KEYWORD_STOP
from rag.keyword import tokenize as _stems
from rag.query import _WORD, american, is_technical
from rag.records import Citation, LeftOut, Passage, SentenceSupport, cited_text
from rag.text import in_order, is_header_row, is_legend, split_sentences, table_sentences


def _root(stem: str) -> str:
    """One spelling for the stems the light stemmer leaves apart: "generalize" and
    "generaliz" (from "generalizing"), "overfit" and "overfitt" (from "overfitting")."""
    if len(stem) >= 5 and stem.endswith("e"):
        stem = stem[:-1]
    if len(stem) >= 5 and stem[-1] == stem[-2] and stem[-1] not in "s":
        stem = stem[:-1]
    return stem


def tokenize(text: str) -> list[str]:
    """The corpus tokenizer's stems, folded by ``_root``: every word comparison of the check."""
    return [_root(t) for t in _stems(text)]


__all__ = ["check_citations", "keep_supported", "supports", "unsupported_reason", "about_unexplained",
           "unexplained_term", "why_left_out", "CheckedAnswer", "SUPPORT_THRESHOLD"]

# Thresholds of the strict test, chosen on the tuning half of eval/answers.jsonl
# (sentences of real local-model answers labelled by reading the cited passage) and
# reported on the other half; see the README.
SUPPORT_THRESHOLD = 0.5  # the lenient score's floor, kept as a tie-break
WINDOW_COVERAGE = 0.75  # share of a claim's content words found in a 1-2 sentence window
CLAUSE_COVERAGE = 0.6  # the same for each side of a comparison
CAUSE_COVERAGE = 0.3  # of what a "because" explains, found anywhere in the passage
# "<the question's description> is called <name>": a share of the description's words the
# passage must write beside the name
NAMED_DESCRIPTION = 0.33
# A sentence whose embedding is this close to one of the passage's sentences needs only
# this share of its words in a window (paraphrases swap words for synonyms).
PARAPHRASE_SIMILARITY = 0.8
PARAPHRASE_COVERAGE = 0.6
NAMING_WORDS = 3  # a question of fewer content words names its subject ("bias variance"), not describes it
RARE_SHARE = 0.05  # a technical word in at most this share of passages is a specific term
NEGATED_SHARE = 0.3  # of the claim's words, in a passage clause that negates them
# "n't" covers can't/won't/doesn't…, with either apostrophe (the corpus writes "can’t").
_NEGATION = re.compile(r"\b(?:not|no|never|cannot|without|neither|nor)\b|n['’]t\b", re.I)
# ("while training" is a time, not a contrast: "while" before an -ing word does not split.)
_CLAUSE = re.compile(r",?\s+(?:while(?!\s+\w+ing\b)|whereas|but|unlike|however|in contrast)\s+|;\s+", re.I)
# "X because Y", "X, which is why Y": the sentence states that the passage's Y explains X,
# so X (the effect, often the question's own words) must be in the passage as well.
_CAUSE = re.compile(r",?\s+(?:because|due to|as a result of|owing to)\s+|,\s+which is why\s+", re.I)
_CALLED = re.compile(r"\b(?:is|are|was|were)\s+(?:often\s+|also\s+|commonly\s+|sometimes\s+)?"
                     r"(?:called|known as|referred to as|named|termed)\b", re.I)
_FRAGMENT = re.compile(r"\b(?:are|is|was|were|be|been|being|in|of|the|a|an|to|and|or|as|by|with|for|from|that)"
                       r"[.!?]?\s*$", re.I)
# "Some important points about X are as follows." announces what follows; it says nothing.
_LEAD_IN = re.compile(r"\b(?:as follows|the following|following (?:points|ways|steps))\s*(?:[.:]\s*)?$|:\s*$", re.I)
# Verb and adverb endings: a lower-case word ending so is ordinary English that the
# model's WordPiece vocabulary happens not to hold whole, not a technical term.
_VERB_FORM = re.compile(r"(?:ate|ates|ated|ize|izes|ized|izing|ise|ises|ised|ising|ing|ed|ly)$")
_AUX = re.compile(r"\b(?:is|are|was|were|be|been|has|have|had|can|could|will|would|may|might|should|must|do|does|"
                  r"did|its?|they|we|you|which|who|that)\b", re.I)
# Words an answer wraps a claim in ("is called", "one should use", "is crucial because")
# that state nothing a passage could be checked for; coverage is counted without them.
_GLUE = frozenset(tokenize("call called use using used one because rather thing things way also various different "
                           "specific certain often typically usually commonly important crucial key main "
                           "effectively ensure designed approach "
                           # verbs that relate a claim to its subject, and nouns that only point
                           # back at it ("This technique helps …", "It involves …", "is known as")
                           "involve involves help helps allow allows enable enables known refer refers consist "
                           "consists deal deals lead leads able ability indicate indicates aim aims "
                           "technique techniques method methods process concept idea notion"))
_COMPARATIVE = re.compile(r"\b(more|less|better|worse|\w{3,}er)\b(?:\s+\w+){0,3}?\s+(?:than|compared (?:to|with))\s+"
                          r"([^,;.]+)", re.I)
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")
# "outputs 0 otherwise" states what a passage's "outputs zero" does
_NUMBER_WORDS = {str(n): w for n, w in enumerate("zero one two three four five six seven eight nine ten".split())}
_MARKER = re.compile(r"[\s,;]*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_LEADING = re.compile(r"^[ \t]*((?:\[\d+(?:\s*[,;]\s*\d+)*\][ \t]*)+)(.*?)$", re.M)
_AFTER_STOP = re.compile(r"([.!?])((?:[\s,;]*\[\d+(?:\s*[,;]\s*\d+)*\])+)")
_MIN_CONTENT_WORDS = 3  # shorter sentences ("In short:") are connective, not claims
# "They are related concepts but not exactly the same: [1] A Perceptron is …": a marker
# after a colon, before a capital, closes the clause it cites, so it is a sentence of its
# own. Only after six words or more: a label ("Adam (…): [1] It combines …") names what
# follows it and stays with it.
_COLON_CITED = re.compile(r"(?<=\S):((?:[ \t]*\[\d+(?:\s*[,;]\s*\d+)*\])+)[ \t]+(?=[A-Z])")
_CLAUSE_WORDS = 6
_INTRODUCES = re.compile(r"\b(?:includes?|including|such as|like|namely|consists? of|are called|is called|"
                         r"means?|following|follows?|says?|states?)\s*$", re.I)


@dataclass(frozen=True)
class CheckedAnswer:
    """The answer text rewritten with checked markers, and what the check found."""

    text: str
    sentences: tuple[SentenceSupport, ...]
    citations: tuple[Citation, ...]
    removed_markers: int
    reattached: int
    # the claims not kept, each with the references of the passages it cited and why
    # (connectives such as "That is all." are not kept either, but claim nothing)
    left_out: tuple[LeftOut, ...] = ()


def _drop_ref(sentence: str, refs: tuple[str, ...]) -> str:
    """The sentence without a leading passage label the model copied from the prompt
    ("Multisoft Systems Intermediate-Level Q12: Transfer learning ...")."""
    for ref in refs:
        if ref and sentence.startswith(ref):
            rest = sentence[len(ref):].lstrip()
            if rest.startswith(":"):
                return rest[1:].strip()
    return sentence


# What an answer wraps a claim in that is not itself a claim: "The passage states that
# "…", "According to passage 2, …", "Yes, …", "…, on the other hand, …".
_WRAPPER = re.compile(r"^\s*(?:(?:the\s+)?(?:passages?|sources?|context)(?:\s*\[?\d+\]?)?\s+(?:states?|says?|"
                      r"mentions?|explains?|notes?)(?:\s+that)?|according\s+to\s+(?:the\s+)?(?:passages?|sources?|"
                      r"context)(?:\s*\[?\d+\]?)?,?|yes,)\s*[\"“']?", re.I)
# Connectives at the start, or set off by commas ("A GRU, on the other hand, has …").
# ("in contrast" is left alone: the comparison rule splits the sentence there.)
_CONNECTIVE = re.compile(r"(?:^|,)\s*(?:on the other hand|in addition|additionally|furthermore|moreover)\s*,\s*",
                         re.I)


def _unwrap(sentence: str) -> str:
    """The claim without its wrappers (see ``_WRAPPER``) and set-off connectives."""
    inner = sentence
    while True:
        stripped = _WRAPPER.sub("", inner, count=1)
        if stripped == inner:
            break
        inner = stripped.rstrip().rstrip("\"”'").strip()
    inner = _CONNECTIVE.sub(lambda m: " " if m.group(0).startswith(",") else "", inner).strip()
    # a sentence that is only a wrapper ("The passage states that.") states nothing
    return inner if len(tokenize(inner)) >= 1 else sentence


def _close_cited_clause(text: str, m: re.Match) -> str:
    """``m`` (a colon, its markers, the space after) as a full stop after the markers when
    the clause the colon ends is six words or more (see ``_COLON_CITED``)."""
    start = max(text.rfind(c, 0, m.start()) for c in ".!?\n]")
    clause = text[start + 1:m.start()].strip()
    # "… are: [1] Adagrad, RMSProp and Adam." and "… include: [1] ReLU, …" lead into what
    # follows: one claim, not two.
    if len(clause.split()) < _CLAUSE_WORDS or _FRAGMENT.search(clause) or _LEAD_IN.search(clause) \
            or _INTRODUCES.search(clause):
        return m.group(0)
    return f"{m.group(1)}. "


def _split_with_markers(text: str, n_passages: int, refs: tuple[str, ...] = ()) -> tuple[list[tuple[str, list[int]]], int]:
    """Sentences with the valid marker numbers attached to each; count invalid markers."""
    # "[1] Dropout is ..." at the start of a line cites that line: move the markers to
    # its end. "... gradients. [1] It ..." cites the sentence before the marker: move
    # markers written after the full stop in front of it, so the splitter keeps them.
    text = _LEADING.sub(lambda m: m.group(2).rstrip() + " " + m.group(1).strip(), text)
    text = _COLON_CITED.sub(lambda m: _close_cited_clause(text, m), text)
    text = _AFTER_STOP.sub(lambda m: m.group(2) + m.group(1), text)
    removed = 0
    out: list[tuple[str, list[int]]] = []
    for sent in split_sentences(text):
        cites: list[int] = []
        for m in _MARKER.finditer(sent):
            for num in re.split(r"\s*[,;]\s*", m.group(1)):
                n = int(num)
                if 1 <= n <= n_passages:
                    cites.append(n)
                else:
                    removed += 1
        clean = _MARKER.sub("", sent).strip()
        clean = _drop_ref(clean, refs)
        if not clean:
            # A sentence made only of markers ("[2]" split off by the splitter) belongs to
            # the sentence before it.
            if out:
                out[-1][1].extend(cites)
            continue
        out.append((clean, list(dict.fromkeys(cites))))
    return out, removed


def _lexical(sentence_tokens: set[str], passage_tokens: set[str]) -> float:
    if not sentence_tokens:
        return 0.0
    return len(sentence_tokens & passage_tokens) / len(sentence_tokens)


@dataclass(frozen=True)
class Evidence:
    """A passage prepared for the strict test: its sentence windows and their words."""

    tokens: set[str]
    windows: list[tuple[str, set[str]]]  # single sentences first, then adjacent pairs
    singles: int = 0
    compact: frozenset[str] = frozenset()  # the passage's words, lower case, hyphens removed
    # pair windows whose second sentence leans on the first ("Underfitting is the opposite.
    # It occurs when …"): the pair says what the first sentence names
    leaning: frozenset[int] = frozenset()
    title_words: frozenset[str] = frozenset()  # the passage's title (its question), as stems
    sequence: tuple[str, ...] = ()  # the title's and answer's tokens in order
    # claims that open with "It" under a sub-heading, said of the sub-heading's name
    # ("Adagrad (Adaptive Gradient Algorithm) adjusts the learning rate …")
    headed: tuple[tuple[str, str], ...] = ()  # (the sub-heading's name, its claim without "It")


def _words(text: str) -> set[str]:
    """Content-word stems, with hyphenated words also joined ("pre-trained" matches "pretrained")."""
    out = set(tokenize(text))
    for compound in re.findall(r"\b\w+(?:-\w+)+", text):
        out.update(tokenize(compound.replace("-", "")))
    return out


def _evidence(passage: Passage) -> Evidence:
    sents = split_sentences(passage.answer) or [passage.answer or passage.text]
    title = _words(passage.title or "")
    toks = [_words(s) for s in sents]
    windows = [(s, t | title) for s, t in zip(sents, toks)]
    windows += [(sents[i] + " " + sents[i + 1], toks[i] | toks[i + 1] | title) for i in range(len(sents) - 1)]
    compact = frozenset(w.lower().replace("-", "") for w in _WORD.findall(f"{passage.title or ''} {passage.answer}"))
    leaning = frozenset(len(sents) + i for i in range(len(sents) - 1) if _PRONOUN_LEAD.match(sents[i + 1]))
    headed = tuple((name, _PRONOUN_SUBJECT.sub("", claim, count=1))
                   for name, claim in (h.split(": ", 1) for h in headed_claims(passage) if ": " in h)
                   if _PRONOUN_SUBJECT.match(claim))
    return Evidence(title.union(*toks), windows, len(sents), compact, leaning, frozenset(tokenize(passage.title or "")),
                    tuple(tokenize(f"{passage.title or ''} {passage.answer}")), headed)


def _coverage(tokens: set[str], ev: Evidence) -> tuple[float, str]:
    best, text = 0.0, ""
    for wtext, wtoks in ev.windows:
        c = len(tokens & wtoks) / len(tokens)
        if c > best:
            best, text = c, wtext
    return best, text


_VERB = re.compile(r"\b(?:is|are|was|were|can|could|has|have|helps?|uses?|allows?|provides?|refers?|means?|"
                   r"does|do|works?|makes?|leads?|causes?|prevents?|reduces?|improves?)\b", re.I)
MAX_SUBJECT_WORDS = 4
BOUND_SHARE = 0.5  # of the claim's other words, found in one sentence together with its subject


def _subject_bound(sentence: str, ev: Evidence, vocab, asked: set[str] = frozenset(),
                   described: set[str] = frozenset()) -> bool:
    """Whether the passage says the claim *of its subject* ("Sigmoid ... mitigates X" needs a
    passage sentence naming sigmoid together with what is claimed, not X said of ReLU).

    ``described``: the head nouns of the question's descriptions ("trick" of "the trick
    where you switch off neurons"): a subject made of the question's words around one of
    them is that description restated, not a name the passage must write.
    """
    m = _VERB.search(sentence)
    if not m:
        return True
    if _DEMONSTRATIVE.match(sentence):
        return True  # "This method helps …" points back at the answer's subject: nothing to bind
    subject = set(tokenize(sentence[: m.start()])) - _GLUE
    rest = set(tokenize(sentence[m.end():])) - subject
    if not subject or len(rest) < 2 or len(subject) > MAX_SUBJECT_WORDS:
        return True  # (a long "subject" is a clause the verb pattern cut, not a subject)
    if described and subject <= asked and described & subject:
        return True  # the question's own description ("The trick …"): it names nothing to bind
    # The subject's term, not its adjective: "perceptron" of "a perceptron with several
    # layers", "autoencoder" of "a regular autoencoder"; among terms, the rarest.
    key = min(subject, key=lambda t: (not is_technical(t), vocab.stems.get(t, 0) if vocab is not None else 0, t))
    caps = {w.lower() for w in re.findall(r"\b([A-Z]{2,5})s?\b", sentence)}  # written as an acronym
    # single sentences, and pairs whose second sentence leans on the first
    for wtext, wtoks in ev.windows[: ev.singles] + [ev.windows[i] for i in sorted(ev.leaning)]:
        if (key in wtoks or (key in caps and _abbreviates(key, wtext))) and len(rest & wtoks) >= BOUND_SHARE * len(rest):
            return True
    # and each "It …" claim under a sub-heading with that sub-heading, when the subject is
    # the sub-heading's name, every word ("Adam (Adaptive Moment Estimation) is the
    # default optimizer …" from "3. Adam (…)" / "It combines …" / "It is the default
    # optimizer …"; not "Adagrad (Adaptive Gradient Algorithm) is …", whose "adaptive"
    # Adam's name also spells)
    for name, claim in ev.headed:
        if subject <= set(tokenize(name)) and len(rest & set(tokenize(claim))) >= BOUND_SHARE * len(rest):
            return True
    return False


_DETERMINER = frozenset("a an the this that these those such its their our your".split())


def _is_subject(word: str, sentence: str, question: str) -> bool:
    """Whether ``word`` is the head noun of a short subject of ``sentence`` ("cache" of "This
    cache is used …"): the last of at most three words before its first verb, and not the
    head of one of the question's descriptions ("the trick where …"). A longer subject
    restates the question's own description, which answers may echo."""
    m = _VERB.search(sentence)
    if not m:
        return False
    words = [w.lower() for w in _WORD.findall(sentence[: m.start()])]
    words = [w for w in words if w not in _DETERMINER]
    if not words or len(words) > 3 or words[-1] != word:
        return False
    return word not in {h.lower() for h in _DESCRIBED.findall(question)}


# "the trick where …", "the layer that …", "a network which …": a thing asked by description
_DESCRIBED = re.compile(r"\b(?:the|a|an)\s+(\w+)\s+(?:that|which|where|who|whose|when)\b", re.I)
_DEMONSTRATIVE = re.compile(r"\s*(?:this|these|that|those|such)\s+\w+", re.I)


def _abbreviates(word: str, text: str) -> bool:
    """Whether ``word`` is the initials of words written in a row in ``text`` ("bn" for
    "batch normalization", "cnn" for "convolutional neural network")."""
    if not 2 <= len(word) <= 5 or not word.isalpha():
        return False
    initials = "".join(w[0] for w in re.findall(r"[A-Za-z]+", text)).lower()
    return word in initials


def _american(sentence: str, vocab) -> str:
    """British spellings the corpus writes the American way ("regularisation")."""
    def fold(m: re.Match) -> str:
        word = m.group(0)
        us = american(word.lower())
        # without the corpus vocabulary there is no telling "normalise" from "noise"
        if vocab is None or us == word.lower() or not any(vocab.stems.get(t) for t in _stems(us)):
            return word
        return us
    return _WORD.sub(fold, sentence)


def _compound_in(word: str, ev: Evidence) -> bool:
    """Whether the passage writes ``word`` as a compound of another spelling or an
    inflection of it ("non-linear" / "non-linearity", "pretrained" / "pre-trained")."""
    flat = word.replace("-", "")
    return len(flat) >= 6 and any(w.startswith(flat) or (len(w) >= 6 and flat.startswith(w)) for w in ev.compact)


def _verbless(sentence: str) -> bool:
    """A phrase with no verb at all ("The generalization by finding the flat minima.").

    Only flags what surely has no finite verb: a phrase opening with an article, with no
    auxiliary or pronoun, no word with a verb's -s/-ed ending, and none of the common
    verbs of this domain's prose.
    """
    words = re.findall(r"[A-Za-z][A-Za-z'-]*", sentence)
    if len(words) < 3 or ":" in sentence or _AUX.search(sentence) or _VERB.search(sentence):
        return False
    if words[0].lower() not in ("the", "a", "an"):
        # "GANs consist of …", "Compute the gradient …": a base-form verb this test cannot see
        return False
    return not any(len(w) > 3 and (w.endswith(("s", "ed")) and not w.endswith("ss")) for w in words[1:])


def _direction_swapped(sentence: str, ev: Evidence) -> bool:
    """Whether the passage states the sentence's comparison the other way round.

    "LSTM is more efficient than GRU" against "GRU is more efficient than LSTM": the same
    words, so coverage cannot tell; the side each name stands on can.
    """
    m = _COMPARATIVE.search(sentence)
    if not m:
        return False
    # the comparative may sit on the subject itself ("A transformer is faster than …")
    before = set(tokenize(sentence[: m.start()])) | set(tokenize(m.group(1)))
    after = set(tokenize(m.group(2)))
    a, b = before - after, after - before
    if not a or not b:
        return False
    same = other = False
    # Pairs too: "A GRU is … . It has fewer parameters than an LSTM." names its subject
    # one sentence earlier.
    for text, _ in ev.windows:
        w = _COMPARATIVE.search(text)
        if not w:
            continue
        pre = set(tokenize(text[: w.start()])) | set(tokenize(w.group(1)))
        post = set(tokenize(w.group(2)))
        if a & pre and b & post:
            same = True
        elif b & pre and a & post:
            other = True
    return other and not same


# Prefixes that turn a term into its opposite or its sibling ("overfitting" /
# "underfitting", "input" / "output", "encoder" / "decoder", "maximum" / "minimum").
_CONTRAST_PREFIXES = (("over", "under"), ("in", "out"), ("en", "de"), ("max", "min"), ("up", "down"),
                      ("pre", "post"), ("inter", "intra"), ("un", ""), ("non", ""))
# A prefix against nothing ("un" + "supervised") needs a long rest: "unlike" is not the
# opposite of "like".
_BARE_PREFIX_REST = 5
# Ordinary English opposites, stemmed as ``tokenize`` stems them.
_OPPOSITES = {frozenset(tokenize(f"{a} {b}")) for a, b in (
    ("high", "low"), ("higher", "lower"), ("large", "small"), ("larger", "smaller"), ("fast", "slow"),
    ("faster", "slower"), ("positive", "negative"), ("first", "last"), ("increase", "decrease"),
    ("increasing", "decreasing"), ("before", "after"), ("forward", "backward"), ("long", "short"),
    ("add", "remove"), ("adding", "removing"), ("deep", "shallow"), ("simple", "complex"),
    # the two halves of this field's best-known pair
    ("generator", "discriminator"))}


_LIST_CLAUSE = re.compile(r",\s+(?:and|while|whereas|but)\s+|;\s+", re.I)
_PRONOUN_LEAD = re.compile(r"\s*(?:it|this|they|these|its|such)\b", re.I)  # leans on the sentence before


def _siblings(a: str, b: str) -> bool:
    """Whether stems ``a`` and ``b`` name opposite or sibling things (see the lists above)."""
    if a == b:
        return False
    if frozenset((a, b)) in _OPPOSITES:
        return True
    for p, q in _CONTRAST_PREFIXES:
        for x, y in ((a, b), (b, a)):
            rest = x[len(p):]
            if x.startswith(p) and y.startswith(q) and rest == y[len(q):] and len(rest) >= 3 \
                    and (q or len(rest) >= _BARE_PREFIX_REST):
                return True
    return False


def _substituted(sentence: str, window: str, shown_set: set[str], ev: Evidence) -> tuple[str, str] | None:
    """A word of the sentence (one part of a list sentence, see ``_swap_everywhere``)
    that a window of the passage replaces with a sibling: the
    claim is the passage's, said of the other thing ("To prevent underfitting, use
    dropout" against "To prevent overfitting, use dropout"; "the input gate decides what
    to forget" against "the forget gate decides what to forget").

    ``shown_set``: the window's words with its passage's title (the title names what an
    answer's "Ways to prevent: …" is about). Two kinds of sibling: opposites by prefix or
    by meaning (``_siblings``), and two modifiers of the same head word ("input gate" /
    "forget gate") that the passage names both, the window only the other one.
    """
    # Judge against the clause of the window that says most of the sentence: "the forget
    # gate decides what to discard, and the input gate what to store" holds both names.
    title = shown_set - _words(window)
    clauses = [c for c in _LIST_CLAUSE.split(window) if c.strip()]
    if len(clauses) > 1:
        own = set(tokenize(sentence))
        chosen = max(clauses, key=lambda c: len(own & _words(c)))
        item = _co_item_swap(sentence, chosen, [c for c in clauses if c is not chosen])
        if item:
            return item
        window = chosen
        shown_set = _words(window) | title
    said, shown = tokenize(sentence), tokenize(window)
    flat = window.lower().replace("-", "")
    missing = [t for t in dict.fromkeys(said) if t not in shown_set and t not in flat]
    extra = [t for t in shown_set if t not in said]
    for m in missing:
        if m not in ev.tokens and not is_technical(m):
            # an ordinary word the passage never uses is a paraphrase ("the inputs of each
            # layer" for "the outputs of the previous layer"), not a swapped term
            continue
        for e in sorted(extra):
            if _siblings(m, e):
                return m, e
    # Modifier and head must stand side by side in the text ("input gate"), not merely
    # be adjacent once stop words are dropped ("occurs when a model").
    heads = {(a, h) for a, h in _bigrams(sentence) if a in missing and h not in missing}
    if not heads:
        return None
    named = set()  # the passage's own "modifier head" pairs
    for wtext, _ in ev.windows[: ev.singles]:
        named.update(_bigrams(wtext))
    for m, head in heads:
        if (m, head) not in named:
            continue
        for e, h in _bigrams(window):
            if h == head and e in extra:
                return m, e
    return None


_ITEM_LEAD = re.compile(r"^\s*(?:(?:and|or|while|whereas|but)\s+)?([A-Za-z][\w-]*)", re.I)
# A name after these is compared with, not the subject ("Unlike ReLU, it is used …"),
# and a pronoun before the verb is the subject ("Unlike ReLU, it …").
_NOT_SUBJECT = re.compile(r"\b(?:unlike|like|than|with|to|from|compared|versus|vs|over|of|for)\s+\S*$", re.I)
_SUBJECT_PRONOUN = re.compile(r"\b(?:it|this|they|these|that|which|its)\b", re.I)


def _co_item_swap(sentence: str, clause: str, others: list[str]) -> tuple[str, str] | None:
    """Items of one list sentence, each with its own clause ("ReLU, which …; Sigmoid, which
    …; and Tanh, which … often used in hidden layers for better gradient flow"): a claim
    made of one clause's words said of a name another clause opens with ("ReLU is used in
    hidden layers for better gradient flow") is that item's, not this one's. Returns
    (the sentence's name, the clause's name), or None. Both must be names (technical
    words, ``is_technical``): the sentence's subject, a name before its verb, is written in
    another clause and not in this one, which opens with a name that neither the sentence
    nor the other clauses write."""
    lead = _ITEM_LEAD.match(clause)
    if not lead or not is_technical(lead.group(1)):
        return None
    name = tokenize(lead.group(1))
    if not name:
        return None
    name = name[0]
    said = set(tokenize(sentence))
    elsewhere = {t for c in others for t in tokenize(c)}
    if name in said or name in elsewhere:
        return None
    # the sentence's subject (a name before its verb) is another clause's item
    verb = _VERB.search(sentence)
    head = sentence[: verb.start()] if verb else ""
    if _SUBJECT_PRONOUN.search(head):
        return None
    for m in _WORD.finditer(head):
        toks = tokenize(m.group())
        if toks and is_technical(m.group()):
            if _NOT_SUBJECT.search(head[: m.end()]):
                return None
            return (toks[0], name) if toks[0] in elsewhere and toks[0] not in set(tokenize(clause)) else None
    return None


def _swap_everywhere(sentence: str, asked: set[str], need: float, ev: Evidence) -> tuple[str, str] | None:
    """The sibling swap (``_substituted``) found in every window that holds enough of the
    claim, for some part of the sentence; None when a window says it of its own terms.

    Single sentences first: a pair that adds the sibling's own sentence ("Underfitting is
    …" beside "To prevent overfitting, …") does not excuse the swap, but a pair whose
    second sentence leans on the first ("Underfitting is the opposite. It occurs when …")
    does. A list sentence ("Overfitting is …, and underfitting is …") is judged part by
    part, each against its own windows.
    """
    parts = [c for c in _LIST_CLAUSE.split(sentence) if len(tokenize(c)) >= 2] or [sentence]
    for part in parts:
        said = _words(part) - asked
        claim = said - _GLUE or said
        if not claim:
            continue
        found = [i for i, (_, wtoks) in enumerate(ev.windows) if len(claim & wtoks) >= need * len(claim)]
        looked = [i for i in found if i < ev.singles or i in ev.leaning] or found
        swaps = [_substituted(part, *ev.windows[i], ev) for i in looked]
        if swaps and all(swaps):
            return swaps[0]
    return None



def _bigrams(text: str) -> set[tuple[str, str]]:
    """Stems of two words written side by side, with no stop word or punctuation between."""
    out = set()
    for chunk in re.split(r"[^\w\s-]+", text):
        stems = [tokenize(w) for w in chunk.split()]
        out.update((a[0], b[0]) for a, b in zip(stems, stems[1:]) if len(a) == 1 and len(b) == 1)
    return out


def supports(sentence: str, passage: Passage, vocab=None, evidence: Evidence | None = None,
             similarity: float | None = None, question: str = "") -> bool:
    """Whether ``passage`` states ``sentence`` (the strict test of the module docstring).

    ``vocab`` (a ``rag.query.Vocabulary`` of the whole corpus) lets the test tell a term
    no source uses, or a rare one, from common words. ``similarity`` (the sentence's best
    embedding cosine with a sentence of the passage) lets a close paraphrase pass with
    fewer shared words.
    """
    return not unsupported_reason(sentence, passage, vocab, evidence, similarity, question)


def unsupported_reason(sentence: str, passage: Passage, vocab=None, evidence: Evidence | None = None,
                       similarity: float | None = None, question: str = "") -> str:
    """Why ``passage`` does not state ``sentence``, in a few words; "" when it does.

    ``question``: the words an answer echoes from its question ("the small matrix that
    slides over an image" for the passage's "kernel") restate what was asked, not a
    claim, so they need not be in the passage; what the sentence adds must be.
    """
    ev = evidence or _evidence(passage)
    sentence = _american(_unwrap(sentence), vocab)
    asked = _words(_american(question, vocab)) if question else set()
    toks = _words(sentence)
    if not toks:
        return ""
    if _FRAGMENT.search(sentence) or _LEAD_IN.search(sentence) or _verbless(sentence) or is_header_row(sentence):
        return "a fragment, not a claim"  # "The layers of a neural network are." states nothing
    if is_legend(sentence):
        return "a formula's legend, not a claim"  # "Where Θ – is the parameter vector, …"
    if sentence.rstrip().endswith("?"):
        return "a question, not a claim"  # a passage's title copied as if it were an answer
    if _copies_a_row(toks, passage):
        # "Performance on Long Sequences Poor Good Comparable to LSTM, often faster.": the
        # cells of a table row run together, which says nothing a reader can follow
        return "a table row, not a sentence"
    if vocab is not None:
        for word in _WORD.findall(sentence):
            low = word.lower().replace("’", "'").split("'")[0]  # "you're", "network's"
            stems = tokenize(low)
            vocab_stems = _stems(low)
            if not stems or all(t in ev.tokens for t in stems):
                continue
            if not is_technical(low):
                # An English word of a question that names its subject, used by no source,
                # is the topic the sources lack ("bias variance": "The aim is to minimize
                # the variance …" written onto a passage that says it of the cost). Longer
                # questions describe, and answers may echo their words ("throw away").
                if len(asked) < NAMING_WORDS and _words(low) & asked and not vocab.knows(low):
                    return f"“{word}” is in no source"
                if _words(low) & asked and not vocab.knows(low) and _is_subject(low, sentence, question):
                    # The question's word as the sentence's subject ("This cache is used to
                    # …" for "the KV cache"): the claim is about a thing no source has.
                    return f"“{word}” is in no source"
                continue
            if word.islower() and _VERB_FORM.search(low):
                continue  # "mitigate", "visualize", "rectified": English verbs, not terms
            if _compound_in(low, ev):
                continue  # "non-linear" where the passage writes "non-linearity"
            df = max(vocab.stems.get(t, 0) for t in vocab_stems)
            if df == 0:
                return f"“{word}” is in no source"  # outside knowledge
            if df <= RARE_SHARE * max(1, vocab.n_docs):
                return f"“{word}” is not in this passage"  # a specific term from elsewhere
    said = f"{passage.title or ''} {passage.answer}"
    for n in _NUMBER.findall(sentence):
        if n not in said and not (n in _NUMBER_WORDS and re.search(rf"\b{_NUMBER_WORDS[n]}\b", said, re.I)):
            return f"the number {n} is not in the passage"
    example = _unlisted_example(sentence, ev, asked)
    if example:
        return f"“{example}” is not in this passage"
    claim = toks - asked
    core = claim - _GLUE
    if not claim or (asked and not core):
        # "… pass messages between nodes using the concept of message passing": the
        # question's words wrapped in glue state nothing the passage could back
        return "it only restates the question"
    claim = core or claim
    cov, window = _coverage(claim, ev) if claim else (1.0, "")
    # A close paraphrase ("a tool used to visualize" for "a table used to describe")
    # shares fewer words; the embedding vouches for the rest, the other rules still apply.
    need = PARAPHRASE_COVERAGE if similarity is not None and similarity >= PARAPHRASE_SIMILARITY else WINDOW_COVERAGE
    if cov < need:
        return "its words are not in one or two sentences of the passage"
    said_not = bool(_NEGATION.search(sentence))
    if (said_not and not _NEGATION.search(window)) or (not said_not and _negated(window, claim)):
        return "a negation only one side has"
    described = {t for h in _DESCRIBED.findall(question) for t in tokenize(h)}
    if not _subject_bound(sentence, ev, vocab, asked, described):
        return "the passage says it of something else"
    # The claim must be found *of its own terms*: fail when every window that holds
    # enough of its words names a sibling instead (overfitting for underfitting).
    swap = _swap_everywhere(sentence, asked, need, ev)
    if swap:
        return f"the passage says it of “{swap[1]}”, not “{swap[0]}”"
    if _direction_swapped(sentence, ev):
        return "the comparison runs the other way in the passage"
    moved = _rewritten_onto(sentence, ev, asked)
    if moved:
        return f"the passage says it of “{moved[1]}”, not “{moved[0]}”"
    clauses = [c for c in _CLAUSE.split(sentence) if len(tokenize(c)) >= 2]
    if len(clauses) > 1:
        for clause in clauses:
            side = _words(clause) - asked
            side = side - _GLUE or side
            if side and _coverage(side, ev)[0] < CLAUSE_COVERAGE:
                return "one side of the comparison is not in the passage"
    cause = _CAUSE.search(sentence)
    if cause:
        effect = _words(sentence[: cause.start()])
        effect = effect - _GLUE or effect
        # The reason is the passage's, but what it explains is hardly in the passage ("…
        # ramping up of the learning rate … because it processes sequences in parallel"):
        # the passage gives that reason for something else, or for nothing.
        if effect and len(effect & ev.tokens) / len(effect) < CAUSE_COVERAGE:
            return "the passage does not say what this explains"
    called = _CALLED.search(sentence)
    if called and asked:
        # "Neurons that get stuck outputting zero … are called vanishing gradient": the
        # question's description, then a name; the passage must give that name to (some
        # of) what was described, in one window, not merely use it somewhere.
        described = _words(sentence[: called.start()]) - _GLUE
        name = _words(sentence[called.end():]) - _GLUE
        if name and len(described & asked) * 2 >= len(described) > 0:
            beside = [len(described & w) / len(described) for _, w in ev.windows if len(name & w) * 2 >= len(name)]
            if max(beside, default=0.0) < NAMED_DESCRIPTION:
                return "the passage does not give this name to what was described"
    return ""


# "techniques like batch normalization or weight decay": what a sentence gives as examples
# are named things, and one its passage does not write is outside knowledge however many
# of the sentence's other words the passage holds. ("like" only after a plural noun that
# is no verb: "acts like a regularizer" compares, it does not list.)
_EXAMPLES = re.compile(r"(?:\b(\w{3,}s)\s+like|\bsuch as|\bincluding|\bincludes?|\beg\b,?|\bfor example,?)\s+"
                       r"([^.;:!?()]+)", re.I)
_LIKE_VERBS = frozenset("acts behaves functions works looks seems sounds feels operates performs reads "
                        "serves trains learns does".split())
_EXAMPLES_END = re.compile(r"\s+(?:can|could|may|might|will|would|should|is|are|was|were|to|which|that|who|where|"
                           r"when|because|help|helps|in order)\b", re.I)
_LAST_ITEM = re.compile(r"\s*,?\s+(?:and|or|as well as)\s+", re.I)
MAX_EXAMPLE_WORDS = 4  # a longer "item" is a clause, not a name


def _example_items(sentence: str) -> list[str]:
    """The names a sentence lists as examples: the pieces before its "and"/"or", and the
    first word of the one after it unless the list visibly ends ("… or weight decay can
    be used"); without "and"/"or", the one name before any comma."""
    text = re.sub(r"\b(?:e\.g|i\.e)\.", "eg", sentence, flags=re.I)
    items: list[str] = []
    for m in _EXAMPLES.finditer(text):
        if m.group(1) and m.group(1).lower() in _LIKE_VERBS:
            continue
        tail = m.group(2)
        ended = _EXAMPLES_END.split(tail, maxsplit=1)
        closed = len(ended) > 1
        tail = ended[0]
        joined = _LAST_ITEM.split(tail, maxsplit=1)
        if len(joined) == 1:
            items.append(tail.split(",")[0])
            continue
        items.extend(joined[0].split(","))
        last = joined[1].split(",")[0]
        items.append(last if closed else " ".join(last.split()[:1]))
    return [i.strip() for i in items if i.strip()]


def _unlisted_example(sentence: str, ev: Evidence, asked: set[str]) -> str | None:
    """An example the sentence lists ("such as dropout and weight decay") that its
    passage does not write, or None."""
    for item in _example_items(sentence):
        if len(item.split()) > MAX_EXAMPLE_WORDS or any(w in _KEYWORD_STOP for w in item.lower().split()):
            continue  # a clause or a description ("sensitivity to outliers"), not a name
        for word in _WORD.findall(item.lower()):
            stems = _words(word) - asked - _GLUE
            # ("sensitivity" where the passage writes "sensitive" is the same word)
            if stems and not stems <= ev.tokens and not _compound_in(word, ev) \
                    and not _compound_in(word[:max(6, len(word) - 4)], ev):
                return item
    return None


_SENT_LABEL = re.compile(r"^\s*[^:.!?]{1,60}:\s+(?=\S)")
# A pronoun a name can stand in for ("It adjusts …" -> "Adagrad adjusts …"); "This
# method" or "Its" cannot (``rag.context.leans_back`` knows every word that leans back).
_PRONOUN_SUBJECT = re.compile(r"^\s*(?:it|they)\s+", re.I)
_LEADS_BACK = re.compile(r"^\s*(?:it|its|this|these|they|that|such|their)\b", re.I)
SUBSTITUTE_REST = 0.8  # share of the sentence's words after its subject that its passage sentence holds
SUBJECT_WORDS = 6  # a subject longer than this is not one noun phrase swapped for another


def _subject_split(sent: list[str], source: list[str], start: int = 0) -> tuple[int, int] | None:
    """Where two token sequences start to agree: the first place (from ``start``) a word
    pair of ``sent`` follows in ``source`` (its subject ends before it), as (index in
    sent, index in source)."""
    pairs = {(source[j], source[j + 1]): j for j in range(len(source) - 2, -1, -1)}
    for i in range(start, len(sent) - 1):
        j = pairs.get((sent[i], sent[i + 1]))
        if j is not None:
            return i, j
    return None


def _shortens(word: str, phrase: list[str]) -> bool:
    """Whether ``word`` is (near enough) the initials of ``phrase``'s words: one is the start
    of the other, at most one letter longer ("rnn" for "recurrent network", where the
    stricter ``_abbreviates`` wants every letter)."""
    initials = "".join(t[0] for t in phrase)
    return 2 <= len(word) <= len(initials) + 1 and (initials.startswith(word) or word.startswith(initials))


_BRACKETED = re.compile(r"\s*\([^()]*\)")


def _rewritten_onto(sentence: str, ev: Evidence, asked: set[str]) -> tuple[str, str] | None:
    """A passage sentence rewritten onto another subject: "The bias in a neural network is
    the difference between the predicted output of the model and the actual target values"
    from "A cost function in deep learning measures the difference between the predicted
    output ..."; "Adagrad fixes Adagrad's problem by ..." from "RMSProp fixes Adagrad's
    problem by ...". The sentence's words after its subject follow the passage sentence
    (``SUBSTITUTE_REST`` of them, from the first word pair the two share in order), and
    the two subjects share no word. Not when the passage sentence's subject is a pronoun
    ("It helps the model learn faster") or the sentence's subject is an abbreviation of
    the passage's or a name the passage gives it ("kernel, also called a filter").
    Returns (the sentence's subject, the passage's) or None."""
    # Names are compared without what their brackets spell out: "Adam (Adaptive Moment
    # Estimation) adjusts the learning rate …" from "Adagrad (Adaptive Gradient
    # Algorithm): It adjusts …" shared "adaptive", which read as one subject.
    said = tokenize(_BRACKETED.sub("", sentence))
    if len(said) < 4 or _LEADS_BACK.match(_SENT_LABEL.sub("", sentence, count=1)):
        return None  # "It is a single-layer network ...": no subject of its own to compare
    # A claim that says "It …" under a sub-heading is about the sub-heading's name, which
    # is its subject as surely as a title word ("Adagrad: It adjusts the learning rate …"
    # rewritten as "A learning rate schedule adjusts the learning rate …").
    bodies = [(_SENT_LABEL.sub("", raw, count=1), raw, False, 0) for raw, _ in ev.windows[: ev.singles]]
    bodies += [(f"{_BRACKETED.sub('', name)} {claim}", f"{name} {claim}", True, 0) for name, claim in ev.headed]
    found = _rewritten_from(sentence, said, bodies, ev, asked)
    if found is None:
        # A label names what the sentence after it says "This technique …" of ("Batch
        # Normalization: This technique adjusts and scales …", rewritten as "Group
        # normalization adjusts and scales …"). Labels also head lists of properties
        # ("Problem Solved: It helps …"), so a label counts only as a name whose last
        # word the sentence's subject ends in, with another word before it.
        labelled = []
        for raw, _ in ev.windows[: ev.singles]:
            label = _SENT_LABEL.match(raw)
            claim = raw[label.end():] if label else ""
            lead = _LEAD_SUBJECT.match(claim)
            if label and lead:
                name = _BRACKETED.sub("", _BULLET.sub("", label.group(0)).strip().rstrip(":").strip())
                labelled.append((f"{name} {claim[lead.end():]}", raw, True, len(tokenize(name))))
        found = _rewritten_from(sentence, said, labelled, ev, asked)
    return found


# "It", "they", or "this technique" / "these layers": a claim's subject that leans back
_LEAD_SUBJECT = re.compile(r"^\s*(?:it|they|(?:this|these|that|such)\s+[a-z]+)\s+(?=[a-z])", re.I)
_BULLET = re.compile(r"^\s*[-•*·]\s*")


def _rewritten_from(said_text: str, said: list[str], bodies: list[tuple[str, str, bool, int]], ev: Evidence,
                    asked: set[str]) -> tuple[str, str] | None:
    """``_rewritten_onto`` over the passage sentences ``bodies``: subject-first text, the
    sentence as written, whether a sub-heading names its subject, and the number of words
    of a label's name in front, or 0 when there is none. With a label, the two sentences
    must start to agree at the name's last word, which is taken as both subjects' head
    noun."""
    best = None
    for body, raw, headed, label_words in bodies:
        if _LEADS_BACK.match(body):
            continue
        source = tokenize(body)
        split = _subject_split(said, source)
        if split is not None and split[0] == 0:
            # the subject's own words recur in the claim ("A learning rate schedule adjusts
            # the learning rate …"): the claim starts at the next pair the two share
            split = _subject_split(said, source, 1)
        if split is None:
            continue
        i, j = split
        if label_words:
            if j != label_words - 1 or i < 1 or j < 1:
                continue  # they agree in the claim, not on the name's head noun
            i, j = i + 1, j + 1  # "group normalization" for "batch normalization"
        mine, theirs = said[:i], source[:j]
        rest, after = said[i:], set(source[j:])
        held = sum(t in after for t in rest) / len(rest)
        if best is None or held > best[0]:
            best = (held, mine, theirs, raw, headed)
    if best is None:
        return None
    held, mine, theirs, raw, headed = best
    if held < SUBSTITUTE_REST or not mine or not theirs:
        return None
    if set(mine) & set(theirs):
        # Subjects that share a word are one thing unless the sentence's adds a word of
        # the question the passage's lacks, and the passage's has its own word besides:
        # "Layer normalization is a technique used …" from "Batch Normalization (BN) is a
        # technique used …". Not when the passage writes the sentence's subject anywhere.
        # Only two short names of one head noun with different modifiers count.
        theirs = [t for i, t in enumerate(theirs) if i == 0 or not _shortens(t, theirs[:i])]  # "(BN)"
        if len(mine) > 3 or len(theirs) > 3 or mine[-1] != theirs[-1]:
            return None
        added, own = set(mine[:-1]) - set(theirs), set(theirs[:-1]) - set(mine)
        if not (added & asked) or not own or in_order(ev.sequence, mine):
            return None
    if len(mine) > SUBJECT_WORDS or len(theirs) > SUBJECT_WORDS:
        return None  # the two sentences agree only late: not one sentence rewritten
    if not set(mine) & asked:
        return None  # what was asked, put where the passage has something else
    if theirs[0] not in ev.title_words and not headed:
        return None  # the passage sentence is not about the passage's own subject
    if any(_shortens(t, b) for a, b in ((mine, theirs), (theirs, mine)) for t in a):
        return None  # "CNN" for "convolutional neural network", "SGD" for "stochastic gradient descent"
    if any(set(mine) <= set(tokenize(b)) for b in re.findall(r"\(([^()]*)\)", raw)):
        return None  # "... (ReLU)": a name the passage gives it (the whole subject, in brackets)
    return _as_written(mine, said_text), _as_written(theirs, raw)


def _as_written(stems: list[str], text: str) -> str:
    """The words of ``text`` that ``stems`` (a run of its tokens) come from, as written
    ("batch normalization", not "batch normaliz"); the stems when they cannot be found."""
    words = [m.group(0) for m in _WORD.finditer(_BRACKETED.sub("", text))]
    for start, word in enumerate(words):
        if stems[0] not in tokenize(word):
            continue
        got: list[str] = []
        for end in range(start, len(words)):
            got += tokenize(words[end])
            if got[: len(stems)] == stems:
                return " ".join(words[start:end + 1])
            if len(got) >= len(stems):
                break
    return " ".join(stems)


ROW_SHARE = 0.8  # of a sentence's words, and of a table row's, that the other holds


def _copies_a_row(toks: set[str], passage: Passage) -> bool:
    """Whether a sentence is one or more of the passage's table body rows, copied: its words
    are the rows' words, and it holds the whole of at least one row."""
    rows = _row_words(passage.answer)
    if not rows or len(toks & set().union(*rows)) < ROW_SHARE * len(toks):
        return False
    return any(len(toks & words) >= ROW_SHARE * len(words) for words in rows)


@lru_cache(maxsize=1024)
def _row_words(answer: str) -> list[set[str]]:
    # (asked for every sentence against every passage of a prompt: parse each table once)
    return [w for w in map(_words, table_sentences(answer)) if w]


def _negated(window: str, claim: set[str]) -> bool:
    """Whether the window negates what the claim says: a negation in a clause of the window
    that holds the claim's words, not in any clause ("Without it, … Use L1 if …")."""
    clauses = [c for sent in split_sentences(window) or [window] for c in re.split(r"[,;:]\s+", sent)]
    return any(_NEGATION.search(c) and len(claim & _words(c)) >= max(1, NEGATED_SHARE * len(claim))
               for c in clauses)



VERBATIM = 0.9  # cosine of a sentence with a passage sentence it copies
VERBATIM_LEAD = 0.1  # ... above its closest sentence in the passage it cites


def bound_elsewhere(sentence: str, before: str, ev: Evidence) -> str | None:
    """The sub-heading a sentence's "It" belongs to in the passage, when the answer's
    sentence before it is about something else: "RMSProp uses a moving average … [1] It
    combines the benefits of Momentum and RMSProp. [1]" copies what the passage says of
    Adam, and reads as said of RMSProp. Returns the sub-heading's name, or None."""
    prior = set(tokenize(before))
    return next((name for name in _headings_copied(sentence, ev) if not set(tokenize(name)) & prior), None)


def _headings_copied(sentence: str, ev: Evidence) -> list[str]:
    """The sub-headings whose "It …" claim ``sentence`` ("It …" too) copies."""
    if not _PRONOUN_SUBJECT.match(sentence):
        return []
    said = tokenize(_PRONOUN_SUBJECT.sub("", sentence, count=1))
    if len(said) < 3:
        return []
    return [name for name, claim in ev.headed
            if in_order(tuple(tokenize(claim)), said[: max(3, int(SUBSTITUTE_REST * len(said)))], gap=1)]


def _bound_here(sentence: str, before: str, ev: Evidence) -> bool:
    """Whether ``sentence`` copies an "It …" claim of a sub-heading that ``before`` names:
    its "It" is that name's whatever else ``before`` got wrong ("Adam optimizes … [left
    out] It combines the benefits of Momentum and RMSProp." is still Adam's)."""
    prior = set(tokenize(before))
    return any(set(tokenize(name)) & prior for name in _headings_copied(sentence, ev))


def about_unexplained(sentence: str, terms: tuple[str, ...]) -> bool:
    """Whether the sentence's subject (its words before the first verb) names one of
    ``terms``, things retrieval found no source explains: "Average pooling takes the
    average value in each window" when one source lists "Average Pooling" as a bare
    heading and another explains only max pooling. Whatever such a sentence says, no
    passage says it; a sentence that only names the term beside others ("Pooling types
    include max and average pooling") is judged as usual."""
    return unexplained_term(sentence, terms) is not None


def unexplained_term(sentence: str, terms: tuple[str, ...]) -> str | None:
    """The term of ``terms`` the sentence's subject names (see ``about_unexplained``), or None."""
    m = _VERB.search(sentence)
    subject = set(tokenize(sentence[: m.start()] if m else sentence))
    return next((t for t in terms if (words := set(tokenize(t))) and words <= subject), None)


def why_left_out(sentence: str, passage: Passage | None, vocab=None, question: str = "",
                 unexplained: tuple[str, ...] = (), evidence: Evidence | None = None,
                 similarity: float | None = None, before: str = "") -> str:
    """In a few words, why the check did not keep ``sentence``, cited to ``passage`` (None:
    cited to nothing): what a reader of the answer is told about a left-out sentence.
    ``similarity`` and ``before`` (the answer's sentence before it) are what the check saw."""
    term = unexplained_term(sentence, unexplained)
    if term:
        return f"about “{term}”, which the sources do not explain"
    if passage is None:
        return "cites no passage, and no passage of the prompt states it"
    ev = evidence or _evidence(passage)
    reason = unsupported_reason(sentence, passage, vocab, ev, similarity, question)
    if reason:
        return reason
    name = bound_elsewhere(sentence, before, ev)
    if name:
        return f"the passage says it of “{name}”"
    return "too loosely matched to the cited passage"  # under the lenient score's floor


ORPHANED = "points back at a sentence the check left out"


def check_citations(text: str, passages: list[Passage], encoder, vocab=None, question: str = "",
                    unexplained: tuple[str, ...] = ()) -> CheckedAnswer:
    """Check ``text`` (markers [n] refer to ``passages[n-1]``) and return the checked answer.

    ``question`` is what the answer answers: words it echoes from there need no passage.
    ``unexplained``: terms the sources do not explain (``SearchResult.missing``); a
    sentence about one of them is not supported (``about_unexplained``).
    """
    parts, removed = _split_with_markers(text, len(passages), tuple(p.ref for p in passages))
    if not parts:
        return CheckedAnswer("", (), (), removed, 0)
    passage_sents = [split_sentences(p.answer) or [p.answer or p.text] for p in passages]
    title_tokens = [set(tokenize(p.title or "")) for p in passages]
    passage_tokens = [t | set(tokenize(p.answer)) for t, p in zip(title_tokens, passages)]
    evidence = [_evidence(p) for p in passages]
    flat = [s for sents in passage_sents for s in sents]
    owner = np.array([i for i, sents in enumerate(passage_sents) for _ in sents])
    vecs = encoder.encode([s for s, _ in parts] + flat)
    sent_vecs, psent_vecs = vecs[: len(parts)], vecs[len(parts) :]
    sims = sent_vecs @ psent_vecs.T  # sentence x passage-sentence

    sentences: list[SentenceSupport] = []
    quotes: dict[int, str] = {}
    order: dict[int, int] = {}  # passage index -> new citation number
    reattached = 0
    left_out: list[LeftOut] = []
    # whether the sentence before was a claim the check left out (not a connective, a
    # restated question or a broken-off fragment, which a later "It …" does not lean on)
    claim_left_out = False
    for si, (sent, cites) in enumerate(parts):
        # "It …"/"This …" after a claim the check left out points at that claim: kept, it
        # reads as said of whatever the answer says before ("Adam uses only one data point
        # at a time." left out, "This is a middle ground, …" — mini-batch's — kept).
        orphaned = bool(claim_left_out and _LEADS_BACK.match(sent))
        claim_left_out = False
        toks = set(tokenize(sent))
        support = np.zeros(len(passages))
        best_sent = np.zeros(len(passages), dtype=int)
        closest = np.zeros(len(passages))
        for pi in range(len(passages)):
            cols = np.where(owner == pi)[0]
            j = int(cols[np.argmax(sims[si, cols])])
            best_sent[pi] = j
            closest[pi] = float(sims[si, j])
            support[pi] = 0.5 * _lexical(toks, passage_tokens[pi]) + 0.5 * max(0.0, float(sims[si, j]))
        if len(toks) < _MIN_CONTENT_WORDS:
            # A name a cited passage is about ("Dropout [1]" answering "the trick where you
            # switch off neurons"): the answer to a question that describes a thing.
            named = [c for c in cites if toks and toks <= title_tokens[c - 1]] \
                if not sent.rstrip().endswith("?") else []
            if named:
                new = [order.setdefault(c - 1, len(order) + 1) for c in named]
                for c in named:
                    quotes.setdefault(c - 1, passage_sents[c - 1][0])
                sentences.append(SentenceSupport(sent, tuple(new), True, float(support.max(initial=0.0))))
                continue
            # connective ("In short:") unless it is a broken-off fragment
            states = not (_FRAGMENT.search(sent) or sent.rstrip().endswith("?"))
            sentences.append(SentenceSupport(sent, (), states, float(support.max(initial=0.0))))
            if not states or cites:
                # a cited sentence this short ("ReLU is best. [1]") claims something the
                # check cannot weigh; an uncited one is a connective ("That is all.")
                why = ("a question, not a claim" if sent.rstrip().endswith("?") else
                       "a fragment, not a claim" if not states else "too short to check against the cited passage")
                left_out.append(LeftOut(sent, tuple(passages[c - 1].ref for c in cites), why))
                claim_left_out = states and not sent.rstrip().endswith("?")
            continue
        unsaid = about_unexplained(sent, unexplained)
        before = parts[si - 1][0] if si else question
        # an orphan stays only where it copies the claim of a sub-heading ``before`` names
        bound = [orphaned and _bound_here(sent, before, ev) for ev in evidence]
        passes = [not unsaid and (bound[pi] or not orphaned)
                  and supports(sent, passages[pi], vocab, evidence[pi], closest[pi], question)
                  and support[pi] >= SUPPORT_THRESHOLD and not bound_elsewhere(sent, before, evidence[pi])
                  for pi in range(len(passages))]
        keep = [c for c in cites if passes[c - 1]]
        if keep:
            # A sentence another passage of the prompt holds almost word for word, and the
            # cited one only loosely, is cited to the one that says it ("Backpropagation is
            # the main way neural networks learn." copied from one source, cited to another
            # that says "a supervised learning algorithm").
            held = max(closest[c - 1] for c in keep)
            verbatim = [pi for pi in range(len(passages)) if pi + 1 not in keep and passes[pi]
                        and closest[pi] >= VERBATIM and closest[pi] - held >= VERBATIM_LEAD]
            if verbatim:
                keep = [max(verbatim, key=lambda pi: closest[pi]) + 1]
                reattached += 1
        if not keep:
            ranked = sorted(range(len(passages)), key=lambda pi: -support[pi])
            best = next((pi for pi in ranked if passes[pi]), None)
            if best is not None:
                keep = [best + 1]
                reattached += 1
        new = []
        for c in keep:
            order.setdefault(c - 1, len(order) + 1)
            new.append(order[c - 1])
            said = flat[best_sent[c - 1]]
            if c - 1 not in quotes:
                quotes[c - 1] = said
            elif said not in quotes[c - 1].split(" … "):
                quotes[c - 1] += f" … {said}"  # the card shows what each citing sentence rests on
        score = float(max((support[c - 1] for c in keep), default=support.max(initial=0.0)))
        sentences.append(SentenceSupport(sent, tuple(new), bool(keep), score))
        if not keep:
            claim_left_out = True
            pi = cites[0] - 1 if cites else None  # the reason is the first cited passage's
            if orphaned and not any(bound):
                why = ORPHANED
            elif pi is None:
                why = why_left_out(sent, None, vocab, question, unexplained)
            else:
                why = why_left_out(sent, passages[pi], vocab, question, unexplained, evidence[pi], closest[pi], before)
            left_out.append(LeftOut(sent, tuple(passages[c - 1].ref for c in cites), why))

    rendered = cited_text(sentences)
    citations = tuple(Citation(n, passages[pi], quotes[pi]) for pi, n in sorted(order.items(), key=lambda x: x[1]))
    return CheckedAnswer(rendered, tuple(sentences), citations, removed, reattached, tuple(left_out))


# A sentence whose words an earlier sentence of the answer already holds (this share of
# them) says nothing new: a model that copies its passages sometimes copies one twice,
# or two passages that say the same thing.
REPEAT_SHARE = 0.9


def keep_supported(checked: CheckedAnswer) -> CheckedAnswer:
    """The checked answer with only its supported, cited sentences, each said once;
    citations renumbered 1..n."""
    by_n = {c.n: c for c in checked.citations}
    order: dict[int, int] = {}
    kept = []
    shown = [s for s in checked.sentences if s.supported and s.cites]
    words = [set(tokenize(s.text)) for s in shown]

    # Fuller sentences first, so a sentence said again more fully later goes, not the
    # fuller one ("The generator and discriminator are trained simultaneously …" before
    # "GANs consist of two networks: a generator and a discriminator, which are trained
    # simultaneously …"); of two alike, the earlier stays.
    unique: list[int] = []
    place = list(range(len(shown)))  # where each kept sentence is said: first where it was said
    for i in sorted(range(len(shown)), key=lambda i: (-len(words[i]), i)):
        fuller = [j for j in unique if words[i] and len(words[i] & words[j]) >= REPEAT_SHARE * len(words[i])]
        if fuller:
            place[fuller[0]] = min(place[fuller[0]], i)  # (a later "In summary, …" takes the first's place)
        else:
            unique.append(i)
    for i in sorted(unique, key=lambda i: (place[i], i)):
        s = shown[i]
        new = tuple(order.setdefault(n, len(order) + 1) for n in s.cites)
        kept.append(SentenceSupport(s.text, new, True, s.support))
    citations = tuple(Citation(new, by_n[old].passage, by_n[old].quote) for old, new in order.items())
    text = cited_text(kept)
    return CheckedAnswer(text, tuple(kept), citations, checked.removed_markers, checked.reattached, checked.left_out)
