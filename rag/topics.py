"""A coverage map of the corpus: its questions grouped into named topics, by source.

Each question is represented by its title embedding plus its answer's embedding.
Average-linkage agglomerative clustering merges the two most similar groups until no
two groups are more similar than ``MERGE_AT``; ties break by position, so the same
corpus always gives the same map. A topic is named by the title word or pair of words
most frequent in the group and rarest elsewhere, then said whole (up to four words:
"Generative adversarial network"); names are unique.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from rag.index import Index
from rag.records import Passage

__all__ = ["topic_map", "TopicMap", "Topic", "question_ref", "MERGE_AT"]

MERGE_AT = 0.62
_GENERIC = frozenset(
    """what is are the a an of in and or how does do why explain describe define difference between
    different types concept role purpose significance work works working use used using its it can you
    your when would each following three which important importance key primary traditional context
    detail mean main benefits advantages disadvantages term model models network networks neural deep
    learning by per called same selected number problem problems type types kind kinds variant variants""".split()
)
# Words that name a topic only with the word before them ("transfer learning").
_TAIL_OK = frozenset({"learning", "network", "networks", "function", "functions", "model"})
_TOO_BROAD = frozenset({"deep learning", "neural network", "neural networks"})


def question_ref(p: Passage) -> str:
    """A short reference within a source: 'Q6', with a section initial: 'I6' / 'A8', or a
    prose passage's number: '¶4'."""
    if p.kind == "prose":
        return f"¶{p.qnum}"
    if p.section and p.section.lower().startswith(("intermediate", "advance", "basic")):
        return f"{p.section[0].upper()}{p.qnum}"
    return f"Q{p.qnum}"


@dataclass(frozen=True)
class Topic:
    """A named group of questions and, per source, which of its questions belong."""

    name: str
    questions: tuple[Passage, ...]

    @property
    def by_source(self) -> dict[str, tuple[Passage, ...]]:
        """Source file -> its questions in this topic (in document order)."""
        out: dict[str, list[Passage]] = {}
        for p in sorted(self.questions, key=lambda p: (p.source, p.id)):
            out.setdefault(p.source, []).append(p)
        return {k: tuple(v) for k, v in out.items()}

    def to_json(self) -> dict:
        """One element of ``topics`` in ``rag topics --json``."""
        return {
            "name": self.name,
            "sources": {src: [{"qnum": p.qnum, "section": p.section, "ref": question_ref(p), "title": p.title}
                              for p in ps] for src, ps in self.by_source.items()},
        }


@dataclass(frozen=True)
class TopicMap:
    """All topics, most widely covered first, and the sources in corpus order."""

    topics: tuple[Topic, ...]
    sources: tuple[tuple[str, str], ...]  # (file, label)

    def to_json(self) -> dict:
        """``rag topics --json`` output."""
        return {"sources": [{"source": s, "label": l} for s, l in self.sources],
                "topics": [t.to_json() for t in self.topics]}

    def to_csv_rows(self) -> list[list[str]]:
        """Header plus one row per topic: topic name, then question refs per source."""
        rows = [["topic"] + [label for _, label in self.sources]]
        for t in self.topics:
            by = t.by_source
            rows.append([t.name] + [" ".join(question_ref(p) for p in by.get(src, ())) for src, _ in self.sources])
        return rows


def _vectors(index: Index, ids: list[int]) -> np.ndarray:
    titles = index.titles.reconstruct_n(0, index.titles.ntotal)
    chunks = index.dense.reconstruct_n(0, index.dense.ntotal)
    body = np.zeros_like(titles)
    np.add.at(body, index.chunk_passage, chunks)
    v = titles[ids] + body[ids] / np.clip(np.linalg.norm(body[ids], axis=1, keepdims=True), 1e-9, None)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _cluster(vecs: np.ndarray, threshold: float) -> list[list[int]]:
    """Average-linkage agglomerative clustering on cosine similarity, deterministic."""
    n = len(vecs)
    sim = (vecs @ vecs.T).astype(np.float64)
    np.fill_diagonal(sim, -np.inf)
    size = np.ones(n)
    members = {i: [i] for i in range(n)}
    alive = np.ones(n, dtype=bool)
    while alive.sum() > 1:
        masked = np.where(alive[:, None] & alive[None, :], sim, -np.inf)
        flat = int(np.argmax(masked))  # first maximum: ties break by position
        i, j = divmod(flat, n)
        if masked[i, j] < threshold:
            break
        i, j = min(i, j), max(i, j)
        # Lance-Williams update for average linkage.
        sim[i, :] = (size[i] * sim[i, :] + size[j] * sim[j, :]) / (size[i] + size[j])
        sim[:, i] = sim[i, :]
        sim[i, i] = -np.inf
        size[i] += size[j]
        alive[j] = False
        members[i] += members.pop(j)
    return [sorted(m) for _, m in sorted(members.items())]


def _singular(word: str) -> str:
    if word.endswith("ases"):
        return word[:-2]
    if word.endswith(("sses", "xes", "shes", "tches")) and len(word) > 4:
        return word[:-2]  # classes, boxes, batches: not "classe", "boxe", "batche" ("caches" stays "cache")
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and (len(word) > 4 or word[:-1] in _ACRONYMS):
        return word[:-1]
    return word


# Function words: a name never starts or ends with one ("Layer has", "Similar to").
_STOP = frozenset(
    """a about after all also am an and any are as at back be been before being both but by can could did do
    does doing during each for from further had has have having here how if in into is it its itself just
    more most no nor not now of off on once only or other our out over own same should so some such than
    that the their them then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your similar one ones per vs versus""".split()
)
_LONGEST = 4  # words in a topic name at most


def _segments(title: str) -> list[list[str]]:
    """The title's words, lowercased and singular, in runs that punctuation does not break
    ("Kullback–Leibler" is one run: a dash between letters joins)."""
    text = re.sub(r"(?<=[A-Za-z])[–—](?=[A-Za-z])", "-", title.replace("’", "'"))
    text = re.sub(r"'s\b|'", "", text)  # "network's" is "network"; "what's" is "what"
    runs = re.split(r"[,;:?!()\[\]/\"“”]|\.(?!\d)", text.lower())
    return [[_singular(w) for w in re.findall(r"[a-z0-9][a-z0-9\-]*", run)] for run in runs]


def _phrases(title: str) -> set[str]:
    """Candidate names in a title: content words, and runs of two to four words with no
    function word in them that start on a content word and end on one (or on a word such
    as "network" that names a topic only with the word before it)."""
    out: set[str] = set()
    for words in _segments(title):
        out |= {w for w in words if w not in _GENERIC and w not in _STOP and len(w) > 2 or w in _ACRONYMS}
        for n in range(2, _LONGEST + 1):
            for i in range(len(words) - n + 1):
                run = words[i:i + n]
                first, last = run[0], run[-1]
                if first in _GENERIC and first not in _HEAD_OK or any(w in _STOP for w in run):
                    continue
                if last in _GENERIC and last not in _TAIL_OK or any(w in _QUESTION for w in run):
                    continue
                phrase = " ".join(run)
                if phrase not in _TOO_BROAD and not (first in _HEAD_OK and last in _TAIL_OK):
                    out.add(phrase)
    return out


# "learning rate": a generic word that may open a name when a content word closes it.
_HEAD_OK = frozenset({"learning"})
# Words of the question's frame, never inside a name ("what is", "explain").
_QUESTION = frozenset({"what", "how", "why", "explain", "describe", "define", "discuss", "difference",
                       "between", "is", "are", "does", "do"})

_ACRONYMS = {"gan": "GANs", "cnn": "CNNs", "rnn": "RNNs", "lstm": "LSTM", "gru": "GRU", "sgd": "SGD", "ann": "ANN",
             "vae": "VAE", "relu": "ReLU", "l1": "L1", "l2": "L2", "mse": "MSE", "ai": "AI", "nlp": "NLP"}


def _surface(titles: list[str]) -> dict[str, str]:
    """How the titles write a word whose case carries meaning: mixed case after a first
    letter ("BiRNN", "StyleGAN"), or a capital inside a sentence-case title that the word
    has more often than not ("Kullback-Leibler"; not "Learning" of a Title Case heading)."""
    mixed: dict[str, str] = {}
    capital: dict[str, Counter] = {}
    lower: Counter = Counter()
    for title in titles:
        words = re.findall(r"[A-Za-z0-9][A-Za-z0-9\-']*", re.sub(r"(?<=[A-Za-z])[–—](?=[A-Za-z])", "-", title))
        sentence_case = any(w.islower() and len(w) > 3 and w not in _STOP and w not in _GENERIC for w in words)
        for i, w in enumerate(words):
            key = _singular(w.lower())
            form = w[:len(key)] if w.lower().startswith(key) else w
            if any(c.isupper() for part in w.split("-") for c in part[1:]) and not w.isupper():
                mixed.setdefault(key, form)
            elif w.islower():
                lower[key] += 1
            elif sentence_case and i > 0 and w[0].isupper() and not w.isupper():
                capital.setdefault(key, Counter())[form] += 1
    out = {k: c.most_common(1)[0][0] for k, c in capital.items() if sum(c.values()) > lower[k]}
    return out | mixed


def _pretty(phrase: str, surface: dict[str, str] | None = None) -> str:
    if not phrase:
        return "Other"
    surface = surface or {}
    words = [_ACRONYMS.get(w) or surface.get(w, w) for w in phrase.split()]
    return " ".join([words[0][:1].upper() + words[0][1:]] + words[1:])


def _contains(longer: str, shorter: str) -> bool:
    return f" {shorter} " in f" {longer} "


def _name(group: list[Passage], all_titles: list[set[str]], taken: set[str],
          surface: dict[str, str] | None = None) -> str:
    every = Counter(ph for p in group for ph in _phrases(p.title or ""))
    # A name is chosen among words and pairs; longer runs only complete a chosen one.
    counts = Counter({ph: c for ph, c in every.items() if ph.count(" ") < 2})
    for ph in list(counts):
        if _pretty(ph, surface) in taken or any(_contains(t.lower(), ph) for t in taken if " " not in ph):
            del counts[ph]  # taken, or one word of a taken name ("Descent" beside "Gradient descent")
    if not counts:
        return _pretty("") if _pretty("") not in taken else f"Other ({len(taken)})"
    n = len(all_titles)

    def score(ph: str) -> tuple[float, str]:
        df = sum(ph in t for t in all_titles)
        bigram = 1.3 if " " in ph else 1.0
        return (counts[ph] * math.log(1 + n / df) * bigram, ph)

    best = max(counts, key=score)
    if " " not in best:
        # A lone word that most often opens a longer term says it with the next word
        # ("Vanishing gradient", not "Vanishing"), when a third of its titles write that.
        longer = [ph for ph in counts if ph.startswith(best + " ") and 3 * counts[ph] >= counts[best]
                  and (sum(ph in t for t in all_titles) >= 2 or ph.split()[-1] in _TAIL_OK)]
        if longer:
            best = max(longer, key=lambda ph: (counts[ph], score(ph)))
    # Say the whole term: the longest run that holds the best name, is in every title of
    # the group that holds it, and is a term rather than a stretch of one question: two
    # titles of the corpus write it (or each pair of words it adds), or it ends on a word
    # such as "network" ("Mixed precision training" rather than "Precision training";
    # "Generative adversarial network"; not "Gradient checkpointing trade compute").
    def term(ph: str) -> bool:
        if ph == best or sum(ph in t for t in all_titles) >= 2 or ph.split()[-1] in _TAIL_OK:
            return True
        words = ph.split()
        pairs = [" ".join(words[i:i + 2]) for i in range(len(words) - 1)]
        return all(_contains(best, pr) or sum(pr in t for t in all_titles) >= 2 for pr in pairs)

    whole = [ph for ph in every if _contains(ph, best) and every[ph] == every[best]
             and (ph == best or _pretty(ph, surface) not in taken) and term(ph)]
    best = max(whole, key=lambda ph: (len(ph.split()), every[ph]))
    return _pretty(best, surface)


def topic_map(index: Index, threshold: float = MERGE_AT) -> TopicMap:
    """Group the corpus's questions into topics; deterministic for the same index."""
    qa = [p for p in index.passages if p.kind in ("qa", "prose")]
    groups = _cluster(_vectors(index, [p.id for p in qa]), threshold)
    all_titles = [_phrases(p.title or "") for p in qa]
    surface = _surface([p.title or "" for p in qa])
    # Larger groups choose names first; a later group with the same best phrase takes
    # its next best, so names are unique and say what sets the group apart.
    taken: set[str] = set()
    named = []
    for g in sorted(groups, key=lambda g: (-len(g), g[0])):
        name = _name([qa[i] for i in g], all_titles, taken, surface)
        taken.add(name)
        named.append(Topic(name, tuple(qa[i] for i in g)))
    named.sort(key=lambda t: (-len(t.by_source), -len(t.questions), t.name))
    sources = tuple((s, info["label"]) for s, info in index.sources.items())
    return TopicMap(tuple(named), sources)
