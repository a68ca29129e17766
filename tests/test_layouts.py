"""Documents of one's own: every common question-and-answer layout, prose, adverts, formats."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.corpus import read_corpus
from ingest.parse import BOILERPLATE, INTRO, MAX_PASSAGE_CHARS, PROSE, QA, analyse_document, parse_document
from rag.errors import UserError
from tests.conftest import ROOT

OWN = ROOT / "eval" / "own_docs"

LAYOUTS = [
    # (name, document, layout, [(qnum, title, answer)])
    ("plain numbered", "Intro.\n\n1. What is dropout?\nIt drops units.\n2. Why batch norm?\nIt stabilises.\n",
     "numbered", [(1, "What is dropout?", "It drops units."), (2, "Why batch norm?", "It stabilises.")]),
    ("numbered with parenthesis", "Intro.\n\n1) What is dropout?\nIt drops units.\n\n2) Why batch norm?\nIt stabilises.\n",
     "numbered", [(1, "What is dropout?", "It drops units."), (2, "Why batch norm?", "It stabilises.")]),
    ("Q1. with Answer", "Intro.\n\nQ1. What is dropout?\nAnswer: It drops units.\nQ2. Why batch norm?\nAnswer: It stabilises.\n",
     "numbered", [(1, "What is dropout?", "It drops units."), (2, "Why batch norm?", "It stabilises.")]),
    ("Q1: colon", "Intro.\n\nQ1: What is dropout?\nIt drops units.\n\nQ2: Why batch norm?\nIt stabilises.\n",
     "numbered", [(1, "What is dropout?", "It drops units."), (2, "Why batch norm?", "It stabilises.")]),
    ("Question: / Answer:", "Intro.\n\nQuestion: What is dropout?\nAnswer: It drops units.\n\n"
     "Question: Why batch norm?\n\nAnswer: It stabilises training.\n",
     "labelled", [(1, "What is dropout?", "It drops units."), (2, "Why batch norm?", "It stabilises training.")]),
    ("Q: / A:", "Intro.\n\nQ: What is dropout?\nA: It drops units.\n\nQ: Explain batch norm.\nA: It stabilises.\n",
     "labelled", [(1, "What is dropout?", "It drops units."), (2, "Explain batch norm.", "It stabilises.")]),
    ("markdown headings", "# Guide\n\nIntro.\n\n## What is dropout?\n\nIt drops units.\n\n### Example\n\nAn example.\n\n"
     "## Why use batch norm?\n\nIt stabilises.\n",
     "headings", [(1, "What is dropout?", "It drops units.\nExample\nAn example."),
                  (2, "Why use batch norm?", "It stabilises.")]),
    ("numbered markdown headings over numbered lists",
     "# Guide\n\n## 1. What is dropout?\n\nIt drops units:\n\n1. first point\n2. second point\n3. third point\n\n"
     "## 2. What is batch norm?\n\nIt stabilises.\n",
     "headings", [(1, "What is dropout?", "It drops units:\n1. first point\n2. second point\n3. third point"),
                  (2, "What is batch norm?", "It stabilises.")]),
    ("plain question lines", "DEEP LEARNING FAQ\n\nWhat is dropout?\nIt drops units.\n\nWhat is batch norm?\n"
     "It stabilises.\n\nHow does Adam work?\n\nIt adapts rates. Is it perfect? No.\n",
     "lines", [(1, "What is dropout?", "It drops units."), (2, "What is batch norm?", "It stabilises."),
               (3, "How does Adam work?", "It adapts rates. Is it perfect? No.")]),
    ("bold Q1. with A1.", "Intro.\n\n**Q1. What is dropout?**\nA1. It drops units.\n\n**Q2. Why batch norm?**\n"
     "A2. It stabilises.\n",
     "numbered", [(1, "What is dropout?", "It drops units."), (2, "Why batch norm?", "It stabilises.")]),
    ("Markdown categories over question headings", "# FAQ\n\n## Basics\n\n### What is dropout?\n\nIt drops units.\n\n"
     "## Advanced\n\n### Why batch norm?\n\nIt stabilises.\n",
     "headings", [(1, "What is dropout?", "It drops units."), (2, "Why batch norm?", "It stabilises.")]),
    ("bold questions", "Intro.\n\n**What is dropout?**\n\nIt drops units.\n\n**Key point:** it is random.\n\n"
     "**Why use batch norm?**\n\nIt stabilises.\n",
     "bold", [(1, "What is dropout?", "It drops units.\nKey point: it is random."),
              (2, "Why use batch norm?", "It stabilises.")]),
]


@pytest.mark.parametrize("name,doc,layout,expected", LAYOUTS, ids=[c[0] for c in LAYOUTS])
def test_each_layout_gives_its_questions_with_exact_offsets(name, doc, layout, expected):
    parsed = analyse_document(doc, "t.md")
    assert parsed.layout == layout
    assert [(u.qnum, u.title, u.answer) for u in parsed.units if u.kind == QA] == expected
    covered = [False] * len(doc)
    for u in parsed.units:
        assert doc[u.start:u.end] == u.text
        for i in range(u.start, u.end):
            covered[i] = True
    assert all(covered[i] for i, ch in enumerate(doc) if not ch.isspace()), "no text is lost"


def test_the_label_comes_from_structure_not_the_file_name():
    doc = "Intro.\n\nQuestion: What is dropout?\nAnswer: It drops units.\n\nQuestion: Why?\nAnswer: Because.\n"
    assert {analyse_document(doc, name).layout for name in ("a.txt", "b.md", "000_x.txt")} == {"labelled"}


@pytest.mark.parametrize("name,questions,layout", [
    ("training_tricks.md", 8, "headings"), ("compression_qa.txt", 9, "labelled"),
    ("self_supervised_explainer.txt", 0, "prose")])
def test_own_documents(name, questions, layout):
    text = (OWN / name).read_text(encoding="utf-8")
    parsed = analyse_document(text, name)
    assert parsed.layout == layout
    assert sum(u.kind == QA for u in parsed.units) == questions
    assert all(text[u.start:u.end] == u.text for u in parsed.units)


def test_ordinary_words_in_answers_and_prose_are_never_adverts():
    """The word "training" (and "schedule", "course of training") is content, not an advert."""
    doc = ("# Training tips\n\nTraining a network needs a learning-rate schedule. Over the course of training "
           "the rate falls.\n\nA second paragraph about training and certification of models.\n")
    units = parse_document(doc, "t.md")
    assert [u.kind for u in units] == [PROSE]
    qa = parse_document("## What is warmup?\n\nTraining starts slowly.\n\n## Why?\n\nTraining is unstable.\n", "t.md")
    assert [u.kind for u in qa] == [QA, QA]


def test_promotion_is_boilerplate_and_the_switch_keeps_it():
    doc = ("Intro.\n\nQuestion: What is dropout?\nAnswer: It drops units.\n\nQuestion: Why?\nAnswer: Because.\n\n"
           "Follow us and sign up for our newsletter.\n")
    units = parse_document(doc, "t.txt")
    assert [u.kind for u in units] == [INTRO, QA, QA, BOILERPLATE]
    assert units[2].answer == "Because."
    kept = parse_document(doc, "t.txt", boilerplate=False)
    assert BOILERPLATE not in [u.kind for u in kept]


def test_prose_is_cut_into_titled_passages_of_bounded_size():
    para = " ".join(f"Sentence {i} says one more thing about attention heads." for i in range(30))  # ~1,700 chars
    doc = f"Attention explained\n\n{para}\n\nHow heads combine\n\nShort paragraph one.\n\nShort paragraph two.\n"
    units = parse_document(doc, "t.txt")
    assert {u.kind for u in units} == {PROSE}
    assert all(len(u.text) <= MAX_PASSAGE_CHARS for u in units)
    assert units[0].title == "Attention explained" and units[-1].title == "How heads combine"
    assert [u.qnum for u in units] == list(range(1, len(units) + 1))
    assert all(doc[u.start:u.end] == u.text for u in units)
    untitled = parse_document("First sentence here. Then more.\n\nAnother paragraph.\n", "t.txt")
    assert untitled[0].title == "First sentence here."


def test_prose_explainer_hides_nothing_and_stays_small():
    text = (OWN / "self_supervised_explainer.txt").read_text(encoding="utf-8")
    units = parse_document(text, "x.txt")
    assert all(u.kind == PROSE and len(u.text) <= MAX_PASSAGE_CHARS for u in units)
    assert "three quarters of an image" in units[-1].text  # the tail is searchable


def _pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF, one string per page ("\n" starts a line; Helvetica), written by hand."""
    objs = ["<< /Type /Catalog /Pages 2 0 R >>", None, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in pages:
        lines = [ln.replace("(", r"\(").replace(")", r"\)") for ln in text.split("\n")]
        stream = "BT /F1 12 Tf 14 TL 72 720 Td " + " T* ".join(f"({ln}) Tj" for ln in lines) + " ET"
        objs.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {len(objs)} 0 R "
                    "/Resources << /Font << /F1 3 0 R >> >> >>")
        kids.append(f"{len(objs)} 0 R")
    objs[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out = b"%PDF-1.4\n"
    offsets = []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def test_corpus_reads_markdown_pdf_subfolders_and_skips_bad_files(tmp_path):
    corpus = tmp_path / "c"
    (corpus / "notes" / "deep").mkdir(parents=True)
    (corpus / "a.md").write_text("# Dropout notes\n\n## What is dropout?\n\nIt drops units.\n\n## Why?\n\nBecause.\n")
    (corpus / "notes" / "deep" / "B.TXT").write_text("Question: What is a GRU?\nAnswer: A gated unit.\n\n"
                                                     "Question: What is an LSTM?\nAnswer: A memory cell.\n")
    (corpus / "paper.pdf").write_bytes(_pdf(["1. What is a tensor?", "A tensor is an array of numbers."]))
    (corpus / "latin1.txt").write_bytes(b"caf\xe9 au lait\n")
    (corpus / "empty.md").write_text("  \n")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (corpus / "image.png").write_bytes(b"\x89PNG")
    c = read_corpus(corpus)
    by = {d.source: d for d in c.documents}
    assert set(by) == {"a.md", "notes/deep/B.TXT", "paper.pdf"}
    assert by["a.md"].label == "Dropout notes" and by["a.md"].format == "markdown"
    skipped = {s.source: s.reason for s in c.skipped}
    assert set(skipped) == {"latin1.txt", "empty.md", "broken.pdf", "image.png"}
    assert "not UTF-8" in skipped["latin1.txt"] and "empty" in skipped["empty.md"]
    assert "PDF" in skipped["broken.pdf"] and "not a supported format" in skipped["image.png"]
    pdf = by["paper.pdf"]
    assert pdf.format == "pdf" and len(pdf.pages) == 2
    units = parse_document(pdf.text, pdf.source)
    q = [u for u in units if u.kind == QA]
    assert [u.title for u in q] == ["What is a tensor?"] and "array of numbers" in q[0].answer
    assert pdf.text[q[0].start:q[0].end] == q[0].text
    assert pdf.page_of(q[0].start) == 1 and pdf.page_of(pdf.text.index("A tensor is")) == 2


def test_sources_toml_switch_and_labels(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    doc = "Intro.\n\n1. What is X?\nX is Y.\n\n2. What is Z?\nZ is W.\n\nRecommended Articles\nSome links here.\n"
    (corpus / "x.txt").write_text(doc)
    (corpus / "y.txt").write_text(doc)
    (corpus / "sources.toml").write_text('["y.txt"]\nlabel = "Why"\nboilerplate = false\n')
    c = {d.source: d for d in read_corpus(corpus).documents}
    assert c["x.txt"].boilerplate and not c["y.txt"].boilerplate and c["y.txt"].label == "Why"
    from ingest.report import corpus_report

    files = {f.file: f for f in corpus_report(corpus).files}
    assert files["x.txt"].hidden_chars > 0 and files["y.txt"].hidden_chars == 0
    assert c["x.txt"].label == "x"  # no heading (its first line is a sentence): the file name


def test_labels_default_to_the_first_heading_and_stay_unique(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    for name in ("one.md", "two.md"):
        (corpus / name).write_text("# Interview Questions\n\n## What is X?\n\nX.\n\n## What is Y?\n\nY.\n")
    labels = sorted(d.label for d in read_corpus(corpus).documents)
    assert labels == ["Interview Questions (one)", "Interview Questions (two)"]


def test_a_heading_only_layout_never_hides_its_answers():
    text = Path(OWN / "training_tricks.md").read_text(encoding="utf-8")
    hidden = sum(len(u.text) for u in parse_document(text, "t.md") if u.kind == BOILERPLATE)
    assert hidden < 120  # only the closing "subscribe ... enroll" line


def test_heading_only_passages_are_recognised():
    from rag.context import is_heading_only
    from rag.records import Passage

    def passage(kind: str, answer: str) -> Passage:
        return Passage(0, "t.md", "T", kind, None, 1, "What is label smoothing?", 0, 1, "x", answer)

    assert is_heading_only(passage("qa", ""))
    assert is_heading_only(passage("intro", "Intermediate-Level Questions"))
    assert not is_heading_only(passage("qa", "1. Dropout\n2. Early Stopping"))  # lists what it treats
    assert not is_heading_only(passage("prose", "Label smoothing softens the targets."))


def test_an_article_with_sections_and_a_faq_keeps_its_sections_citable():
    doc = ("# A Guide to Attention\n\nAttention lets a model weigh the parts of its input.\n\n"
           "## The computation\n\nQueries, keys and values are projections of the input.\n\n"
           "### Multi-head attention\n\nSeveral heads attend in parallel.\n\n"
           "## Frequently asked questions\n\n### What is self-attention?\n\nIt relates positions of one sequence.\n\n"
           "### Why scale the dot products?\n\nLarge products saturate the softmax.\n\n"
           "## Conclusion\n\nAttention is the core of the transformer.\n\nSubscribe to our newsletter for more.\n")
    parsed = analyse_document(doc, "t.md")
    assert parsed.layout == "headings"
    kinds = [(u.kind, u.title) for u in parsed.units if u.answer or u.kind == QA]
    assert kinds == [(PROSE, "A Guide to Attention"), (PROSE, "The computation"), (PROSE, "Multi-head attention"),
                     (INTRO, None),  # "Frequently asked questions": a heading with no text of its own
                     (QA, "What is self-attention?"), (QA, "Why scale the dot products?"), (PROSE, "Conclusion"),
                     (BOILERPLATE, None)]
    assert all(doc[u.start:u.end] == u.text for u in parsed.units)


def test_settings_use_the_corpus_that_built_the_index_unless_told_otherwise(tmp_path):
    """What every command and the app read: the index's own corpus, else RAG_CORPUS/--corpus wins."""
    import json

    from rag.config import DEFAULT_CORPUS, Settings

    mine = tmp_path / "mine"
    mine.mkdir()
    index = tmp_path / "home" / "index"
    index.mkdir(parents=True)
    (index / "manifest.json").write_text(json.dumps({"corpus_dir": str(mine)}))
    home = {"RAG_HOME": str(tmp_path / "home")}
    assert Settings.from_env(environ=home).corpus == mine
    assert Settings.from_env(environ={**home, "RAG_CORPUS": str(DEFAULT_CORPUS)}).corpus == DEFAULT_CORPUS
    assert Settings.from_env(environ=home, corpus=DEFAULT_CORPUS).corpus == DEFAULT_CORPUS
    (index / "manifest.json").write_text(json.dumps({"corpus_dir": str(mine), "sources": {"a.txt": {"sha256": "0"}}}))
    mine.rmdir()  # the folder is gone: an error, never a silent rebuild from the bundled corpus
    with pytest.raises(UserError, match=f"built from {mine}, which no longer exists"):
        Settings.from_env(environ=home)
    assert Settings.from_env(environ=home, corpus=DEFAULT_CORPUS).corpus == DEFAULT_CORPUS  # told: fine


def test_a_byte_order_mark_hides_nothing(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "win.txt").write_bytes("\ufeffQuestion: What is distillation?\r\nAnswer: A student copies a teacher."
                                     "\r\n\r\nQuestion: What is the temperature?\r\nAnswer: It softens the logits."
                                     "\r\n".encode("utf-8"))
    (corpus / "titled.md").write_bytes("\ufeff# Attention notes\n\n## What is attention?\n\nA weighting.\n".encode())
    by = {d.source: d for d in read_corpus(corpus).documents}
    assert "\ufeff" not in by["win.txt"].text and by["titled.md"].label == "Attention notes"
    units = parse_document(by["win.txt"].text, "win.txt")
    assert [u.title for u in units if u.kind == QA] == ["What is distillation?", "What is the temperature?"]


def test_a_first_question_or_control_characters_never_make_a_label(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "qa_notes.txt").write_text("Q: What is gradient clipping?\nA: Capping the gradient norm.\n\n"
                                         "Q: What is teacher forcing?\nA: Feeding the true previous token.\n")
    (corpus / "numbered.txt").write_text("1. What is early stopping?\nStopping when validation loss rises.\n\n"
                                         "2. What is a tensor?\nAn array.\n\n3. What is an epoch?\nOne pass.\n")
    (corpus / "asks.md").write_text("## What is X?\n\nX is a thing.\n\n## What is Y?\n\nY is another.\n")
    (corpus / "nul.txt").write_text("hello\x00\u200b\nSome text about things.\n")
    (corpus / "titled.md").write_text("Attention notes\n\n## What is attention?\n\nA weighting.\n\n"
                                      "## What is a head?\n\nOne attention.\n")
    (corpus / "chapter.md").write_text("# 1. Introduction to Transformers\n\nSome text about them.\n")
    labels = {d.source: d.label for d in read_corpus(corpus).documents}
    assert labels == {"qa_notes.txt": "qa_notes", "numbered.txt": "numbered", "asks.md": "asks", "nul.txt": "hello",
                      "titled.md": "Attention notes", "chapter.md": "1. Introduction to Transformers"}


def test_a_pdf_line_wrapped_inside_a_sentence_is_one_sentence(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "notes.pdf").write_bytes(_pdf(["Regularisation notes\n1. What is weight decay?\nWeight decay adds a "
                                             "penalty on the squared weights\nto the loss, shrinking them every step."]))
    doc = read_corpus(corpus).documents[0]
    assert "squared weights to the loss" in doc.text and "weight decay?\nWeight decay" in doc.text
    q = [u for u in parse_document(doc.text, doc.source) if u.kind == QA]
    assert q[0].title == "What is weight decay?" and doc.text[q[0].start:q[0].end] == q[0].text


@pytest.mark.parametrize("toml,message", [
    ('["x.txt"]\nboilerplat = false\n', "unknown key 'boilerplat' (known: title, label, boilerplate)"),
    ('["x.txt"]\nlabel = 3\n', "label must be text in quotes, not 3"),
    ('["x.txt"]\nboilerplate = "no"\n', "boilerplate must be true or false, not 'no'"),
    ('label = "Mine"\n["x.txt"]\ntitle = "T"\n', "'label' is outside any [\"file name\"] section"),
])
def test_a_mistake_in_sources_toml_is_said_not_ignored(tmp_path, toml, message):
    from rag.errors import CorpusError

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "x.txt").write_text("1. What is X?\nX is Y.\n\n2. What is Z?\nZ is W.\n\n3. What is V?\nV is U.\n")
    (corpus / "sources.toml").write_text(toml)
    with pytest.raises(CorpusError, match=re.escape(message)):
        read_corpus(corpus)


def test_a_further_reading_section_of_ones_notes_stays_searchable():
    doc = ("# Attention notes\n\n## What is self-attention?\n\nEach token attends to every other token.\n\n"
           "## Why scale the dot products?\n\nLarge products saturate the softmax.\n\n"
           "## Further reading\n\nThe original paper is \"Attention Is All You Need\" by Vaswani et al., 2017.\n")
    units = parse_document(doc, "notes.md")
    assert not [u for u in units if u.kind == BOILERPLATE]
    assert any("Vaswani" in u.text and u.kind == PROSE for u in units)


def test_a_sources_toml_entry_for_a_missing_file_is_a_warning(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "x.txt").write_text("1. What is X?\nX is Y.\n")
    (corpus / "sources.toml").write_text('["X.txt"]\nlabel = "Mine"\n["gone.md"]\nlabel = "Old"\n')
    c = read_corpus(corpus)
    assert [d.label for d in c.documents] == ["x"]  # the entry did not apply: it names another file
    assert c.warnings == ["sources.toml: ['X.txt'] names no file of the folder (file names are case-sensitive: "
                          "'x.txt'?)", "sources.toml: ['gone.md'] names no file of the folder"]
