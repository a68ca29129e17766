"""What the pages share: the cached pipeline, the sidebar, and how an answer is shown.

Heavy resources load once per server process (``st.cache_resource``) and are shared
read-only by every browser session; each session's chat lives in its own
``st.session_state``. A local model shared between sessions is serialised by
``rag.generate``'s lock.
"""

from __future__ import annotations

import streamlit as st

from rag.config import Settings
from rag.records import Answer
from ui.render import answer_html, citation_title, corpus_link, passage_html

__all__ = ["get_pipeline", "get_topics", "sidebar", "show_answer", "GENERATOR_LABELS"]

GENERATOR_LABELS = {"local": "Local model (Qwen2.5 1.5B)", "api": "API model", "extractive": "Quotes only"}


@st.cache_resource(show_spinner="Loading the index and the embedding model…")
def _pipeline_for(settings: Settings):
    from rag.pipeline import Pipeline

    return Pipeline(settings)


def get_pipeline():
    """The pipeline for the current ``RAG_*`` settings, loaded once per process."""
    return _pipeline_for(Settings.from_env())


@st.cache_resource(show_spinner="Grouping the questions into topics…")
def _topics_for(settings: Settings):
    return _pipeline_for(settings).topics()


def get_topics():
    """The topic map, computed once per process."""
    return _topics_for(Settings.from_env())


def _available_generators(pipe) -> list[str]:
    from rag.generate import local_available

    out = []
    if local_available():
        out.append("local")
    if pipe.settings.api_base and pipe.settings.api_model:
        out.append("api")
    return out + ["extractive"]


def sidebar(pipe) -> dict:
    """Settings shared by the pages: generator, passages, sources; and a status line."""
    # Widgets belong to a page: seed each page's widgets from the last choices so they
    # follow the user across pages.
    saved = st.session_state.get("_settings", {})
    with st.sidebar:
        st.header("Settings")
        gens = _available_generators(pipe)
        gen = saved.get("generator")
        generator = st.radio("Who writes the answer", gens, index=gens.index(gen) if gen in gens else 0,
                             format_func=GENERATOR_LABELS.get, key="generator")
        k = st.slider("Passages retrieved", 1, 10, saved.get("k", 5), key="k")
        labels = {info["label"]: src for src, info in pipe.index.sources.items()}
        picked = st.multiselect("Only these sources", list(labels), default=saved.get("sources", []),
                                key="sources", placeholder="all five sources")
        counts = pipe.index.manifest.get("counts", {})
        st.caption(
            f"**Answering:** {GENERATOR_LABELS[generator]}  \n"
            f"**Index:** {counts.get('qa', '?')} questions in {counts.get('documents', '?')} documents, "
            f"built {pipe.index.manifest.get('created', '?')}"
        )
        if st.button("Clear chat", key="clear"):
            st.session_state.messages = []
    st.session_state["_settings"] = {"generator": generator, "k": k, "sources": picked}
    return {"generator": generator, "k": k, "sources": [labels[p] for p in picked] or None}


def show_answer(answer: Answer, key: str) -> None:
    """An answer with linked markers and expandable citation cards."""
    for notice in answer.notices:
        st.caption(f"Note: {notice}")
    if answer.refused:
        st.info("**The sources do not cover this.** None of the five articles answers this question, so "
                "no answer is made up. Try rephrasing, or browse the Corpus page.", icon=":material/block:")
        return
    st.markdown(answer_html(answer, key), unsafe_allow_html=True)
    quotes: dict[int, list[str]] = {}
    for s in answer.sentences:
        for n in s.cites:
            quotes.setdefault(n, []).append(s.text)
    for c in answer.citations:
        st.markdown(f'<div id="cite-{key}-{c.n}"></div>', unsafe_allow_html=True)
        with st.expander(citation_title(c)):
            st.markdown(passage_html(c.passage, quotes.get(c.n, []) + c.quote.split(" … ")),
                        unsafe_allow_html=True)
            st.markdown(f"[Open in the corpus browser]({corpus_link(c.passage)}) · "
                        f"`{c.passage.source}` characters {c.passage.start}–{c.passage.end}")
    st.caption(f"answered by: {GENERATOR_LABELS.get(answer.generator, answer.generator)}")
