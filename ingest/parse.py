"""Parse an interview-questions document into ordered units with exact offsets.

The five documents share one shape (a title, an introduction, a numbered list of
questions each followed by its answer, then navigation or adverts) but each writes
it differently: ``Q1.`` with an ``Answer:`` line, plain ``1.``, markdown bold
``**Q3. ****...**``, numbering that restarts in a second section, and numbered
sub-headings inside answers (``**1. Input Layer:``) that look like questions.

The parser is one state machine over lines. A numbered line is a question only
when its number continues the sequence (or restarts it right after a section
heading); a numbered line that breaks the sequence, or reads like a label (ends in
``:``), belongs to the answer above it. Every unit records ``start``/``end`` such
that ``text[start:end]`` is exactly its raw text, and the units of a document
cover all of its non-blank text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Unit", "parse_document", "clean_markup", "clean_body", "QA", "INTRO", "BOILERPLATE"]

QA = "qa"
INTRO = "intro"
BOILERPLATE = "boilerplate"


@dataclass(frozen=True)
class Unit:
    """One ordered piece of a document: a question with its answer, or other text.

    ``text`` is exactly ``file_text[start:end]``; ``answer`` is the cleaned body
    (markup, ``Answer:``/``Ans.`` labels, captions and adverts removed) that is
    shown and embedded.
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


# A numbered line: "Q1. ...", "1. ...", "**5. ...", "**Q3. ****...**", "33. **...".
_NUMBERED = re.compile(r"^\**\s*(?:Q\s?)?(\d{1,3})\s*\.(?!\d)[\s*]*(?P<title>\S.*?)\s*$")
# Section headings that split a list into levels: "Part 2 – ... (Advanced)",
# "Intermediate-Level Questions".
_SECTION = re.compile(
    r"\b(?P<level>Basic|Beginner|Intermediate|Advanced?|Expert|Fresher|Experienced)"
    r"(?P<suffix>-Level)?\b",
    re.IGNORECASE,
)
# Headings after which a page stops being questions and answers.
_OUTRO = re.compile(
    r"^(?:Recommended Articles|Related (?:Articles|Courses|Interview Questions|FAQ'?s|Posts)"
    r"|Course Schedule|Final Thoughts|Conclusion|Request for Enquiry|Share Feedback"
    r"|You may also like|Further Reading)\b",
    re.IGNORECASE,
)
# Lines inside answers that are captions or cross-promotion, not answer text.
_NOISE_LINE = re.compile(
    r"^(?:Image\s*[–-].*|.*\(Source\)|(?:Also Read|Must Read|Learn more)\s*[–-].*"
    r"|Explore\b.*\bcourses?|.*\bread our blog\b.*|.*\s-\s*Geeksforgeeks"
    r"|Image created by .*)$",
    re.IGNORECASE,
)
# Paragraphs outside answers that sell something or are page furniture.
_ADVERT = re.compile(
    r"\b(?:courses?|training|enrol+|certificat\w*|enquir\w*|rating|whatsapp|hands-on projects?"
    r"|our platform|subscribe|sign up|schedule)\b|\bmin read",
    re.IGNORECASE,
)
_ANSWER_LABEL = re.compile(r"^(?:Answer\s*:|Ans\s*[.:])\s*", re.IGNORECASE)


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


def _question(line: _Line) -> tuple[int, str] | None:
    """Return (number, clean title) when the line is shaped like a numbered question."""
    if line.text[:1].isspace():  # indented lines are list items inside an answer
        return None
    m = _NUMBERED.match(line.text)
    if not m:
        return None
    title = clean_markup(m.group("title"))
    if not re.search(r"[A-Za-z]", title):
        return None
    return int(m.group(1)), title


def _section(line: _Line) -> str | None:
    """Return the level name when the line is a section heading such as 'Advanced'."""
    stripped = clean_markup(line.text)
    if not stripped or len(stripped) > 100 or "question" not in stripped.lower():
        return None
    if stripped.endswith(("?", ".", ":")) or _question(line):  # a sentence, not a heading
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
    """Adverts and page furniture: selling words, captions, or a fragment too short to be prose."""
    flat = clean_markup(line)
    if _ADVERT.search(flat) or _is_noise(flat):
        return True
    words = flat.split()
    return len(words) <= 3 and not flat.endswith((".", "?", "!", ":"))


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


def parse_document(text: str, source: str) -> list[Unit]:
    """Split one document into ordered ``Unit``s (``qa``, ``intro``, ``boilerplate``).

    >>> units = parse_document("Intro text here.\\n\\nQ1. What is X?\\nAnswer:\\nX is Y.\\n", "doc.txt")
    >>> [(u.kind, u.qnum, u.title, u.answer) for u in units]
    [('intro', None, None, 'Intro text here.'), ('qa', 1, 'What is X?', 'X is Y.')]
    """
    lines = _lines(text)
    # Pass 1: find the lines that open a question, a section, or the page's tail.
    openers: dict[int, tuple[str, int | None, str | None]] = {}
    expected = 1
    section_since_last = False
    seen_question = False
    for i, line in enumerate(lines):
        if line.blank:
            continue
        q = _question(line)
        if q is not None:
            num, title = q
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
            continue
        if seen_question and _is_outro(line):
            openers[i] = ("outro", None, None)

    # Pass 2: cut the document at the openers and classify each span.
    units: list[Unit] = []
    section: str | None = None
    cuts = sorted(openers) + [len(lines)]
    spans: list[tuple[int, int, tuple[str, int | None, str | None]]] = []
    if cuts[0] > 0:
        spans.append((0, cuts[0], ("lead", None, None)))
    for a, b in zip(cuts, cuts[1:]):
        spans.append((a, b, openers[a]))

    after_outro = False
    for a, b, (what, num, title) in spans:
        chunk = lines[a:b]
        if what == QA:
            after_outro = False
            body = [ln.text for ln in chunk[1:]]
            start, end = _trim(text, chunk[0].start, chunk[-1].end)
            units.append(Unit(source, 0, QA, section, num, title, clean_body(body), start, end, text[start:end]))
            continue
        if what == "section":
            section = title
        if what == "outro":
            after_outro = True
        # Non-question text: classify line by line, then merge neighbours of one kind.
        for k, line in enumerate(chunk):
            if line.blank:
                continue
            if what == "section" and k == 0:
                kind = INTRO
            else:
                kind = BOILERPLATE if after_outro or _is_advert(line.text) else INTRO
            start, end = _trim(text, line.start, line.end)
            prev = units[-1] if units else None
            if prev is not None and prev.kind == kind and kind != QA and prev.section == section:
                start = prev.start
                units.pop()
            raw = text[start:end]
            units.append(Unit(source, 0, kind, section, None, None, clean_markup(raw), start, end, raw))
    return [
        Unit(u.source, i, u.kind, u.section, u.qnum, u.title, u.answer, u.start, u.end, u.text)
        for i, u in enumerate(units)
    ]
