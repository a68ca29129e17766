"""Corpus: each document's questions (or prose passages) in order, searchable; deep links by passage id."""

from __future__ import annotations

import streamlit as st

from ui.common import get_pipeline, sidebar
from ui.render import CSS, passage_html


def corpus_page() -> None:
    """Corpus: each document's questions (or prose passages) in order, searchable; deep links by passage id."""
    pipe = get_pipeline()
    sidebar(pipe)
    st.markdown(CSS, unsafe_allow_html=True)
    st.title("Corpus")
    index = pipe.index
    target = None
    raw = st.query_params.get("passage")
    if raw is not None:
        try:
            target = index.passages[int(raw)]
        except (ValueError, IndexError):
            st.warning(f"No passage {raw!r} in this index.", icon=":material/warning:")
    sources = list(index.sources)
    names = {s: f"{i['label']} — {i['title']}" for s, i in index.sources.items()}
    default = sources.index(target.source) if target else 0
    source = st.selectbox("Document", sources, index=default, format_func=names.get, key="corpus_src")
    needle = st.text_input("Search this document", key="corpus_search").strip().lower()
    shown = 0
    for p in index.passages:
        if p.source != source or p.kind not in ("qa", "prose"):
            continue
        if needle and needle not in (p.title or "").lower() and needle not in p.answer.lower():
            continue
        shown += 1
        number = f"¶{p.qnum}" if p.kind == "prose" else f"Q{p.qnum}."
        page = f" (p. {p.page})" if p.page else ""
        label = f"{p.section + ' · ' if p.section else ''}{number} {p.title}{page}"
        with st.expander(label, expanded=target is not None and p.id == target.id):
            st.markdown(passage_html(p), unsafe_allow_html=True)
            st.caption(f"`{p.source}` characters {p.start}–{p.end}")
    if not shown:
        st.info("No passage matches.")


corpus_page()
