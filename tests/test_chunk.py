"""Chunking: pieces fit the embedder's window and keep exact offsets."""

from __future__ import annotations

import pytest

from ingest.chunk import chunk_units
from ingest.corpus import load_corpus
from ingest.parse import parse_document
from tests.conftest import CORPUS


def words(text: str) -> int:
    return len(text.split())


def test_long_unit_is_split_on_boundaries_with_exact_offsets():
    body = "\n".join(f"Sentence number {i} explains one more detail of the idea." for i in range(40))
    doc = f"1. What is a long answer?\n{body}\n2. Short?\nYes.\n"
    units = parse_document(doc, "t.txt")
    chunks = chunk_units(doc, units, words, max_tokens=60)
    long = [c for c in chunks if c.qnum == 1]
    assert len(long) > 1 and [c.part for c in long] == list(range(len(long)))
    assert all(c.parts == len(long) for c in long)
    for c in chunks:
        assert doc[c.start : c.end] == c.text
        assert words(c.embed_text) <= 60
        assert c.embed_text.startswith(c.title)  # every piece carries its question
    # pieces tile the unit in order without overlap
    assert long[0].start == units[0].start and long[-1].end == units[0].end
    assert all(a.end <= b.start for a, b in zip(long, long[1:]))


def test_one_overlong_sentence_falls_back_to_word_windows():
    doc = "1. What?\n" + " ".join(["word"] * 200) + "\n"
    chunks = chunk_units(doc, parse_document(doc, "t.txt"), words, max_tokens=50)
    assert len(chunks) >= 4 and all(words(c.embed_text) <= 50 for c in chunks)
    assert all(doc[c.start : c.end] == c.text for c in chunks)


@pytest.fixture(scope="module")
def counter():
    from tokenizers import Tokenizer

    from ingest.build import model_path

    tok = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
    tok.no_truncation()
    return lambda t: len(tok.encode(t, add_special_tokens=False).ids)


def test_real_corpus_chunks_fit_minilm_window(counter):
    total = 0
    for doc in load_corpus(CORPUS):
        units = parse_document(doc.text, doc.source)
        chunks = chunk_units(doc.text, units, counter)
        total += len(chunks)
        for c in chunks:
            assert doc.text[c.start : c.end] == c.text
            assert counter(c.embed_text) <= 254
        assert {c.unit for c in chunks} == {u.position for u in units}
    assert total >= 153
