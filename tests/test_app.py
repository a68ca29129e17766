"""Page logic of the Streamlit app with streamlit.testing's AppTest (no browser)."""

from __future__ import annotations


import pytest

from tests.conftest import CORPUS, ROOT, free_port

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
APP = str(ROOT / "ui" / "app.py")


@pytest.fixture()
def app(monkeypatch, rag_home, build_report):
    monkeypatch.setenv("RAG_HOME", str(rag_home))
    monkeypatch.setenv("RAG_CORPUS", str(CORPUS))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    at.radio(key="generator").set_value("extractive").run()
    return at


def ask(at, question: str):
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at.session_state.messages


def test_answer_with_citations_kept_in_session(app):
    msgs = ask(app, "What is dropout?")
    assert [m["role"] for m in msgs] == ["user", "assistant"]
    answer = msgs[1]["answer"]
    assert not answer.refused and answer.citations and answer.generator == "extractive"
    html = " ".join(m.value for m in app.markdown)
    assert 'class="cite"' in html and "[1]" in html
    assert any("[1]" in e.label for e in app.expander)


def test_refusal_looks_like_a_refusal(app):
    msgs = ask(app, "Who wrote Pride and Prejudice?")
    assert msgs[-1]["answer"].refused
    assert any("do not cover" in i.value for i in app.info)
    assert not app.error


def test_over_long_question_gets_an_inline_message(app):
    msgs = ask(app, "why " * 700)
    assert "limit" in msgs[-1]["content"]
    assert any("limit" in w.value for w in app.warning)


def test_whitespace_does_nothing(app):
    msgs = ask(app, "   ")
    assert msgs == []


def test_follow_up_is_searched_with_the_conversation(app):
    ask(app, "What is L1 regularization?")
    msgs = ask(app, "And how does it compare to L2?")
    last = msgs[-1]
    assert last["query"] != "And how does it compare to L2?" and "L1" in last["query"]
    assert any("L2" in (c.passage.title or "") for c in last["answer"].citations)


def test_failed_generation_falls_back_with_a_notice(monkeypatch, rag_home, build_report):
    monkeypatch.setenv("RAG_HOME", str(rag_home))
    monkeypatch.setenv("RAG_API_BASE", f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("RAG_API_MODEL", "nobody")
    monkeypatch.setenv("RAG_TIMEOUT", "5")
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert "API model" in at.radio(key="generator").options  # pipelines are cached per settings
    at.radio(key="generator").set_value("api").run()
    msgs = ask(at, "What is batch normalization?")
    answer = msgs[-1]["answer"]
    assert answer.generator == "extractive" and answer.citations
    assert any("api model failed" in c.value for c in at.caption)


def test_sessions_do_not_share_history(app, monkeypatch):
    ask(app, "What is a GRU?")
    other = AppTest.from_file(APP, default_timeout=120)
    other.run()
    assert other.session_state.messages == []


def test_compare_page_shows_five_sources(app):
    app.switch_page("views/compare.py").run()
    assert not app.exception, app.exception
    assert app.radio(key="generator").value == "extractive"  # the choice follows the user across pages
    app.text_input(key="compare_q").set_value("What is batch normalization?")
    next(b for b in app.button if b.label == "Compare").click().run()
    assert not app.exception, app.exception
    cmp = app.session_state.comparison
    assert len(cmp.sources) == 5 and sum(s.covered for s in cmp.sources) == 3
    assert any("3 of 5 sources answer" in h.value for h in app.subheader)
    assert cmp.synthesis is None  # quotes only: no model was asked


def test_corpus_deep_link_opens_the_passage(app, index):
    target = next(p for p in index.passages if p.qnum == 45 and p.source.startswith("003"))
    app.switch_page("views/corpus.py")
    app.query_params["passage"] = str(target.id)
    app.run()
    assert not app.exception, app.exception
    opened = [e for e in app.expander if e.proto.expanded]
    assert [e.label for e in opened] == ["Q45. What is GRU and How it works?"]
