"""Practice: answer an interview question, then see what the sources say you covered,
missed or said that they do not; then how each source answers it.

The question is prepared (compared and its key points embedded) when it is shown, so
submitting only grades the answer. Attempts go to the practice history in the data
directory (``rag.history``), shared with ``rag practice``.
"""

from __future__ import annotations

import html
import time

import streamlit as st

from rag.errors import RagError
from rag.history import History
from rag.practice import Feedback, grade, pick_question, prepare
from ui.common import (get_pipeline, get_topics, show_answer, show_comparison, show_left_out, sidebar,
                       written_html)
from ui.render import CSS, citation_title, corpus_link, passage_html

SURPRISE = "Surprise me"
PRACTICE_CSS = """
<style>
.practice-point {margin:0.15rem 0 0.35rem 0;}
.practice-point .who {color:#6c757d; font-size:0.85em;}
.practice-point .mine {color:#1b5e20; font-size:0.9em; margin-left:1.2rem;}
.practice-score {font-size:1.1em; font-weight:600;}
</style>
"""


def _history(pipe) -> History | None:
    """The practice history; a damaged file is moved aside (and said so) by ``History`` itself."""
    try:
        history = History.for_home(pipe.settings.home)
    except RagError as exc:
        st.warning(f"The practice history cannot be used: {exc}", icon=":material/warning:")
        return None
    if history.notice:
        st.warning(history.notice, icon=":material/warning:")
    return history


def _progress(history: History | None) -> None:
    """Which topics have been practised, the weakest first, and a reset button."""
    with st.sidebar:
        st.header("Your practice")
        if history is None:
            return
        try:
            stats = history.topics()
            attempts = history.attempts(limit=5)
        except RagError as exc:
            st.warning(str(exc), icon=":material/warning:")
            return
        if not stats:
            st.caption("No attempts yet.")
        else:
            n = sum(s.attempts for s in stats)
            st.caption(f"{n} attempt{'s' * (n != 1)} on {len(stats)} topic{'s' * (len(stats) != 1)}. "
                       "Weakest first:")
            for s in stats[:6]:
                st.markdown(f"- **{s.topic}**: {s.mean_score:.0%} average over {s.attempts} "
                            f"(last {s.last_score:.0%})")
            with st.expander("Recent attempts"):
                for a in attempts:
                    st.markdown(f"- {a.created[:16].replace('T', ' ')} · {a.score:.0%} · {a.question}")
        if st.button("Reset practice history", key="practice_reset", disabled=not stats):
            try:
                history.reset()
            except RagError as exc:
                st.warning(f"The history was not reset: {exc}", icon=":material/warning:")
                return
            st.session_state.pop("practice_feedback", None)
            st.rerun()


def _new_question(tmap, topic: str, sources: tuple[str, ...]) -> None:
    """A new question of ``topic`` asked by one of ``sources`` (the sidebar's filter; none: any)."""
    current = st.session_state.get("practice_question")
    avoid = (current["text"],) if current else ()
    try:
        picked = pick_question(tmap, topic=None if topic == SURPRISE else topic, sources=sources, avoid=avoid)
    except RagError as exc:  # no question of this topic from the chosen sources: any source then
        st.caption(f"Note: {exc}; picked from every source instead")
        picked = pick_question(tmap, topic=None if topic == SURPRISE else topic, avoid=avoid)
    st.session_state.practice_question = {"text": picked.text, "topic": picked.topic}
    st.session_state.pop("practice_feedback", None)
    st.session_state.pop("practice_show_sources", None)
    st.session_state.practice_answer = ""


def _cards(fb: Feedback) -> None:
    """The citation cards of the feedback, like the chat's: the passage with the point highlighted."""
    seen: dict[int, tuple] = {}
    for r in fb.points:
        for c in r.citations:
            entry = seen.setdefault(c.n, (c, []))
            entry[1].append(c.quote)
    for n, (c, quotes) in sorted(seen.items()):
        st.markdown(f'<div id="cite-practice-{n}"></div>', unsafe_allow_html=True)
        with st.expander(citation_title(c)):
            st.markdown(passage_html(c.passage, quotes), unsafe_allow_html=True)
            st.markdown(f"[Open in the corpus browser]({corpus_link(c.passage)}) · "
                        f"`{c.passage.source}` characters {c.passage.start}–{c.passage.end}")


def _point_html(r, labels: dict[str, str], n_sources: int) -> str:
    marks = "".join(f'<sup class="cite"><a href="#cite-practice-{n}">[{n}]</a></sup>'
                    for n in dict.fromkeys(c.n for c in r.citations))
    who = ", ".join(labels.get(s, s) for s in r.point.sources)
    body = (f'<div class="practice-point {"covered" if r.covered else "missed"}">{html.escape(r.point.text)}{marks}'
            f'<div class="who">{len(r.point.sources)} of {n_sources} sources make this point: {html.escape(who)}</div>')
    if r.covered and r.user_sentence:
        body += f'<div class="mine">you: “{html.escape(r.user_sentence)}”</div>'
    return body + "</div>"


def show_feedback(fb: Feedback, labels: dict[str, str], n_sources: int) -> None:
    """Covered, missed and not-in-the-sources, with citation cards; ``practice-final`` marks it done."""
    if fb.refused:
        st.info("**The sources do not cover this question**, so there is nothing to check your answer against.",
                icon=":material/block:")
    else:
        st.markdown(f'<div class="practice-score">Score: {fb.score:.0%} — {len(fb.covered)} of {len(fb.points)} '
                    "points, each weighted by how many sources make it</div>", unsafe_allow_html=True)
        columns = (("**:green[Covered]**", fb.covered, "None of the sources' points yet."),
                   ("**:red[Missed]**", fb.missed, "You covered every point the sources make."))
        for col, (heading, rows, empty) in zip(st.columns(2), columns):
            with col:
                st.markdown(f"{heading} ({len(rows)})")
                for r in rows:
                    st.markdown(_point_html(r, labels, n_sources), unsafe_allow_html=True)
                if not rows:
                    st.caption(empty)
        against = [(s, fb.contradiction(s)) for s in fb.unsupported if fb.contradiction(s)]
        if against:
            st.markdown("**:red[The sources say otherwise]**")
            for s, (p, q) in against:
                st.markdown(f'<div class="practice-unsupported">✗ {html.escape(s)}<br><small>{html.escape(p.ref)}: '
                            f'“{html.escape(q)}”</small></div>', unsafe_allow_html=True)
        plain = [s for s in fb.unsupported if not fb.contradiction(s)]
        if plain:
            st.markdown("**:orange[Not in the sources]** — no passage for this question says this "
                        "(not necessarily wrong: check it)")
            for s in plain:
                st.markdown(f'<div class="practice-unsupported">⚠ {html.escape(s)}</div>', unsafe_allow_html=True)
        _cards(fb)
    st.markdown('<div class="practice-final"></div>', unsafe_allow_html=True)


def practice_page() -> None:
    """Practice: a question, your answer, point-by-point cited feedback, then the sources' answers;
    the practised topics, weakest first, in the sidebar."""
    pipe = get_pipeline()
    opts = sidebar(pipe)
    st.markdown(CSS + PRACTICE_CSS, unsafe_allow_html=True)
    st.title("Practice")
    st.caption("Answer as you would in an interview; the feedback comes from the five articles, point by point.")
    history = _history(pipe)
    try:
        _exercise(pipe, history, opts["generator"], tuple(opts["sources"] or ()))
    finally:
        _progress(history)  # last, so it counts the attempt just made


def _written(pipe, fb: Feedback, generator: str) -> None:
    """The model's two-sentence feedback, streamed under the point lists, then checked."""
    from rag.generate import resolve_generator
    from rag.practice import model_feedback

    name = resolve_generator(generator, pipe.settings)
    if name == "extractive" or fb.refused:
        return
    slot = st.empty()
    slot.caption(f"The {name} model is writing feedback on your answer…")
    streamed: list[str] = []
    last = [0.0]

    def on_token(token: str) -> None:
        streamed.append(token)
        now = time.monotonic()
        if now - last[0] >= 0.1:  # redraws cost the CPU the model needs
            last[0] = now
            slot.markdown(written_html("".join(streamed)), unsafe_allow_html=True)

    try:
        answer = model_feedback(pipe, fb, name, on_token=on_token)
    except Exception as exc:  # the point lists stand; never a traceback
        st.session_state.practice_written = None
        slot.caption(f"Note: the written feedback failed ({type(exc).__name__}); the point lists are the feedback")
        return
    st.session_state.practice_written = answer
    slot.empty()
    with slot.container():
        _show_written(answer)


def _show_written(answer) -> None:
    if answer is None:
        return
    if answer.text:
        st.markdown("**Feedback** (written by the model, checked against the passages)")
        show_answer(answer, "pfb", final=False)
    else:
        for notice in answer.notices:
            st.caption(f"Note: {notice}")
        show_left_out(answer)  # nothing the model wrote survived: what it claimed, and why not


def _exercise(pipe, history: History | None, generator: str, sources: tuple[str, ...]) -> None:
    tmap = get_topics()
    names = [SURPRISE] + sorted(t.name for t in tmap.topics)
    col1, col2 = st.columns([3, 1], vertical_alignment="bottom")
    topic = col1.selectbox("Topic", names, key="practice_topic")
    changed = st.session_state.get("practice_topic_seen", topic) != topic  # a new topic asks a new question
    st.session_state.practice_topic_seen = topic
    if col2.button("New question", key="practice_new") or changed or "practice_question" not in st.session_state:
        _new_question(tmap, topic, sources)
    current = st.session_state.practice_question
    labels = {src: info["label"] for src, info in pipe.index.sources.items()}
    try:
        exercise = prepare(pipe, current["text"])  # cached: grading then only reads the answer
    except RagError as exc:
        st.warning(str(exc), icon=":material/warning:")
        return
    st.subheader(current["text"])
    st.caption(f"Topic: {current['topic']} · {len(exercise.sources)} of {len(labels)} sources answer it")
    with st.form("practice_form", border=False):
        answer = st.text_area("Your answer", key="practice_answer", height=180,
                              placeholder="Write what you would say…")
        submitted = st.form_submit_button("Check my answer")
    if submitted:
        try:
            fb = grade(pipe, exercise, answer)
        except RagError as exc:
            st.warning(str(exc), icon=":material/warning:")
            fb = None
        if fb is not None:
            st.session_state.practice_feedback = fb
            st.session_state.pop("practice_show_sources", None)
            st.session_state.pop("practice_written", None)
            if history is not None and not fb.refused:
                try:
                    history.record(fb.question, current["topic"], fb.score)
                except RagError as exc:
                    st.warning(f"This attempt was not saved: {exc}", icon=":material/warning:")
    fb = st.session_state.get("practice_feedback")
    if fb is None or fb.question != exercise.question:
        return
    show_feedback(fb, labels, len(labels))
    if submitted:
        _written(pipe, fb, generator)  # after the point lists are on the page
    else:
        _show_written(st.session_state.get("practice_written"))
    if st.button("Show the sources' answers", key="practice_sources"):
        st.session_state.practice_show_sources = True
    if st.session_state.get("practice_show_sources"):
        st.divider()
        show_comparison(exercise.comparison, False)


practice_page()
