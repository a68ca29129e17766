"""Parse a document into ordered units with exact offsets: questions, prose, adverts.

Interview-question pages write the same shape (a title, an introduction, questions
each followed by its answer, then navigation or adverts) in many ways. The layout is
decided per document from its own lines, never from its file name:

- ``numbered``: ``1.``, ``1)``, ``Q1.``, ``Q1:``, ``**Q3. ****...**``, ``## 4. ...``;
  numbering may restart after a section heading, and numbered sub-headings inside
  answers (``**1. Input Layer:``) look like questions;
- ``labelled``: ``Question: ...`` / ``Q: ...`` lines, answers optionally led by
  ``Answer:`` / ``A:``;
- ``headings``: Markdown headings that ask something (``## What is label smoothing?``);
- ``bold``: lines that are wholly bold and ask something (``**What is dropout?**``);
- ``lines``: plain lines that are only a question, each opening a paragraph (web pages
  saved as text), at least three of them;
- ``prose``: no questions at all: the text is cut into section- and paragraph-sized
  ``prose`` passages (at most ``MAX_PASSAGE_CHARS``), each titled by its heading or
  its first sentence.

Each layout proposes question openers; the one with the most lines that read as
questions wins (ties: the order above). For ``numbered`` a numbered line is a question
only when its number continues the sequence (or restarts it right after a section
heading); a numbered line that breaks the sequence, or reads like a label (ends in
``:``), belongs to the answer above it.

Text outside answers is ``boilerplate`` only when it is clearly navigation or
promotion (selling phrases such as "enroll", "our platform", "sign up"; captions;
what follows a "Recommended Articles" heading), never for an ordinary word such as
"training"; ``boilerplate=False`` (``sources.toml``: ``boilerplate = false``) turns
these rules off. Every unit records ``start``/``end`` such that
``text[start:end]`` is exactly its raw text, and the units of a document cover all of
its non-blank text.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

__all__ = ["Unit", "Parsed", "parse_document", "analyse_document", "clean_markup", "clean_body",
           "QA", "INTRO", "PROSE", "BOILERPLATE", "SEARCHABLE", "ANSWERING", "LAYOUTS", "MAX_PASSAGE_CHARS"]

QA = "qa"
INTRO = "intro"
PROSE = "prose"
BOILERPLATE = "boilerplate"
SEARCHABLE = (QA, INTRO, PROSE)  # kinds search may return
ANSWERING = (QA, PROSE)  # kinds an answer is written from and the topic map groups
LAYOUTS = ("numbered", "labelled", "headings", "bold", "lines", "prose")
MAX_PASSAGE_CHARS = 1500  # a prose or introduction passage: a few paragraphs at most
_PACK_CHARS = 1100  # paragraphs are joined up to this; one longer paragraph is cut at sentences


@dataclass(frozen=True)
class Unit:
    """One ordered piece of a document: a question with its answer, or other text.

    ``text`` is exactly ``file_text[start:end]``; ``answer`` is the cleaned body
    (markup, ``Answer:``/``Ans.`` labels, captions and adverts removed) that is
    shown and embedded. ``qnum`` is the question's number, or for ``prose`` the
    passage's number in its document.
    """

    source: str
    position: int
    kind: str
    section: str | None
    qnum: int | None
    title: str | None
    answer: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Parsed:
    """A parsed document: its detected layout and its units."""

    layout: str
    units: list[Unit]


# A numbered line: "Q1. ...", "1. ...", "1) ...", "Q1: ...", "**5. ...", "**Q3. ****...**",
# "33. **...", "## 4. ...".
_NUMBERED = re.compile(
    r"^(?:#{1,6}\s+)?\**\s*(?P<q>Q(?:uestion)?\s?)?(\d{1,3})\s*(?:\.|\)|(?(q):|(?!)))(?!\d)[\s*]*(?P<title>\S.*?)\s*$",
    re.IGNORECASE)
# "Question: ...", "Q: ...", "Question 3 - ..." (the numbered form "Q3:" is ``_NUMBERED``'s).
_LABELLED = re.compile(r"^(?:Question|Q)(?:\s*\d{1,3})?(?:\s*:\s*|\s*[.\u2013-]\s+)(?P<title>\S.*?)\s*$", re.IGNORECASE)
_HEADING = re.compile(r"^(?P<marks>#{1,6})\s+(?P<title>\S.*?)\s*#*\s*$")
_BOLD_LINE = re.compile(r"^\s*(?:\*\*|__)(?P<title>[^*_].*?)(?:\*\*|__)\s*$")
# First words of a line that asks something (or tells the reader to explain something).
_ASKING = re.compile(
    r"^(?:what|what's|why|how|when|where|which|who|whom|whose|is|are|can|could|do|does|did|should|would|will"
    r"|explain|describe|define|compare|contrast|list|name|give|discuss|mention|tell|differentiate"
    r"|distinguish|state|outline|difference|differences)\b",
    re.IGNORECASE)
# Section headings that split a list into levels: "Part 2 – ... (Advanced)",
# "Intermediate-Level Questions".
_SECTION = re.compile(
    r"\b(?P<level>Basic|Beginner|Intermediate|Advanced?|Expert|Fresher|Experienced)"
    r"(?P<suffix>-Level)?\b",
    re.IGNORECASE,
)
# Headings after which a page is navigation, not content.
_OUTRO = re.compile(
    r"^(?:Recommended Articles|Related (?:Articles|Courses|Interview Questions|FAQ'?s|Posts|Reads?)"
    r"|Course Schedule|Request for Enquiry|Share Feedback|You may also like"
    r"|Read (?:more|next)|More from)\b",
    # (not "Further Reading": in one's own notes it lists the papers read, which are facts)
    re.IGNORECASE,
)
# Headings that close the list of questions: what follows is the article's own text, not an answer.
_CLOSING = re.compile(r"^(?:Final Thoughts|Conclusions?|Summary|In Summary|Wrapping Up|Closing Thoughts|Key Takeaways)\W*$",
                      re.IGNORECASE)
# Lines inside answers that are captions or cross-promotion, not answer text.
_NOISE_LINE = re.compile(
    r"^(?:Image\s*[–-].*|.*\(Source\)|(?:Also Read|Must Read|Learn more)\s*[–-].*"
    r"|Explore\b.*\bcourses?|.*\bread our blog\b.*|.*\s-\s*Geeksforgeeks"
    r"|Image created by .*)$",
    re.IGNORECASE,
)
# Phrases that sell something or are page furniture. Each names the seller or asks
# the reader to act; an ordinary word of an answer ("training", "schedule") is not one.
_PROMOTION = re.compile(
    r"\b(?:enrol+(?:s|ed|ing|ment)?|enquir\w*|whatsapp|subscribe\w*|sign(?:ing)? up|register now"
    r"|our (?:\w+[ -]){0,3}(?:platform|newsletter|training|courses?|programs?|programmes?|bootcamps?|certifications?)"
    r"|(?:online|certification|training|free) courses?|hands-on projects?|follow us|free demo|join (?:us|now)"
    r"|\d+(?:\.\d)?\s*(?:/\s*5\s*)?(?:star )?ratings?|ratings?:?\s*\d(?:\.\d)?)\b|\bmin read",
    re.IGNORECASE,
)
_ANSWER_LABEL = re.compile(r"^(?:Answer\s*\d{0,3}\s*[:.-]|Ans\s*[.:]|A\s*:|A\d{1,3}\s*[:.)])\s*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'“(A-Z0-9])")


def clean_markup(text: str) -> str:
    """Strip markdown emphasis and heading marks and fold runs of spaces."""
    text = text.replace("*", "")
    text = re.sub(r"^#+\s*", "", text, flags=re.MULTILINE)
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    return text.strip()


@dataclass(frozen=True)
class _Line:
    start: int
    end: int  # exclusive, without the newline
    text: str

    @property
    def blank(self) -> bool:
        return not self.text.strip()


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        out.append(_Line(pos, pos + len(body), body))
        pos += len(raw)
    return out


def _asks(title: str) -> bool:
    """True when a title reads as a question: it ends in '?' or opens with an asking word."""
    return title.rstrip(" *_").endswith("?") or bool(_ASKING.match(title))


def _numbered(line: _Line) -> tuple[int, str, bool] | None:
    """(number, clean title, has a Q label) when the line is shaped like a numbered question."""
    if line.text[:1].isspace():  # indented lines are list items inside an answer
        return None
    m = _NUMBERED.match(line.text)
    if not m:
        return None
    title = clean_markup(m.group("title"))
    if not re.search(r"[A-Za-z]", title):
        return None
    return int(m.group(2)), title, bool(m.group("q"))


def _heading(line: _Line) -> tuple[int, str] | None:
    """(level, clean text) of a Markdown heading line."""
    m = _HEADING.match(line.text)
    if not m:
        return None
    title = clean_markup(m.group("title"))
    return (len(m.group("marks")), title) if re.search(r"[A-Za-z]", title) else None


def _strip_number(title: str) -> str:
    return re.sub(r"^(?:Q(?:uestion)?\s?)?\d{1,3}\s*[.):]\s*", "", title, flags=re.IGNORECASE)


def _section(line: _Line) -> str | None:
    """Return the level name when the line is a section heading such as 'Advanced'."""
    stripped = clean_markup(line.text)
    if not stripped or len(stripped) > 100 or "question" not in stripped.lower():
        return None
    if stripped.endswith(("?", ".", ":")) or _numbered(line):  # a sentence, not a heading
        return None
    m = _SECTION.search(stripped)
    if not m:
        return None
    return m.group("level") + (m.group("suffix") or "")


def _is_outro(line: _Line) -> bool:
    return bool(_OUTRO.match(clean_markup(line.text)))


def _is_noise(text: str) -> bool:
    return bool(_NOISE_LINE.match(clean_markup(text)))


def _is_advert(line: str) -> bool:
    """A selling phrase or a caption: clearly promotion or page furniture."""
    flat = clean_markup(line)
    return bool(_PROMOTION.search(flat)) or _is_noise(flat)


def _is_fragment(line: str) -> bool:
    """Three words or fewer and no sentence end: a byline, a count, a button label."""
    flat = clean_markup(line)
    return len(flat.split()) <= 3 and not flat.endswith((".", "?", "!", ":"))


def _advert_lines(lines: list[_Line]) -> set[int]:
    """Lines that are adverts: selling phrases and captions, and the short fragments
    standing next to them ("Rating 4.5" / "42197" / "learners"), never a fragment alone."""
    body = [i for i, ln in enumerate(lines) if not ln.blank]
    flagged = {i for i in body if _is_advert(lines[i].text)}
    fragments = [k for k, i in enumerate(body) if i not in flagged and _is_fragment(lines[i].text)]
    changed = True
    while changed:
        changed = False
        for k in fragments:
            i = body[k]
            near = {body[k - 1] if k > 0 else -1, body[k + 1] if k + 1 < len(body) else -1}
            if i not in flagged and near & flagged:
                flagged.add(i)
                changed = True
    return flagged


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) to exclude surrounding whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def clean_body(body_lines: list[str]) -> str:
    """An answer as a reader sees it: no captions, adverts, markup or 'Answer:' label."""
    kept = [clean_markup(line) for line in body_lines if line.strip() and not _is_noise(line)]
    if kept:
        kept[0] = _ANSWER_LABEL.sub("", kept[0])
    return "\n".join(line for line in kept if line)


# ---------------------------------------------------------------------------------------
# Layout detection: each layout proposes the lines that open a question.

_Opener = tuple[str, "int | None", "str | None"]  # (what, number, title)


def _numbered_openers(lines: list[_Line]) -> dict[int, _Opener]:
    """Numbered questions, with the sequence rule that keeps sub-headings in their answer."""
    openers: dict[int, _Opener] = {}
    expected = 1
    section_since_last = False
    seen_question = False
    for i, line in enumerate(lines):
        if line.blank:
            continue
        q = _numbered(line)
        if q is not None:
            num, title, _ = q
            label_like = title.endswith(":")
            in_sequence = num == expected
            restart = num == 1 and seen_question and section_since_last
            # A skipped number is accepted only for a line that reads as a question,
            # so a stray sub-heading cannot swallow the rest of the list.
            skip = seen_question and expected < num <= expected + 2 and title.endswith("?")
            if not label_like and (in_sequence or restart or skip):
                openers[i] = (QA, num, title)
                expected = num + 1
                seen_question = True
                section_since_last = False
                continue
        level = _section(line)
        if level is not None:
            openers[i] = ("section", None, level)
            section_since_last = True
    return openers


def _labelled_openers(lines: list[_Line]) -> dict[int, _Opener]:
    """``Question: ...`` / ``Q: ...`` lines (markup around the label allowed)."""
    openers: dict[int, _Opener] = {}
    n = 0
    for i, line in enumerate(lines):
        if line.blank or line.text[:1].isspace():
            continue
        m = _LABELLED.match(clean_markup(line.text))
        if m and re.search(r"[A-Za-z]", m.group("title")):
            n += 1
            openers[i] = (QA, n, m.group("title"))
    return openers


def _heading_openers(lines: list[_Line]) -> dict[int, _Opener]:
    """Markdown headings that ask something; other headings at the same level or above
    close the answer before them, deeper ones stay inside it."""
    heads = {i: h for i, line in enumerate(lines) if (h := _heading(line)) is not None}
    asking = {i: (lvl, _strip_number(title)) for i, (lvl, title) in heads.items() if _asks(_strip_number(title))}
    if not asking:
        return {}
    level = Counter(lvl for lvl, _ in asking.values()).most_common(1)[0][0]
    openers: dict[int, _Opener] = {}
    n = 0
    for i, (lvl, title) in heads.items():
        if i in asking and asking[i][0] <= level:
            n += 1
            openers[i] = (QA, n, asking[i][1])
        elif lvl <= level:
            openers[i] = ("topic", None, title)  # a section of the article's own text
    return openers


def _bold_openers(lines: list[_Line]) -> dict[int, _Opener]:
    """Lines that are wholly bold and ask something."""
    openers: dict[int, _Opener] = {}
    n = 0
    for i, line in enumerate(lines):
        m = _BOLD_LINE.match(line.text)
        if m:
            title = _strip_number(clean_markup(m.group("title")))
            if _asks(title) and not title.endswith(":"):
                n += 1
                openers[i] = (QA, n, title)
    return openers


def _plain_openers(lines: list[_Line]) -> dict[int, _Opener]:
    """Lines that are nothing but a short question ("What is dropout?"), each opening its
    own paragraph: web pages saved as text keep their question headings this way."""
    openers: dict[int, _Opener] = {}
    n = 0
    for i, line in enumerate(lines):
        flat = clean_markup(line.text)
        if (line.blank or line.text[:1].isspace() or not flat.endswith("?") or len(flat.split()) > 25
                or not _ASKING.match(flat) or (i > 0 and not lines[i - 1].blank)):
            continue
        n += 1
        openers[i] = (QA, n, flat)
    return openers


def _score(openers: dict[int, _Opener], lines: list[_Line], labelled: bool) -> int:
    """How many openers read as questions (a 'Q'/'Question' label counts as asking)."""
    total = 0
    for i, (what, _num, title) in openers.items():
        if what != QA:
            continue
        q = _numbered(lines[i])
        total += labelled or (q is not None and q[2]) or _asks(title or "")
    return total


def detect_layout(lines: list[_Line]) -> tuple[str, dict[int, _Opener]]:
    """The document's layout and the lines that open its questions (and sections)."""
    best: tuple[str, dict[int, _Opener]] = ("prose", {})
    best_score = 0
    for name, finder in (("numbered", _numbered_openers), ("labelled", _labelled_openers),
                         ("headings", _heading_openers), ("bold", _bold_openers), ("lines", _plain_openers)):
        openers = finder(lines)
        score = _score(openers, lines, labelled=name == "labelled")
        # One numbered or labelled question is a question; a lone bold line or heading that
        # asks something is more often a rhetorical one inside prose.
        least = {"numbered": 1, "labelled": 1, "lines": 3}.get(name, 2)
        if score > best_score and sum(w == QA for w, _, _ in openers.values()) >= least:
            best, best_score = (name, openers), score
    name, openers = best
    if name not in ("numbered", "prose"):
        for i, line in enumerate(lines):  # level headings ("Advanced Questions") split any list
            if i not in openers and not line.blank and (level := _section(line)) is not None:
                openers[i] = ("section", None, level)
    return name, openers


# ---------------------------------------------------------------------------------------
# Units


def _renumber(units: list[Unit]) -> list[Unit]:
    return [Unit(u.source, i, u.kind, u.section, u.qnum, u.title, u.answer, u.start, u.end, u.text)
            for i, u in enumerate(units)]


def analyse_document(text: str, source: str, *, boilerplate: bool = True) -> Parsed:
    """Detect the document's layout and split it into ordered units.

    ``boilerplate=False`` keeps every line searchable (no advert, caption or
    navigation rule applies).
    """
    lines = _lines(text)
    layout, openers = detect_layout(lines)
    if layout == "prose":
        return Parsed(layout, _prose_units(text, lines, source, boilerplate))
    return Parsed(layout, _qa_units(text, lines, openers, source, boilerplate))


def parse_document(text: str, source: str, *, boilerplate: bool = True) -> list[Unit]:
    """Split one document into ordered ``Unit``s (``qa``, ``intro``, ``prose``, ``boilerplate``).

    >>> units = parse_document("Intro text here.\\n\\nQ1. What is X?\\nAnswer:\\nX is Y.\\n", "doc.txt")
    >>> [(u.kind, u.qnum, u.title, u.answer) for u in units]
    [('intro', None, None, 'Intro text here.'), ('qa', 1, 'What is X?', 'X is Y.')]
    """
    return analyse_document(text, source, boilerplate=boilerplate).units


def _qa_units(text: str, lines: list[_Line], openers: dict[int, _Opener], source: str,
              boilerplate: bool) -> list[Unit]:
    """Cut the document at its question openers; classify the text between answers."""
    openers = dict(openers)
    if boilerplate:
        seen = False
        for i, line in enumerate(lines):
            if openers.get(i, ("",))[0] == QA:
                seen = True
            elif seen and i not in openers and not line.blank and _is_outro(line):
                openers[i] = ("outro", None, None)
    seen = False
    for i, line in enumerate(lines):
        if openers.get(i, ("",))[0] == QA:
            seen = True
        elif seen and i not in openers and _CLOSING.match(clean_markup(line.text)):
            openers[i] = ("heading", None, clean_markup(line.text))
    units: list[Unit] = []
    section: str | None = None
    cuts = sorted(openers) + [len(lines)]
    spans: list[tuple[int, int, _Opener]] = []
    if cuts[0] > 0:
        spans.append((0, cuts[0], ("lead", None, None)))
    for a, b in zip(cuts, cuts[1:]):
        spans.append((a, b, openers[a]))

    after_outro = False
    adverts = _advert_lines(lines) if boilerplate else set()
    for a, b, (what, num, title) in spans:
        chunk = lines[a:b]
        if what == "topic":  # an article section between questions: prose passages under its heading
            after_outro = False
            units.extend(_prose_units(text, chunk, source, boilerplate,
                                      first_number=1 + sum(u.kind == PROSE for u in units)))
            continue
        if what == QA:
            after_outro = False
            tail = _promotion_tail(chunk) if boilerplate and b == len(lines) else len(chunk)
            body = [ln.text for ln in chunk[1:tail]]
            start, end = _trim(text, chunk[0].start, chunk[tail - 1].end)
            units.append(Unit(source, 0, QA, section, num, title, clean_body(body), start, end, text[start:end]))
            if tail < len(chunk):
                start, end = _trim(text, chunk[tail].start, chunk[-1].end)
                raw = text[start:end]
                units.append(Unit(source, 0, BOILERPLATE, section, None, None, clean_markup(raw), start, end, raw))
            continue
        if what == "section":
            section = title
        if what == "outro":
            after_outro = True
        # Non-question text: classify line by line, then merge neighbours of one kind.
        for k, line in enumerate(chunk):
            if line.blank:
                continue
            if what in ("section", "heading") and k == 0 or not boilerplate:
                kind = INTRO
            else:
                kind = BOILERPLATE if after_outro or a + k in adverts else INTRO
            start, end = _trim(text, line.start, line.end)
            prev = units[-1] if units else None
            if (prev is not None and prev.kind == kind and prev.section == section
                    and (kind == BOILERPLATE or end - prev.start <= MAX_PASSAGE_CHARS)):
                start = prev.start
                units.pop()
            raw = text[start:end]
            units.append(Unit(source, 0, kind, section, None, None, clean_markup(raw), start, end, raw))
    return _renumber(units)


def _promotion_tail(chunk: list[_Line]) -> int:
    """Where the document's last answer ends when it closes with a selling paragraph
    ("Follow us ... sign up for our newsletter"): the index of that paragraph's first line."""
    cut = len(chunk)
    k = len(chunk) - 1
    while k > 1:
        while k > 1 and chunk[k].blank:
            k -= 1
        first = k
        while first > 1 and not chunk[first - 1].blank:
            first -= 1
        para = [ln.text for ln in chunk[first:k + 1]]
        if first <= 1 or not all(_PROMOTION.search(clean_markup(ln)) or _is_noise(ln) for ln in para):
            break
        cut, k = first, first - 1
    return cut


# ---------------------------------------------------------------------------------------
# Prose: sections and paragraphs


def _is_prose_heading(lines: list[_Line], i: int) -> bool:
    """A Markdown heading, or a short unpunctuated line standing alone before text."""
    line = lines[i]
    if _heading(line) is not None:
        return True
    flat = clean_markup(line.text)
    if not flat or len(flat.split()) > 12 or len(flat) > 90 or flat.endswith((".", ",", ";", ":", "!", "?")):
        return False
    before_blank = i == 0 or lines[i - 1].blank
    nxt = next((ln for ln in lines[i + 1:] if not ln.blank), None)
    return before_blank and nxt is not None and (i + 1 < len(lines) and lines[i + 1].blank or
                                                 _heading(line) is not None)


def _first_sentence(text: str, limit: int = 120) -> str:
    flat = " ".join(clean_markup(text).split())
    m = _SENTENCE_END.search(flat)
    first = flat[: m.start()] if m else flat
    return first if len(first) <= limit else first[: limit - 1].rsplit(" ", 1)[0] + "…"


def _paragraph_spans(text: str, lines: list[_Line], a: int, b: int) -> list[tuple[int, int]]:
    """Blank-line separated blocks of lines a..b, as trimmed character spans."""
    out: list[tuple[int, int]] = []
    block: list[_Line] = []
    for line in lines[a:b] + [_Line(0, 0, "")]:
        if line.blank:
            if block:
                out.append(_trim(text, block[0].start, block[-1].end))
            block = []
        else:
            block.append(line)
    return [s for s in out if s[0] < s[1]]


def _sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    cuts = [start] + [start + m.end() for m in _SENTENCE_END.finditer(text[start:end])] + [end]
    return [_trim(text, s, e) for s, e in zip(cuts, cuts[1:]) if _trim(text, s, e)[0] < _trim(text, s, e)[1]]


def _pack_spans(spans: list[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    """Join neighbouring spans while the joined span stays within ``limit`` characters."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and e - out[-1][0] <= limit:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _prose_units(text: str, lines: list[_Line], source: str, boilerplate: bool, first_number: int = 1) -> list[Unit]:
    """Section- and paragraph-sized passages for a document with no questions.

    A section is a heading (or the document's start) and the paragraphs under it;
    paragraphs are joined up to ``_PACK_CHARS`` and a longer paragraph is cut at
    sentence ends, so no passage exceeds ``MAX_PASSAGE_CHARS``. A passage's title is
    its section heading, or its own first sentence when the section has none.
    """
    heads = [i for i, line in enumerate(lines) if not line.blank and _is_prose_heading(lines, i)]
    bounds = sorted(set([0] + heads)) + [len(lines)]
    units: list[Unit] = []
    number = first_number - 1
    pending_head: tuple[int, str] | None = None  # a heading with no text of its own joins the next section
    after_outro = False
    for a, b in zip(bounds, bounds[1:]):
        head_line = lines[a] if a in heads else None
        heading = clean_markup(head_line.text) if head_line is not None else None
        if boilerplate and head_line is not None:
            after_outro = _is_outro(head_line)
        body_from = a + 1 if head_line is not None else a
        paras = _paragraph_spans(text, lines, body_from, b)
        if head_line is not None and not paras:
            if pending_head is None:
                pending_head = (head_line.start, heading or "")
            else:
                pending_head = (pending_head[0], heading or pending_head[1])
            continue
        pieces: list[tuple[int, int, str]] = []  # (start, end, kind)
        for s, e in paras:
            hidden = boilerplate and (after_outro or all(_is_advert(ln)
                                                          for ln in text[s:e].splitlines() if ln.strip()))
            kind = BOILERPLATE if hidden else PROSE
            if kind == PROSE and e - s > MAX_PASSAGE_CHARS:
                for ss, se in _pack_spans(_sentence_spans(text, s, e), _PACK_CHARS):
                    pieces.append((ss, se, kind))
            else:
                pieces.append((s, e, kind))
        grouped: list[list[int]] = []
        for s, e, kind in pieces:
            last = grouped[-1] if grouped else None
            if last and last[2] == kind and (kind == BOILERPLATE or e - last[0] <= _PACK_CHARS):
                last[1] = e
            else:
                grouped.append([s, e, kind])
        head_start = pending_head[0] if pending_head else (head_line.start if head_line is not None else None)
        title_head = heading if heading else (pending_head[1] if pending_head else None)
        pending_head = None
        for j, (s, e, kind) in enumerate(grouped):
            body = text[s:e]  # the passage's own text, without the heading that opens it
            if j == 0 and head_start is not None:
                s = head_start  # the heading opens its section's first passage
            s, e = _trim(text, s, e)
            raw = text[s:e]
            if kind == BOILERPLATE:
                units.append(Unit(source, 0, BOILERPLATE, None, None, None, clean_markup(raw), s, e, raw))
                continue
            number += 1
            answer = "\n".join(clean_markup(ln) for ln in body.splitlines() if ln.strip())
            title = title_head or _first_sentence(body)
            units.append(Unit(source, 0, PROSE, None, number, title, answer, s, e, raw))
    if pending_head is not None:  # headings at the very end with nothing under them
        s, e = _trim(text, pending_head[0], lines[-1].end)
        raw = text[s:e]
        units.append(Unit(source, 0, INTRO, None, None, None, clean_markup(raw), s, e, raw))
    return _renumber(units)
