"""Practice mode: grading against the real index, question picking, the SQLite history,
``rag practice`` through its real entry point (JSON and the interactive loop through
stdin), and the Practice page with AppTest. The full round in a real browser is in
tests/test_browser.py.

Each history test gets its own data directory (``RAG_HOME``) with ``RAG_INDEX`` pointing
at the session index, so attempts never leak between tests.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections import Counter

import pytest

from rag.errors import UserError
from tests.conftest import CORPUS, ROOT, share_model

DROPOUT = "What is dropout?"
L1L2 = "What is the difference between L1 and L2 regularization?"


def file_text(source: str) -> str:
    return (CORPUS / source).read_bytes().decode("utf-8")


@pytest.fixture(scope="module")
def tmap(pipeline):
    return pipeline.topics()


@pytest.fixture()
def own_home(tmp_path, rag_home, build_report, local_models):
    """A data directory of its own, reading the session index and sharing its model."""
    return {"RAG_HOME": str(share_model(tmp_path / "home", local_models)), "RAG_INDEX": str(rag_home / "index")}


# --------------------------------------------------------------------------- contradiction


@pytest.mark.parametrize(("claim", "passage", "expected"), [
    ("RNNs have no memory of previous inputs.", "RNNs have a memory of previous inputs.", True),
    ("L1 gives dense weights.", "This can make some weights zero.", True),
    ("Dropout is used at inference time.", "During training, some neurons are randomly turned off.", True),
    ("Pooling layers increase the size of the data.", "Pooling layers reduce the size of the data.", True),
    ("Max pooling takes the average value.", "Max pooling takes the maximum value in each window.", True),
    ("Transformers process tokens one at a time.", "It processes sequences in parallel.", True),
    ("Activation functions make the network linear.", "They introduce non-linearity into the network.", True),
    # a comparison turned round, roles swapped around "instead of", a denial in other words
    ("Mini-batch updates are faster than SGD.", "Faster than batch, slower than SGD.", True),
    ("It keeps the sum of squared gradients instead of a moving average.",
     "It uses a moving average of squared gradients instead of the sum.", True),
    ("Long sequences are hard to capture for this model.", "The model can capture long sequences efficiently.", True),
    ("The learning rate keeps growing during training.", "The learning rate keeps decreasing during training.", True),
    ("LSTMs were built to fix exploding gradients.", "LSTMs were built to fix vanishing gradients.", True),
    ("By default the stride is 2.", "By default, stride = 1, so the kernel moves one cell at a time.", True),
    ("Gradients past the threshold are scaled up.", "If the gradient exceeds the threshold, it is scaled down.", True),
    ("It maps a signal from frequency to time.", "It transforms a function of time to a function of frequency.", True),
    ("The fully connected layers come first in the network.",
     "Fully connected layers, typically at the end of the network, perform classification.", True),
    ("The weights stay fixed during training.", "These weights are adjusted during training to minimize error.", True),
    ("An MLP is a recurrent network.", "A multilayer perceptron is a type of feedforward neural network.", True),
    ("Each step follows the positive gradient.", "It moves along the negative of the gradient.", True),
    ("The step goes in the same direction as the gradient.", "The step is taken opposite to the gradient.", True),
    ("The weights are fixed when the network is built.", "The weights are learnable parameters.", True),
    # agreeing sentences, including negations on both sides and "instead of" / "stops"
    ("Dropout is applied to the hidden layers.", "Dropout is applied to the hidden layers and not to the input "
                                                 "or output layers.", False),
    ("It stops the network relying on a few neurons.", "It forces the network to learn robust features, instead of "
                                                       "relying too much on a few neurons.", False),
    ("Overfitting models can't generalize to new data.", "An overfit model can’t generalize to new data.", False),
    ("It is useful when you don't have enough data to train from scratch.",
     "Useful when the dataset is insufficiently large to train a model from scratch.", False),
    ("Batch normalization speeds up training.", "It helps the model learn faster.", False),
    ("Per update it is slower than SGD.", "Faster than batch, slower than SGD.", False),
    ("It uses a moving average instead of the sum.", "It uses a moving average of squared gradients instead of the sum.",
     False),
    ("It turns a function of time into one of frequency.", "It transforms a function of time to a function of "
                                                           "frequency.", False),
    ("A 3 by 3 kernel is common.", "Kernels are often 3 x 3 or 5 x 5.", False),
    ("The weights are updated during training.", "The weights are adjusted during training.", False),
    ("Each step follows the negative gradient.", "It moves along the negative of the gradient.", False),
    # the same words in other senses (a second read found these)
    ("A positive gradient means the weight should decrease.", "It moves along the negative of the gradient.", False),
    ("The weights are updated with the same rule in every iteration.",
     "It moves in the opposite direction of the gradient.", False),
    ("W, U and V are the same at every time step and learned by backpropagation.",
     "W, U, V, b and c are the learnable parameters.", False),
    ("Unlike feedforward networks, RNNs feed their output back.", "RNNs have loops, unlike feedforward networks.",
     False),
])
def test_contradiction_table(claim, passage, expected):
    from rag.practice import contradicts

    assert contradicts(claim, passage) is expected


def test_question_subject_reads_the_frame_off():
    from rag.practice import question_subject

    assert question_subject("How do GANs work?") == "GANs"
    assert question_subject("What is an activation function and why is it needed?") == "activation function"
    assert question_subject("Why is weight initialization important?") == "weight initialization"
    assert question_subject("Explain dropout and its role in neural networks.") == "dropout"
    assert question_subject("What is data normalization, and why do we need it?") == "data normalization"
    assert question_subject("What are the limitations of using mean squared error?") == "mean squared error"


@pytest.mark.parametrize(("line", "header"), [
    ("Aspect Batch Gradient Descent Stochastic Gradient Descent (SGD)", True),
    ("Feature Object Detection Image Segmentation", True),
    ("Output Bounding boxes with class labels.", False),
    ("Definition Identifies objects and their locations in an image.", False),
    ("Speed Very slow for large datasets Very fast per update", False),
])
def test_a_table_header_row_is_not_a_point(line, header):
    from rag.text import is_header_row

    assert is_header_row(line) is header


# --------------------------------------------------------------------------- grading


def test_points_are_cited_to_exact_passages_and_grouped_across_sources(pipeline):
    from rag.practice import prepare

    ex = prepare(pipeline, "What is batch normalization?")
    assert 3 <= len(ex.points) and len(ex.sources) == 3
    assert len(ex.points[0].sources) == 3  # "normalizes the inputs of each layer": every source says it
    assert [len(p.sources) for p in ex.points] == sorted((len(p.sources) for p in ex.points), reverse=True)
    for point in ex.points:
        assert len(point.quotes) == len(point.sources) == len(set(point.sources))
        for passage, quote in point.quotes:
            assert passage.source in ex.sources
            assert file_text(passage.source)[passage.start:passage.end] == passage.text
            assert " ".join(quote.split()) in " ".join(passage.answer.split())


@pytest.mark.parametrize("question", [DROPOUT, "What is batch normalization?"])
def test_a_copied_answer_covers_its_source_and_nothing_is_unsupported(pipeline, question):
    from rag.practice import grade, prepare

    ex = prepare(pipeline, question)
    source = ex.points[0].quotes[0][0]  # the passage that makes the most-shared point
    answer = " ".join(q for p in ex.points for psg, q in p.quotes if psg == source)
    fb = grade(pipeline, ex, answer)
    assert fb.unsupported == ()
    own = [r for r in fb.points if any(psg == source for psg, _ in r.point.quotes)]
    assert own and all(r.covered for r in own)
    for r in fb.covered:
        assert r.user_sentence and r.user_sentence in answer
        assert r.citations and {c.passage.source for c in r.citations} == set(r.point.sources)


def test_score_is_weighted_by_sources(pipeline):
    from rag.practice import grade

    fb = grade(pipeline, DROPOUT, "During training, dropout randomly turns off some neurons.")
    assert 0 < fb.score < 1
    total = sum(len(r.point.sources) for r in fb.points)
    assert fb.score == pytest.approx(sum(len(r.point.sources) for r in fb.covered) / total)
    assert any(len(r.point.sources) > 1 for r in fb.covered)  # the shared point counts double


@pytest.mark.parametrize(("question", "wrong"), [
    (DROPOUT, "Dropout is used at inference time to make predictions faster."),
    (DROPOUT, "Dropout is mostly applied to the output layer."),
    (L1L2, "L1 gives dense weights where no weight is ever zero."),
    ("What is a recurrent neural network?", "RNNs process every input independently and have no memory of "
                                            "previous inputs."),
    ("What is a pooling layer?", "Pooling layers increase the size of the feature maps so no information is lost."),
    ("What is backpropagation?", "Backpropagation was invented by Google in 2015 for transformers."),
])
def test_wrong_or_off_source_claims_are_not_in_the_sources(pipeline, question, wrong):
    from rag.practice import grade, prepare

    ex = prepare(pipeline, question)
    first = ex.points[0].quotes[0][1]  # a true sentence next to the wrong one
    fb = grade(pipeline, ex, f"{first} {wrong}")
    assert wrong in fb.unsupported
    assert first not in fb.unsupported
    assert all(r.user_sentence != wrong for r in fb.points)


@pytest.mark.parametrize(("question", "swapped"), [
    ("How do GANs work?", "The discriminator generates the fake images while the generator classifies them as real "
                          "or fake."),
    (L1L2, "L2 is the one that sets weights to zero."),
])
def test_swapped_roles_cover_nothing(pipeline, question, swapped):
    """Saying of one part what the sources say of its counterpart reads like the passage
    word for word; it must cover nothing. (It is called "not in the sources" only on
    one-sided evidence, below: a right sentence can borrow the other part's words.)"""
    from rag.practice import grade, prepare

    ex = prepare(pipeline, question)
    fb = grade(pipeline, ex, swapped)
    assert fb.covered == ()
    # the same words with the parts the right way round are in the sources
    right = swapped.replace("discriminator", "@").replace("generator", "discriminator").replace("@", "generator") \
        .replace("L2", "L1")
    fixed = grade(pipeline, ex, right)
    assert right not in fixed.unsupported and fixed.covered


def test_a_contrast_of_two_sibling_terms_covers_the_points_of_each(pipeline):
    """One sentence about supervised and unsupervised learning, joined by ';': each clause
    covers its own points and the contrast is not read as a contradiction; a sentence
    about unsupervised learning alone does not cover supervised learning's points."""
    from rag.practice import grade, prepare

    ex = prepare(pipeline, "What is unsupervised learning?")
    answer = ("In supervised learning every training example comes with a label, and it's used for classification "
              "and regression; in unsupervised learning there are no labels and the model looks for structure on "
              "its own.")
    fb = grade(pipeline, ex, answer)
    assert fb.unsupported == ()
    covered = " ".join(r.point.text for r in fb.covered)
    assert "In supervised learning, the model is trained on labeled data" in covered
    assert "Unsupervised Learning: No labels are provided." in covered
    only = grade(pipeline, ex, "Unsupervised learning uses data without labels.")
    assert not any(r.point.text.startswith("In supervised learning") for r in only.covered)
    assert only.unsupported == ()


def test_on_topic_words_do_not_cover_a_point(pipeline):
    from rag.practice import grade

    fb = grade(pipeline, "What is batch normalization?",
               "Batch normalization is a phrase I have read in many deep learning papers about neural networks.")
    assert fb.covered == ()
    assert fb.score == 0


def test_question_the_sources_do_not_cover(pipeline):
    from rag.practice import grade

    fb = grade(pipeline, "Who wrote Pride and Prejudice?", "Jane Austen wrote it in 1813.")
    assert fb.refused and fb.points == () and fb.score is None
    assert fb.to_json()["score"] is None


@pytest.mark.parametrize("answer", ["", "   \n ", "x" * 5001])
def test_empty_or_huge_answer_is_a_user_error(pipeline, answer):
    from rag.practice import grade

    with pytest.raises(UserError):
        grade(pipeline, DROPOUT, answer)


# --------------------------------------------------------------------------- picking


def test_pick_by_topic_and_source(pipeline, tmap):
    from rag.practice import find_topic, pick_question

    name = find_topic(tmap, "dropout")
    q = pick_question(tmap, topic="dropout", rng=random.Random(1))
    assert q.topic == name and "dropout" in q.text.lower()
    gfg = pipeline.retriever.resolve_sources(["GeeksforGeeks"])
    by_id = {p.id: p for p in pipeline.index.passages}
    for seed in range(10):
        q = pick_question(tmap, sources=gfg, rng=random.Random(seed))
        assert by_id[q.passage_id].source == gfg[0]
    assert set(vars(q)) == {"text", "topic", "sources", "passage_id"}  # nothing of the answer
    with pytest.raises(UserError, match="not a topic"):
        find_topic(tmap, "astrology")


def test_picking_prefers_questions_several_sources_answer(tmap):
    from rag.practice import pick_question, practice_questions

    pool = practice_questions(tmap)
    share_in_pool = sum(len(q.sources) >= 3 for q in pool) / len(pool)
    rng = random.Random(7)
    picks = Counter(len(pick_question(tmap, rng=rng).sources) >= 3 for _ in range(400))
    assert picks[True] / 400 > share_in_pool + 0.15


def test_picking_avoids_the_last_question(tmap):
    from rag.practice import pick_question

    rng = random.Random(3)
    first = pick_question(tmap, topic="dropout", rng=rng)
    assert all(pick_question(tmap, topic="dropout", rng=rng, avoid=(first.text,)).text != first.text
               for _ in range(20))


# --------------------------------------------------------------------------- history


def test_history_survives_reopening_and_ranks_weakest_first(tmp_path):
    from rag.history import History

    h = History.for_home(tmp_path)
    h.record("What is dropout?", "Dropout", 0.8)
    h.record("What is a GRU?", "GRU", 0.2)
    h.record("How does dropout work?", "Dropout", 0.4)
    again = History.for_home(tmp_path)  # a new process opens the same file
    assert [a.question for a in again.attempts()] == ["How does dropout work?", "What is a GRU?", "What is dropout?"]
    stats = again.topics()
    assert [s.topic for s in stats] == ["GRU", "Dropout"]
    assert stats[1].attempts == 2 and stats[1].mean_score == pytest.approx(0.6) and stats[1].last_score == 0.4
    assert again.reset() == 3 and again.attempts() == [] and History.for_home(tmp_path).topics() == []


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_history_is_kept_aside_and_reset(tmp_path, damage):
    from rag.history import History, history_path

    h = History.for_home(tmp_path)
    for i in range(200):
        h.record(f"question {i}", "Dropout", i / 200)
    path = history_path(tmp_path)
    good = path.read_bytes()
    bad = b"this is not a database " * 50 if damage == "garbage" else good[: len(good) // 2]
    path.write_bytes(bad)
    fresh = History.for_home(tmp_path)
    assert fresh.notice and "moved to practice.sqlite.corrupt-" in fresh.notice
    backups = list(tmp_path.glob("practice.sqlite.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == bad  # the user's file, byte for byte
    assert fresh.attempts() == []
    fresh.record("What is a GRU?", "GRU", 0.5)
    assert [a.question for a in History.for_home(tmp_path).attempts()] == ["What is a GRU?"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_history_in_an_unwritable_place_is_a_user_error(tmp_path):
    from rag.history import History

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(UserError, match="practice history"):
        History.for_home(blocker / "home")


# --------------------------------------------------------------------------- CLI


def test_cli_json_schema(run_cli, cli_env, own_home):
    env = dict(cli_env, **own_home)
    r = run_cli("practice", "--question", L1L2, "--answer",
                "L1 adds the sum of the absolute values of the weights as a penalty. L1 gives dense weights.",
                "--json", env=env)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert {"question", "points", "unsupported", "score"} <= set(data)
    assert data["question"] == L1L2 and 0 < data["score"] < 1
    # a contradicted sentence carries the passage sentence that says otherwise
    assert [u["text"] for u in data["unsupported"]] == ["L1 gives dense weights."]
    # (after the sentence before it: "This can make …" alone does not say what "This" is)
    assert data["unsupported"][0]["contradicts"]["sentence"].endswith(
        "absolute values. This can make some weights zero, effectively removing less important features.")
    covered = [p for p in data["points"] if p["covered"]]
    assert covered and all(p["user_sentence"] for p in covered)
    assert all(p["user_sentence"] is None for p in data["points"] if not p["covered"])
    for p in data["points"]:
        assert {"text", "sources", "covered", "citations", "user_sentence"} <= set(p)
        assert p["citations"] and {c["source"] for c in p["citations"]} == set(p["sources"])
        for c in p["citations"]:
            assert file_text(c["source"])[c["start"]:c["end"]] == c["text"]
            assert " ".join(c["quote"].split()) in " ".join(c["text"].split())
    from rag.history import History

    assert [a.question for a in History.for_home(own_home["RAG_HOME"]).attempts()] == [L1L2]


def test_cli_interactive_loop_through_stdin(run_cli, cli_env, own_home):
    env = dict(cli_env, **own_home)
    stdin = ("During training, dropout randomly turns off some neurons.\nIt is used at inference time too.\n\n"
             "\n"  # Enter: another question
             "I am not sure about this one, it is about neural networks.\n\n"
             "q\n")
    r = run_cli("practice", "--topic", "dropout", stdin=stdin, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("Question (Dropout;") == 2
    assert r.stdout.count("Score: ") == 2 and "Not in the sources" in r.stdout
    assert "It is used at inference time too." in r.stdout.split("Not in the sources")[1]
    from rag.history import History

    attempts = History.for_home(own_home["RAG_HOME"]).attempts()
    assert len(attempts) == 2 and {a.topic for a in attempts} == {"Dropout"}
    asked = [line.strip() for line in r.stdout.splitlines() if line.startswith("  ")][:1]
    assert asked and attempts[-1].question == asked[0]


def test_cli_end_of_input_ends_the_loop_quietly(run_cli, cli_env, own_home):
    r = run_cli("practice", stdin="", env=dict(cli_env, **own_home))
    assert r.returncode == 0 and "Question (" in r.stdout and "Traceback" not in r.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("--json",), "--json needs --question and --answer"),
    (("--answer", "Dropout turns off neurons."), "--answer needs --question"),
    (("--question", DROPOUT, "--answer", "  "), "the answer is empty"),
    (("--topic", "astrology"), "is not a topic"),
    (("--question", " ", "--answer", "x"), "the question is empty"),
])
def test_cli_errors_are_one_line(run_cli, cli_env, own_home, args, message):
    r = run_cli("practice", *args, stdin="", env=dict(cli_env, **own_home))
    assert r.returncode == 1, r.stdout
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_cli_reports_and_resets_a_corrupt_history(run_cli, cli_env, own_home):
    from pathlib import Path

    home = Path(own_home["RAG_HOME"])
    (home / "practice.sqlite").write_bytes(b"\x00garbage" * 100)
    r = run_cli("practice", "-q", DROPOUT, "-a", "Dropout turns off random neurons during training.", "--json",
                env=dict(cli_env, **own_home))
    assert r.returncode == 0, r.stderr
    assert "practice history was damaged" in r.stderr and json.loads(r.stdout)["score"] > 0
    assert len(list(home.glob("practice.sqlite.corrupt-*"))) == 1


def test_cli_practises_without_a_writable_history(run_cli, cli_env, own_home, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = dict(cli_env, **dict(own_home, RAG_HOME=str(blocker / "home")))
    r = run_cli("practice", "-q", DROPOUT, "-a", "Dropout turns off random neurons during training.", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert "attempts will not be saved" in r.stderr and json.loads(r.stdout)["points"]


# --------------------------------------------------------------------------- the page

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
APP = str(ROOT / "ui" / "app.py")


@pytest.fixture()
def page(monkeypatch, own_home):
    for k, v in own_home.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("RAG_CORPUS", str(CORPUS))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.radio(key="generator").set_value("extractive").run()
    at.switch_page("views/practice.py").run()
    assert not at.exception, at.exception
    return at


def _submit(at, answer: str):
    at.text_area(key="practice_answer").set_value(answer)
    next(b for b in at.button if b.label == "Check my answer").click().run()
    assert not at.exception, at.exception
    return at.session_state.practice_feedback


def test_page_round_with_feedback_history_and_sources(page, own_home, pipeline):
    at = page
    at.selectbox(key="practice_topic").set_value("Dropout").run()
    assert at.session_state.practice_question["topic"] == "Dropout"  # choosing a topic asks one of it
    next(b for b in at.button if b.label == "New question").click().run()
    asked = at.session_state.practice_question
    assert asked["topic"] == "Dropout" and at.subheader[0].value == asked["text"]
    from rag.practice import prepare

    shown = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert 'class="practice-point' not in shown  # nothing of the answer before submitting
    assert not any(p.text in shown for p in prepare(pipeline, asked["text"]).points)
    fb = _submit(at, "During training, dropout randomly turns off some neurons. Dropout is used at inference "
                     "time to make predictions faster.")
    assert fb.question == asked["text"] and fb.covered and fb.missed
    html = " ".join(m.value for m in at.markdown)
    assert "Score:" in html and 'class="practice-point covered"' in html and 'class="practice-point missed"' in html
    assert "Dropout is used at inference time to make predictions faster." in html  # not in the sources
    assert "The sources say otherwise" not in html  # (nothing contradicts it: it is only not said)
    assert 'class="cite"' in html and any(e.label.startswith("[1]") for e in at.expander)
    assert "practice-final" in html
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "**Dropout**" in sidebar
    next(b for b in at.button if b.label == "Show the sources' answers").click().run()
    assert any("sources answer" in h.value for h in at.subheader)
    from rag.history import History

    assert [a.question for a in History.for_home(own_home["RAG_HOME"]).attempts()] == [asked["text"]]
    next(b for b in at.button if b.label == "Reset practice history").click().run()
    assert not at.exception and History.for_home(own_home["RAG_HOME"]).attempts() == []
    assert any("No attempts yet" in c.value for c in at.sidebar.caption)


def test_page_picks_from_the_sidebar_sources(page, pipeline):
    page.sidebar.multiselect(key="sources").set_value(["Nathan Rosidi"]).run()
    asked_by: dict[str, set[str]] = {}
    for p in pipeline.index.passages:
        if p.title:
            asked_by.setdefault(p.title.strip(), set()).add(p.source[:3])
    for _ in range(3):
        next(b for b in page.button if b.label == "New question").click().run()
        assert not page.exception
        assert "002" in asked_by[page.session_state.practice_question["text"]]


def test_page_empty_answer_is_a_message(page):
    page.text_area(key="practice_answer").set_value("   ")
    next(b for b in page.button if b.label == "Check my answer").click().run()
    assert not page.exception
    assert any("answer is empty" in w.value for w in page.warning)


def test_page_reports_a_corrupt_history(monkeypatch, own_home):
    from pathlib import Path

    home = Path(own_home["RAG_HOME"])
    (home / "practice.sqlite").write_bytes(b"SQLite format 3\x00" + b"\xff" * 3000)
    for k, v in own_home.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("RAG_CORPUS", str(CORPUS))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("views/practice.py").run()
    assert not at.exception, at.exception
    assert any("practice history was damaged" in w.value for w in at.warning)
    assert len(list(home.glob("practice.sqlite.corrupt-*"))) == 1
    fb = _submit(at, "Some answer about neural networks and their training.")
    assert fb is not None and not at.exception


# --------------------------------------------------------------------------- written feedback


def _first_passage_sentence(messages) -> str:
    import re

    body = re.search(r"<<<(.*?)>>>", messages[-1]["content"], re.S).group(1)
    return re.split(r"(?<=[.!?])\s+", body.strip())[0]


@pytest.fixture()
def stand_in_model(monkeypatch):
    """A stand-in for the local model (the real one is too slow for a page test): ``mode``
    picks a reply that restates a passage sentence, or one the passages do not support."""
    import rag.generate as gen

    state = {"calls": 0, "mode": "grounded"}

    def backend(messages, settings, max_tokens, temperature=0.1):
        state["calls"] += 1
        if state["mode"] == "grounded":
            text = f"Your answer did not mention that {_first_passage_sentence(messages)} [1]"
        else:
            text = "You explained it well. Dropout was invented in 1850 by Charles Darwin. [1]"
        for word in text.split(" "):
            yield word + " "

    monkeypatch.setattr(gen, "local_available", lambda: True)
    monkeypatch.setitem(gen._BACKENDS, "local", backend)
    return state


def test_written_feedback_is_checked(pipeline, stand_in_model):
    from rag.practice import grade, model_feedback

    fb = grade(pipeline, DROPOUT, "Dropout turns off random neurons during training.")
    written = model_feedback(pipeline, fb, "local")
    assert written.generator == "local" and written.text.startswith("Your answer did not mention that")
    assert written.citations and written.sentences[0].cites == (1,)
    stand_in_model["mode"] = "invented"
    written = model_feedback(pipeline, fb, "local")
    assert written.generator == "extractive" and not written.text
    assert "not supported by the sources" in written.notices[0]
    # the invented claim is reported with its reason; the praise is a connective
    assert [x.text for x in written.left_out] == ["Dropout was invented in 1850 by Charles Darwin."]
    assert "1850" in written.left_out[0].reason
    assert model_feedback(pipeline, fb, "extractive").text == "" and stand_in_model["calls"] == 2


def test_page_streams_written_feedback_after_the_points(monkeypatch, own_home, stand_in_model):
    for k, v in own_home.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("RAG_CORPUS", str(CORPUS))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.radio(key="generator").set_value("local").run()
    at.switch_page("views/practice.py").run()
    _submit(at, "It is a technique used in neural networks during training.")
    assert stand_in_model["calls"] == 1
    html = " ".join(m.value for m in at.markdown)
    assert html.index("practice-final") < html.index('class="written"')
    assert "Your answer did not mention that" in html


def test_a_right_sentence_borrowing_the_other_parts_words_is_not_called_unsupported(pipeline):
    """A second read: "produce fake samples that look real" shares more words with the
    discriminator's sentence than with the generator's; it is still not "not in the sources"."""
    from rag.practice import grade, prepare

    ex = prepare(pipeline, "How do GANs work?")
    right = "The generator tries to produce fake samples that look real."
    assert right not in grade(pipeline, ex, right).unsupported


@pytest.mark.parametrize(("question", "swapped"), [
    ("How do GANs work?", "The generator tries to spot which samples are fake."),
    (L1L2, "L2 is the one that sets weights to zero."),
])
def test_a_swap_on_one_sided_evidence_is_not_in_the_sources(pipeline, question, swapped):
    """A swapped sentence that uses a word the passages use only of the other part, and
    none they use only of its own, is called "not in the sources"."""
    from rag.practice import grade, prepare

    ex = prepare(pipeline, question)
    fb = grade(pipeline, ex, swapped)
    assert swapped in fb.unsupported and fb.covered == ()


@pytest.mark.parametrize(("question", "crossed", "straight"), [
    ("What is Gradient Descent and its Variants?",
     "A large learning rate makes training extremely slow, while a very small learning rate can overshoot the minimum.",
     "A large learning rate can overshoot the minimum, while a very small learning rate makes training extremely slow."),
    ("Explain Long Short-Term Memory (LSTM) networks.",
     "The input gate decides what to discard from the previous cell state, while the forget gate decides what new "
     "information to add to the cell state.",
     "The forget gate decides what to discard from the previous cell state, while the input gate decides what new "
     "information to add to the cell state."),
    ("What is the Transformer model?",
     "It has two main parts: the decoder, which reads the input, and the encoder, which produces the output.",
     "It has two main parts: the encoder, which reads the input, and the decoder, which produces the output."),
    # the terms need not open their clauses
    ("What is Gradient Descent and its Variants?",
     "If the learning rate is too small, the model can overshoot the minimum, whereas a large learning rate makes "
     "training extremely slow.",
     "If the learning rate is too large, the model can overshoot the minimum, whereas a very small learning rate "
     "makes training extremely slow."),
])
def test_two_parts_crossed_in_one_sentence_are_not_in_the_sources(pipeline, question, crossed, straight):
    """Two counterparts' parts exchanged between the clauses of one sentence read like the
    passage word for word; crossed, the sentence is not in the sources, and the same words
    the right way round are."""
    from rag.practice import grade, prepare

    ex = prepare(pipeline, question)
    assert crossed in grade(pipeline, ex, crossed).unsupported
    right = grade(pipeline, ex, straight)
    assert straight not in right.unsupported and right.covered


@pytest.mark.parametrize(("history", "flagged"), [
    ("Dropout, which randomly turns off neurons during training, became popular in 2014.", True),  # a date
    ("Dropout, which randomly turns off neurons during training, was proposed by Srivastava.", True),  # a name
    ("Dropout, which randomly turns off neurons during training, is built into Keras layers.", True),
    ("Dropout randomly turns off neurons during training, Also it reduces overfitting.", False),  # a stray capital
    ("Dropout randomly turns off 1,024 neurons during training of a batch of 2048.", False),  # numbers, not years
])
def test_history_the_sources_do_not_tell_is_not_in_the_sources(pipeline, history, flagged):
    """A year or a name that no covering passage has, and no source uses, is not in the
    sources, even in a sentence that restates a point."""
    from rag.practice import _foreign, prepare

    ex = prepare(pipeline, DROPOUT)
    assert _foreign(history, ex.evidence, pipeline.retriever.vocab) is flagged


def test_history_is_listed_as_not_in_the_sources(pipeline):
    from rag.practice import grade, prepare

    ex = prepare(pipeline, DROPOUT)
    history = "Dropout, which randomly turns off neurons during training, was introduced by Srivastava in 2014."
    right = "Dropout randomly turns off neurons during training."
    fb = grade(pipeline, ex, f"{right} {history}")
    assert history in fb.unsupported and right not in fb.unsupported



def test_the_page_shows_what_says_otherwise(page):
    page.session_state.practice_question = {"text": DROPOUT, "topic": "Dropout"}
    page.run()
    fb = _submit(page, "Dropout randomly turns off neurons during training. At test time dropout is also applied "
                       "to make predictions faster.")
    _, said = fb.contradiction("At test time dropout is also applied to make predictions faster.")
    html = " ".join(m.value for m in page.markdown)
    assert "The sources say otherwise" in html and said[:40] in html


def test_a_sentence_the_sources_contradict_is_shown_with_the_sentence_that_says_otherwise(pipeline, run_cli):
    """A walkthrough's answer "At test time dropout is also applied …" was listed only as
    "not in the sources"; 001 says "During inference, dropout is not applied". It is now
    shown with that sentence, in the feedback, its JSON and the terminal."""
    from rag.practice import grade

    answer = ("Dropout randomly turns off some neurons during training so the network does not overfit. "
              "At test time dropout is also applied to make predictions faster.")
    wrong = "At test time dropout is also applied to make predictions faster."
    fb = grade(pipeline, "What is dropout?", answer)
    assert wrong in fb.unsupported
    passage, said = fb.contradiction(wrong)
    assert said.startswith("During inference, dropout is not applied") and said in passage.answer
    row = next(u for u in fb.to_json()["unsupported"] if u["text"] == wrong)
    assert row["contradicts"] == {"passage": passage.ref, "source": passage.source, "start": passage.start,
                                  "sentence": said}
    assert fb.contradiction(answer.split(". ")[0] + ".") is None
    r = run_cli("practice", "-q", "What is dropout?", "-a", answer)
    assert r.returncode == 0, r.stderr
    assert "The sources say otherwise" in r.stdout and "During inference, dropout is not" in r.stdout
