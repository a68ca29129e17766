"""Answer sentences as their own vectors: what is indexed, and what it buys retrieval."""

from __future__ import annotations

import json

import numpy as np

from ingest.sentences import MIN_SENTENCE_CHARS, answer_sentences


def test_sentences_and_list_items_are_split_and_labels_dropped():
    text = "Stride is the step size. It moves the kernel (filter).\n1. Batch:\n- Max pooling keeps the largest value."
    assert answer_sentences(text) == ["Stride is the step size.", "It moves the kernel (filter).",
                                      "- Max pooling keeps the largest value."]
    assert answer_sentences("") == []
    assert all(len(s) >= MIN_SENTENCE_CHARS for s in answer_sentences("e.g. x. Yes. No. A long enough sentence."))


def test_index_holds_one_row_per_sentence_of_searchable_passages_only(index):
    rows = [json.loads(line) for line in (index.path / "sentences.jsonl").read_text(encoding="utf-8").splitlines()]
    assert index.sentences.ntotal == len(rows) == len(index.sentence_passage) > 0
    by_id = {p.id: p for p in index.passages}
    assert {by_id[r["passage"]].kind for r in rows} <= {"qa", "intro"}  # never an advert's sentence
    for r in rows[::25]:
        assert r["text"] in answer_sentences(by_id[r["passage"]].answer)


def test_sentences_change_ranking_only_never_refusal(pipeline):
    retriever = pipeline.retriever
    q = "How far does the window move at each step?"
    with_s, without = retriever.signals(q), retriever.signals(q, sentences=False)
    assert without.sentence is None and with_s.sentence is not None
    # dense (what refusal reads), title and keyword are the whole-passage signals either way
    for name in ("dense", "title", "keyword"):
        assert np.array_equal(getattr(with_s, name), getattr(without, name)), name
    assert np.all(with_s.fused >= without.fused - 1e-6)  # a sentence can only add evidence
    assert np.any(with_s.fused > without.fused + 1e-6)


def test_one_point_of_a_long_passage_finds_that_passage(pipeline):
    """A middle sentence of a long answer, asked on its own, ranks its passage first far
    more often with sentence vectors than with whole passages only (measured 34/35 vs 20/35)."""
    retriever = pipeline.retriever
    on = off = total = 0
    for p in pipeline.index.passages:
        sentences = answer_sentences(p.answer) if p.kind == "qa" else []
        if len(sentences) < 5 or len(sentences[len(sentences) // 2].split()) < 8:
            continue
        probe = sentences[len(sentences) // 2]
        total += 1
        on += int(np.argmax(retriever.signals(probe).fused)) == p.id
        off += int(np.argmax(retriever.signals(probe, sentences=False).fused)) == p.id
    assert total >= 20
    assert on >= 0.9 * total and on > off
