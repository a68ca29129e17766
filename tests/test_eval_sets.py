"""The question sets are well formed: every gold string can match, ids are unique."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.evaluate import load_questions, normalise

ROOT = Path(__file__).resolve().parent.parent
SETS = sorted((ROOT / "eval").glob("*.jsonl"))
# labelled sentences and labelled practice answers, not questions with gold passages
SETS = [p for p in SETS if p.name not in ("answers.jsonl", "practice.jsonl", "practice_independent.jsonl")]


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_gold_strings_occur_in_their_sources(path):
    # own_docs.jsonl, unseen_docs.jsonl and tune_docs.jsonl ask about the bundled five plus
    # the documents in eval/own_docs/, eval/unseen_docs/ and eval/tune_docs/
    files = [*(ROOT / "corpus").glob("*.txt"), *(ROOT / "eval" / "own_docs").glob("*.*"),
             *(ROOT / "eval" / "unseen_docs").glob("*.*"), *(ROOT / "eval" / "tune_docs").glob("*.*")]
    texts = {p.name: normalise(p.read_text(encoding="utf-8")) for p in files}
    rows = load_questions(path)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for r in rows:
        assert r["answerable"] == bool(r["gold"]), r["id"]
        for g in r["gold"]:
            assert g["source"] in texts, (r["id"], g["source"])
            assert any(normalise(a) in texts[g["source"]] for a in g["any"]), r["id"]


def test_the_held_out_and_tuning_sets_exist():
    names = {p.name for p in SETS}
    assert {"dev.jsonl", "paraphrase.jsonl", "everyday.jsonl", "unseen.jsonl", "tune.jsonl"} <= names
