"""HTML for answers and passages: citation links, unsupported sentences, highlights.

Pure functions over the ``rag`` records, so the page code stays short and this can
be tested without a browser. Every piece of corpus or model text is escaped.
"""

from __future__ import annotations

import html
import re

from rag.records import Answer, Citation, Passage

__all__ = ["answer_html", "passage_html", "corpus_link", "citation_title", "CSS"]

CSS = """
<style>
.cite a {text-decoration:none; font-weight:600; padding:0 2px;}
.unsupported {background:#fdecea; border-bottom:2px dotted #c62828; }
.unsupported-badge {color:#c62828; font-size:0.8em; margin-left:2px;}
mark.cited {background:#fff3b0; padding:0 1px;}
.passage {white-space:pre-wrap; font-size:0.92em; line-height:1.45;}
.refusal {font-size:1.05em;}
.src-card h4 {margin-bottom:0.2rem;}
.written.streaming {color:#333;}
.answered-by {color:#6c757d; font-size:0.85em; margin-top:0.25rem;}
.left-out {margin-bottom:0.4rem;}
.left-out s {color:#6c757d;}
.listed-best {font-style:italic; color:#555;}
</style>
"""


def corpus_link(passage: Passage) -> str:
    """Deep link to a passage in the corpus browser."""
    return f"./corpus?passage={passage.id}"


def answer_html(answer: Answer, key: str) -> str:
    """The answer with [n] markers linked to the citation cards, unsupported sentences marked."""
    if not answer.sentences and not answer.listed_best:
        return f"<p>{html.escape(answer.text)}</p>"

    def marks(cites) -> str:
        return "".join(f'<sup class="cite"><a href="#cite-{key}-{n}" title="source [{n}]">[{n}]</a></sup>'
                       for n in cites)

    parts = []
    for s in answer.sentences:
        text = html.escape(s.text)
        if not s.supported:
            text = (f'<span class="unsupported" title="No source passage supports this sentence">{text}</span>'
                    '<span class="unsupported-badge">⚠ not in the sources</span>')
        parts.append(text + marks(s.cites))
    if answer.listed_best:  # the tool's note on a source, set apart from the claims
        parts.append(f'<span class="listed-best">{html.escape(answer.listed_best.text)}</span>'
                     + marks((answer.listed_best.n,)))
    return "<p>" + " ".join(parts) + "</p>"


def passage_html(passage: Passage, quotes: list[str] | None = None) -> str:
    """The passage's answer with the quoted sentences highlighted."""
    body = passage.answer or passage.text
    escaped = html.escape(body)
    for quote in quotes or []:
        q = html.escape(quote.strip())
        if q and q in escaped:
            escaped = escaped.replace(q, f'<mark class="cited">{q}</mark>', 1)
        elif quote.strip():
            # The quote may span a line break in the passage: match on folded spaces; a
            # quote given under its sub-heading ("Adam (…): It combines …") is marked from
            # its claim when the whole does not match.
            for text in (q, q.split(": ", 1)[-1]):
                pattern = r"\s+".join(re.escape(w) for w in text.split())
                marked = re.sub(pattern, lambda m: f'<mark class="cited">{m.group(0)}</mark>', escaped, count=1)
                if marked != escaped:
                    escaped = marked
                    break
    return f'<div class="passage">{escaped}</div>'


def citation_title(c: Citation) -> str:
    """The expander label of a citation card."""
    return f"[{c.n}] {c.passage.ref} · {c.passage.title or ''}"
