"""The parser on the five bundled documents and on small documents written here."""

from __future__ import annotations

import pytest

from ingest.corpus import load_corpus
from ingest.parse import BOILERPLATE, INTRO, PROSE, QA, parse_document
from tests.conftest import CORPUS

DOCS = {d.source: d for d in load_corpus(CORPUS)}

EXPECTED = [
    # file, questions, sections, sample (section, number, title)
    ("000_4ab14a2e9b84814d.txt", 13, {"Basic": 6, "Advanced": 7}, [
        ("Basic", 1, "What is Deep Learning?"),
        ("Basic", 6, "Explain the following three variants of gradient descent: batch, stochastic and mini-batch?"),
        ("Advanced", 7, "What are the benefits of Mini-Batch Gradient Descent?"),
        ("Advanced", 13, "What is the Role of the Activation Function?"),
    ]),
    ("001_52d4fbde0eb810a1.txt", 30, {"Intermediate-Level": 15, "Advance-Level": 15}, [
        ("Intermediate-Level", 1, "What is Deep Learning and how is it different from Machine Learning?"),
        ("Intermediate-Level", 15, "What is a learning rate and how does it impact the training of neural networks?"),
        ("Advance-Level", 1, "What are the primary differences between deep learning and traditional machine learning?"),
        ("Advance-Level", 15, "Explain the significance of the loss function in training neural networks."),
    ]),
    ("002_ee6c0078dbc8d3dd.txt", 20, {None: 20}, [
        (None, 1, "Explain the vanishing and exploding gradient problems. How can they be mitigated?"),
        (None, 14, "Explain the term “word embedding” and its significance in natural language processing."),
        (None, 20, "Explain the concept of “self-attention” and its importance in Transformer models."),
    ]),
    ("003_5c83a72077dff821.txt", 62, {None: 62}, [
        (None, 3, "What is a Neural Network and Artificial Neural Network (ANN)?"),
        (None, 13, "What is the difference between Shallow Networks and Deep Networks?"),
        (None, 46, "Difference between RNN, LSTM and GRU"),
        (None, 62, "What is the Difference Between Transfer Learning and Fine-Tuning?"),
    ]),
    ("004_72fcb9cbaed1c214.txt", 9, {None: 9}, [
        (None, 1, "What is the difference between AI, Machine Learning, and Deep Learning?"),
        (None, 2, "What is a neural network?"),
        (None, 3, "What is the idea behind the GANs?"),
        (None, 9, "What is the difference between overfitting and underfitting?"),
    ]),
]


@pytest.mark.parametrize("source,count,sections,samples", EXPECTED, ids=[e[0][:3] for e in EXPECTED])
def test_question_counts_sections_and_titles(source, count, sections, samples):
    units = parse_document(DOCS[source].text, source)
    qa = [u for u in units if u.kind == QA]
    assert len(qa) == count
    got_sections: dict = {}
    for u in qa:
        got_sections[u.section] = got_sections.get(u.section, 0) + 1
    assert got_sections == sections
    by_key = {(u.section, u.qnum): u.title for u in qa}
    for section, num, title in samples:
        assert by_key[(section, num)] == title
    # Numbering runs on by one within each section (it may restart at 1 or continue).
    for section in sections:
        nums = [u.qnum for u in qa if u.section == section]
        assert nums == list(range(nums[0], nums[0] + len(nums))) and nums[0] in (1, 7)


def test_total_is_134():
    assert sum(sum(u.kind == QA for u in parse_document(d.text, s)) for s, d in DOCS.items()) == 134


SUBHEADINGS = [
    ("003_5c83a72077dff821.txt", 9, "**1. Input Layer:"),
    ("003_5c83a72077dff821.txt", 13, "**2. Deep Networks"),
    ("003_5c83a72077dff821.txt", 21, "**3. Mini-Batch Gradient Descent:"),
    ("003_5c83a72077dff821.txt", 47, "**1.Self-Attention Mechanism:"),
    ("003_5c83a72077dff821.txt", 59, "**8. StyleGAN:"),
]


@pytest.mark.parametrize("source,parent,line", SUBHEADINGS)
def test_subheadings_stay_inside_their_answer(source, parent, line):
    units = parse_document(DOCS[source].text, source)
    owner = [u for u in units if line in u.text]
    assert len(owner) == 1 and owner[0].kind == QA and owner[0].qnum == parent
    assert all(not u.title.endswith(":") for u in units if u.kind == QA)


@pytest.mark.parametrize("source", sorted(DOCS))
def test_offsets_exact_and_nothing_lost(source):
    text = DOCS[source].text
    units = parse_document(text, source)
    covered = [False] * len(text)
    last_end = 0
    for u in units:
        assert text[u.start : u.end] == u.text
        assert u.text == u.text.strip() and u.text
        assert u.start >= last_end, "units are ordered and do not overlap"
        last_end = u.end
        for i in range(u.start, u.end):
            covered[i] = True
    lost = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert lost == []
    assert [u.position for u in units] == list(range(len(units)))


def test_titles_and_answers_are_clean():
    for source, doc in DOCS.items():
        for u in parse_document(doc.text, source):
            if u.kind == QA:
                assert "*" not in u.title and not u.title[0].isdigit() and not u.title.startswith("Q")
                assert "*" not in u.answer
                # Only a question whose page lost its answer (003 Q8: heading only) has none.
                assert u.answer or u.text.count("\n") == 0
                assert not u.answer.startswith(("Answer:", "Ans."))


@pytest.mark.parametrize("source,needle,kind", [
    ("001_52d4fbde0eb810a1.txt", "Embark on a journey", BOILERPLATE),
    ("001_52d4fbde0eb810a1.txt", "Request for Enquiry", BOILERPLATE),
    ("001_52d4fbde0eb810a1.txt", "Multisoft Systems offers a highly flexible", BOILERPLATE),
    ("000_4ab14a2e9b84814d.txt", "Recommended Articles", BOILERPLATE),
    ("000_4ab14a2e9b84814d.txt", "18 Online Courses", BOILERPLATE),
    ("002_ee6c0078dbc8d3dd.txt", "Take that energy over to our platform", BOILERPLATE),
    ("000_4ab14a2e9b84814d.txt", "The following article provides an outline", INTRO),
    ("003_5c83a72077dff821.txt", "Deep Learning is a field of AI", INTRO),
])
def test_adverts_are_boilerplate_and_introductions_are_intro(source, needle, kind):
    units = parse_document(DOCS[source].text, source)
    assert [u.kind for u in units if needle in u.text] == [kind]


def test_in_answer_adverts_and_captions_are_not_answer_text():
    units = parse_document(DOCS["004_72fcb9cbaed1c214.txt"].text, "004")
    q2 = next(u for u in units if u.qnum == 2)
    assert "Image – Deep Neural Networks (Source)" in q2.text
    assert "(Source)" not in q2.answer and "Explore DL courses" not in q2.answer


CASES = [
    # (name, document, expected [(kind, section, qnum, title)])
    ("plain Q with Answer label", "A guide to interview questions\n\nQ1. What is X?\nAnswer:\nX is a thing.\nQ2. Why Y?\nAnswer:\nBecause.\n",
     [(INTRO, None, None, None), (QA, None, 1, "What is X?"), (QA, None, 2, "Why Y?")]),
    ("restart after section heading", "Basic Questions\n1. What is A?\nA is.\n2. What is B?\nB is.\n"
     "Advanced Questions\n1. What is C?\nC is.\n",
     [(INTRO, "Basic", None, None), (QA, "Basic", 1, "What is A?"), (QA, "Basic", 2, "What is B?"),
      (INTRO, "Advanced", None, None), (QA, "Advanced", 1, "What is C?")]),
    ("numbered sub-headings stay in the answer", "1. What are layers?\nThere are three:\n**1. Input Layer:\n"
     "**2. Hidden Layers:\n**3. Output Layer:\n2. What is a loss?\nA number.\n",
     [(QA, None, 1, "What are layers?"), (QA, None, 2, "What is a loss?")]),
    ("restart without a section heading is a sub-heading", "1. What is A?\nText.\n2. What is B?\n"
     "**1. Shallow Networks\n**2. Deep Networks\n3. What is C?\nC.\n",
     [(QA, None, 1, "What is A?"), (QA, None, 2, "What is B?"), (QA, None, 3, "What is C?")]),
    ("markdown bold numbering", "**Q1.** **What is the idea?**\n\nAns. An idea.\n\n**Q2. What**** is next?**\n\nAns. Next.\n",
     [(QA, None, 1, "What is the idea?"), (QA, None, 2, "What is next?")]),
    ("indented list items are not questions", "1. What types exist?\n  1. One\n  2. Two\n  3. Three\n"
     "2. What else?\nMore.\n",
     [(QA, None, 1, "What types exist?"), (QA, None, 2, "What else?")]),
    ("no questions at all: prose", "Just a paragraph of prose.\n\nAnd another one.\n",
     [(PROSE, None, 1, "Just a paragraph of prose.")]),
    ("outro after the last answer", "1. What is A?\nA is.\n\nRecommended Articles\nSee also: stuff\n",
     [(QA, None, 1, "What is A?"), (BOILERPLATE, None, None, None)]),
]


@pytest.mark.parametrize("name,doc,expected", CASES, ids=[c[0] for c in CASES])
def test_small_documents(name, doc, expected):
    units = parse_document(doc, "t.txt")
    assert [(u.kind, u.section, u.qnum, u.title) for u in units] == expected
    for u in units:
        assert doc[u.start : u.end] == u.text


def test_answer_label_removed_and_text_kept():
    units = parse_document("Q1. What is X?\nAnswer:\nX is a thing.\n", "t.txt")
    assert units[0].answer == "X is a thing."
    units = parse_document("**Q1.** **What?**\n\nAns. It is so.\n", "t.txt")
    assert units[0].answer == "It is so."


def test_crlf_offsets_still_exact():
    doc = "Intro.\r\n\r\n1. What is A?\r\nA is.\r\n2. What is B?\r\nB.\r\n"
    units = parse_document(doc, "t.txt")
    assert [u.qnum for u in units if u.kind == QA] == [1, 2]
    assert all(doc[u.start : u.end] == u.text for u in units)
