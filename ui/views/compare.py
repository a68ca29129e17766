"""Compare: one card per source, agreement and differences (at once), the model's synthesis
(streamed after them), and the topic coverage map."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from rag.errors import RagError
from rag.records import Answer
from ui.common import get_pipeline, get_topics, show_comparison, show_synthesis, sidebar, written_html
from ui.render import CSS, corpus_link


def _heatmap(tmap) -> None:
    import altair as alt
    import pandas as pd

    from rag.topics import question_ref

    broad = st.toggle("Only topics two or more sources cover", value=True, key="broad")
    rows = []
    for t in tmap.topics:
        by = t.by_source
        if broad and len(by) < 2:
            continue
        for src, label in tmap.sources:
            qs = by.get(src, ())
            rows.append({"topic": t.name, "source": label, "questions": len(qs),
                         "refs": " ".join(question_ref(p) for p in qs) or "—"})
    df = pd.DataFrame(rows)
    order = list(dict.fromkeys(df["topic"]))
    pick = alt.selection_point(name="pick", fields=["topic"])
    chart = (
        alt.Chart(df)
        .mark_rect(stroke="white")
        .encode(
            x=alt.X("source:N", sort=[l for _, l in tmap.sources], title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("topic:N", sort=order, title=None, axis=alt.Axis(labelLimit=220)),
            color=alt.condition("datum.questions > 0",
                                alt.Color("questions:Q", scale=alt.Scale(scheme="blues", domain=[0, 4]),
                                          title="questions"),
                                alt.value("#f1f3f5")),
            tooltip=["topic", "source", "refs"],
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.55)),
        )
        .add_params(pick)
        .properties(height=max(200, 22 * len(order)))
    )
    text = alt.Chart(df).mark_text(fontSize=11).encode(
        x=alt.X("source:N", sort=[l for _, l in tmap.sources]), y=alt.Y("topic:N", sort=order),
        text=alt.condition("datum.questions > 0", "refs:N", alt.value("")))
    event = st.altair_chart(chart + text, on_select="rerun", key="heat", width="stretch")
    chosen = None
    points = (event.selection.get("pick") if event and getattr(event, "selection", None) else None) or []
    if points:
        chosen = points[0].get("topic")
    chosen = st.selectbox("Questions of topic", order, index=order.index(chosen) if chosen in order else 0,
                          key="topic_pick")
    topic = next(t for t in tmap.topics if t.name == chosen)
    for src, label in tmap.sources:
        for p in topic.by_source.get(src, ()):
            st.markdown(f"- **{label}** {question_ref(p)}: [{p.title}]({corpus_link(p)})")


def _synthesis(slot, cmp, generator: str, pipe):
    """Stream the model's synthesis into ``slot``; return the comparison with it (or as it was)."""
    streamed: list[str] = []

    def on_token(token: str) -> None:
        streamed.append(token)
        slot.markdown(written_html("".join(streamed)), unsafe_allow_html=True)

    slot.caption(f"The {generator} model is writing a synthesis of the sources…")
    try:
        synthesis = pipe.synthesize(cmp, generator=generator, on_token=on_token)
    except Exception as exc:  # the cards and agreement stay; only the synthesis is missing
        synthesis = Answer(cmp.question, "", False, "extractive",
                           notices=(f"the synthesis failed ({type(exc).__name__}); no written synthesis",))
    slot.empty()
    return replace(cmp, synthesis=synthesis)


def compare_page() -> None:
    """Compare: the cards and agreement at once, then the model's synthesis as it is written."""
    pipe = get_pipeline()
    opts = sidebar(pipe)
    st.markdown(CSS, unsafe_allow_html=True)
    st.title("Compare the sources")
    with st.form("compare_form", border=False):
        question = st.text_input("Question", key="compare_q", placeholder="e.g. What is dropout?")
        submitted = st.form_submit_button("Compare")
    name = "extractive"
    if submitted and question.strip():
        try:
            from rag.generate import resolve_generator

            name = resolve_generator(opts["generator"], pipe.settings)
            with st.spinner("Reading every source…"):
                st.session_state.comparison = pipe.compare(question, sources=opts["sources"],
                                                           generator="extractive")
        except RagError as exc:
            st.warning(str(exc), icon=":material/warning:")
            name = "extractive"
            st.session_state.pop("comparison", None)
    cmp = st.session_state.get("comparison")
    if cmp is not None:
        writing = submitted and name != "extractive" and not cmp.refused
        slot = show_comparison(cmp, writing)
        if writing:
            cmp = _synthesis(slot, cmp, name, pipe)
            st.session_state.comparison = cmp
            with slot.container():
                show_synthesis(cmp.synthesis)
        st.markdown('<div class="answer-final"></div>', unsafe_allow_html=True)
    st.divider()
    st.subheader("Which source covers which topic")
    _heatmap(get_topics())


compare_page()
