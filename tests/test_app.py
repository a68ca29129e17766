"""Page logic of the Streamlit app with streamlit.testing's AppTest (no browser).

The "local model" in the progressive tests is a stand-in backend that writes a sentence
copied from the first passage of its prompt, so the citation check accepts it; the
real model in a real browser is tests/test_browser.py's.
"""

from __future__ import annotations

import re

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
    panel = [i.value for i in app.info if "do not cover" in i.value]
    assert panel and "five" not in panel[0]
    assert not app.error
    assert "answer-final" in markdown(app)


def test_missing_term_says_so_above_the_nearest_quotes(app):
    msgs = ask(app, "What is GELU activation in neural networks?")
    answer = msgs[-1]["answer"]
    assert answer.missing == ("GELU",) and answer.citations
    assert any(i.value.startswith("The sources do not mention “GELU”") for i in app.info)
    assert 'class="quotes"' in markdown(app)


def test_a_heading_listed_without_an_answer_is_said_with_its_link(app):
    msgs = ask(app, "What is the difference between an epoch, a batch and an iteration?")
    note = msgs[-1]["answer"].listed_best
    assert note is not None
    html = markdown(app)
    # the note follows the quoted claims, set apart, and links to its passage's card
    assert re.search(r'<span class="listed-best">[^<]*without an answer[^<]*</span><sup class="cite">'
                     rf'<a href="#cite-[^"]+-{note.n}"', html), html[:2000]
    assert any(f"[{note.n}]" in e.label for e in app.expander)


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
    assert last["query"] == "L1 regularization vs L2 regularization"
    assert any("L2" in (c.passage.title or "") for c in last["answer"].citations)
    assert any("searched as" in c.value for c in app.caption)


def markdown(at) -> str:
    return " ".join(m.value for m in at.markdown)


def _first_passage_sentence(messages) -> str:
    body = re.search(r"<<<(.*?)>>>", messages[-1]["content"], re.S).group(1)
    return re.split(r"(?<=[.!?])\s+", body.strip())[0]


@pytest.fixture()
def local_model(monkeypatch, rag_home, build_report):
    """A stand-in for the local model: ``calls`` records each prompt; ``mode`` picks the reply."""
    import rag.generate as gen

    state = {"calls": [], "mode": "copy"}

    def backend(messages, settings, max_tokens, temperature=0.1):
        state["calls"].append(messages)
        if state["mode"] == "fail":
            raise RuntimeError("model crashed")
        if state["mode"] == "off-topic":
            text = "Paris is the capital of France and hosts the Louvre museum. [1]"
        else:
            text = _first_passage_sentence(messages) + " [1]"
        for word in text.split(" "):
            yield word + " "

    monkeypatch.setattr(gen, "local_available", lambda: True)
    monkeypatch.setitem(gen._BACKENDS, "local", backend)
    monkeypatch.setenv("RAG_HOME", str(rag_home))
    monkeypatch.setenv("RAG_CORPUS", str(CORPUS))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    at.radio(key="generator").set_value("local").run()
    return at, state


def test_written_answer_above_collapsed_quotes(local_model):
    at, state = local_model
    msgs = ask(at, "What is batch normalization?")
    reply = msgs[-1]
    assert len(state["calls"]) == 1  # one model call: no rewrite call, no second answer
    assert reply["answer"].generator == "local" and reply["answer"].citations
    assert reply["quotes"].generator == "extractive" and reply["quotes"].citations
    html = markdown(at)
    assert html.index('class="written"') < html.index('class="quotes"')
    assert "Quoted from the sources" in [e.label for e in at.expander]
    assert 'data-kind="written"' in html and 'class="written streaming"' not in html


def test_followup_costs_no_model_call(local_model):
    at, state = local_model
    ask(at, "What is dropout?")
    msgs = ask(at, "Why is it used?")
    assert msgs[-1]["query"] == "Why is dropout used?"
    assert len(state["calls"]) == 2  # one per answer, none for the rewrite


@pytest.mark.parametrize(("mode", "notice"), [("fail", "local model failed"),
                                               ("off-topic", "not supported by the sources")])
def test_failed_or_rejected_model_answer_keeps_the_quotes(local_model, mode, notice):
    at, state = local_model
    state["mode"] = mode
    msgs = ask(at, "What is batch normalization?")
    answer = msgs[-1]["answer"]
    assert answer.generator == "extractive" and answer.citations
    assert any(notice in c.value for c in at.caption)
    html = markdown(at)
    assert 'class="quotes"' in html and 'class="written' not in html and 'data-kind="quotes"' in html
    # what the model claimed and why it was not kept is on the page, not only a count
    labels = [e.label for e in at.expander]
    if mode == "off-topic":
        assert "Left out by the citation check (1)" in labels
        (left,) = answer.left_out
        assert left.text.startswith("Paris is the capital of France") and left.reason
        assert "Paris is the capital of France" in html and left.reason in html
    else:
        assert not any(label.startswith("Left out") for label in labels)


def test_refusal_and_missing_terms_never_call_the_model(local_model):
    at, state = local_model
    ask(at, "Who wrote Pride and Prejudice?")
    msgs = ask(at, "What is GELU activation in neural networks?")
    assert state["calls"] == []
    assert msgs[1]["answer"].refused and msgs[3]["answer"].missing == ("GELU",)
    # a name the sources only list is said so on the page, with where, and no model is asked
    msgs = ask(at, "what is early stopping?")
    assert state["calls"] == [] and msgs[5]["answer"].named_in_list
    infos = [i.value for i in at.info]
    assert any(i.startswith("The sources do not explain “early stopping”:") and "only names it in a list" in i
               for i in infos), infos


def test_compare_synthesis_after_the_cards(local_model):
    at, state = local_model
    at.switch_page("views/compare.py").run()
    at.text_input(key="compare_q").set_value("What is batch normalization?")
    next(b for b in at.button if b.label == "Compare").click().run()
    assert not at.exception, at.exception
    cmp = at.session_state.comparison
    assert len(state["calls"]) == 1
    assert cmp.synthesis is not None and cmp.synthesis.generator == "local" and cmp.synthesis.text
    html = markdown(at)
    assert 'class="written synthesis"' in html and 'class="quotes gist"' in html


def test_compare_synthesis_rejected_by_the_check_shows_what_it_claimed(local_model):
    at, state = local_model
    state["mode"] = "off-topic"
    at.switch_page("views/compare.py").run()
    at.text_input(key="compare_q").set_value("What is batch normalization?")
    next(b for b in at.button if b.label == "Compare").click().run()
    assert not at.exception, at.exception
    synthesis = at.session_state.comparison.synthesis
    (left,) = synthesis.left_out
    assert left.text.startswith("Paris is the capital of France")
    assert "Left out by the citation check (1)" in [e.label for e in at.expander]
    assert left.reason in markdown(at)


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
    # a source that is a near miss names its nearest passage under "not covered"
    notes = [s.nearest_note for s in cmp.sources if s.nearest_note]
    captions = [c.value for c in app.caption]
    assert notes and all(n in captions for n in notes)


def test_corpus_deep_link_opens_the_passage(app, index):
    target = next(p for p in index.passages if p.qnum == 45 and p.source.startswith("003"))
    app.switch_page("views/corpus.py")
    app.query_params["passage"] = str(target.id)
    app.run()
    assert not app.exception, app.exception
    opened = [e for e in app.expander if e.proto.expanded]
    assert [e.label for e in opened] == ["Q45. What is GRU and How it works?"]


def test_a_quote_under_its_sub_heading_is_marked_in_its_passage(index):
    from ui.render import passage_html

    p = next(p for p in index.passages if (p.title or "").startswith("Explain Adagrad, RMSProp and Adam"))
    html = passage_html(p, ["Adam (Adaptive Moment Estimation): It combines the benefits of Momentum and RMSProp."])
    assert '<mark class="cited">It combines the benefits of Momentum and RMSProp.</mark>' in html


def test_corpus_page_adds_and_removes_a_document(monkeypatch, tmp_path, rag_home, build_report, local_models):
    """Upload on the Corpus page: a good file is indexed and shown, a bad one refused
    with its reason; then the added document is set aside again."""
    from tests.test_add import NOTES, _home_with_index

    home = _home_with_index(rag_home, tmp_path / "home", local_models)
    monkeypatch.setenv("RAG_HOME", str(home))
    monkeypatch.delenv("RAG_CORPUS", raising=False)
    at = AppTest.from_file(APP, default_timeout=240)
    at.run()
    at.switch_page("views/corpus.py").run()
    assert not at.exception, at.exception
    at.file_uploader(key="upload").set_value([(NOTES.name, NOTES.read_bytes(), "text/markdown"),
                                              ("bad.txt", b"\xff\xfe", "text/plain")]).run()
    at.button(key="add_docs").click().run()
    assert not at.exception, at.exception
    assert any(f"Added **{NOTES.name}**" in s.value for s in at.success)
    assert any("**bad.txt** was not added: not UTF-8 text" in e.value for e in at.error)
    assert at.selectbox(key="corpus_src").value == NOTES.name  # the new document is shown
    assert any("What is curriculum learning?" in e.label for e in at.expander)
    assert (home / "documents" / NOTES.name).exists()
    assert not at.file_uploader[0].value  # emptied: the files are in the corpus now
    assert at.selectbox(key="remove_pick").options == [NOTES.name]
    at.button(key="remove_doc").click().run()
    assert not at.exception, at.exception
    assert any(f"Removed **{NOTES.name}**" in s.value for s in at.success)
    assert NOTES.name not in at.selectbox(key="corpus_src").options
    assert (home / "removed" / NOTES.name).exists()
