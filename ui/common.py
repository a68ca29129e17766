"""What the pages share: the cached pipeline, the sidebar, and how an answer is shown.

Heavy resources load once per server process (``st.cache_resource``) and are shared
read-only by every browser session; each session's chat lives in its own
``st.session_state``. A local model shared between sessions is serialised by
``rag.generate``'s lock.
"""

from __future__ import annotations

import contextlib
import html
import threading

import streamlit as st

from rag.answer import not_mentioned_text
from rag.config import Settings
from rag.records import Answer
from ui.render import answer_html, citation_title, corpus_link, passage_html

__all__ = ["get_pipeline", "get_topics", "reload_pipeline", "sidebar", "show_answer", "show_reply", "show_refusal", "written_html",
           "show_left_out", "show_comparison", "show_synthesis", "GENERATOR_LABELS"]

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


def reload_pipeline() -> None:
    """Forget the loaded index and topics (after documents were added or removed): every
    session's next page run loads the index the corpus now builds."""
    _pipeline_for.clear()
    _topics_for.clear()


def _available_generators(pipe) -> list[str]:
    from rag.generate import local_available

    out = []
    if local_available():
        out.append("local")
    if pipe.settings.api_base and pipe.settings.api_model:
        out.append("api")
    return out + ["extractive"]


@st.cache_resource(show_spinner=False)
def _warm_local(settings: Settings) -> threading.Thread:
    """Load the local model and evaluate its fixed prompt prefix in the background, once
    per process, so the first question is not the one that waits for it."""
    from rag.generate import warm_local

    def run() -> None:
        with contextlib.suppress(Exception):  # a model that cannot load says so at the first answer
            warm_local(settings)

    thread = threading.Thread(target=run, name="warm-local-model", daemon=True)
    thread.start()
    return thread


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
                                key="sources", placeholder="all sources")
        counts = pipe.index.manifest.get("counts", {})
        st.caption(
            f"**Answering:** {GENERATOR_LABELS[generator]}  \n"
            f"**Index:** {counts.get('qa', '?')} questions"
            f"{' and ' + str(counts['prose']) + ' prose passages' if counts.get('prose') else ''}"
            f" in {counts.get('documents', '?')} documents, "
            f"built {pipe.index.manifest.get('created', '?')}"
        )
        if st.button("Clear chat", key="clear"):
            st.session_state.messages = []
    st.session_state["_settings"] = {"generator": generator, "k": k, "sources": picked}
    if generator == "local":
        _warm_local(pipe.settings)
    return {"generator": generator, "k": k, "sources": [labels[p] for p in picked] or None}


def _marker(generator: str, kind: str) -> None:
    """The line that ends every finished reply: who answered; ``answer-final`` marks it as done
    (the browser benchmark and tests wait on it)."""
    label = GENERATOR_LABELS.get(generator, generator)
    st.markdown(f'<div class="answer-final answered-by" data-kind="{kind}">answered by: {html.escape(label)}</div>',
                unsafe_allow_html=True)


def show_refusal() -> None:
    """The panel for a question the sources do not cover (no model was asked)."""
    st.info("**The sources do not cover this.** No passage in the indexed documents answers this question, "
            "so no answer is made up. Try rephrasing it, or browse the Corpus page.", icon=":material/block:")


def _not_mentioned(answer: Answer) -> None:
    if answer.missing:
        lead = not_mentioned_text(answer.missing, answer.listed, answer.named_in_list)
        tail = " The nearest they cover:" if answer.generator == "extractive" else ""
        st.info(lead + tail, icon=":material/info:")


def _citation_cards(answer: Answer, key: str) -> None:
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


def show_answer(answer: Answer, key: str, final: bool = True) -> None:
    """An answer with linked markers and expandable citation cards.

    Quotes (``generator == "extractive"``) are wrapped in ``.quotes``, a model's answer in
    ``.written``; ``final=False`` shows the quotes while a model is still writing.
    """
    for notice in answer.notices:
        st.caption(f"Note: {notice}")
    if answer.refused:
        show_refusal()
        if final:
            _marker(answer.generator, "refused")
        return
    _not_mentioned(answer)
    cls = "quotes" if answer.generator == "extractive" else "written"
    st.markdown(f'<div class="{cls}">{answer_html(answer, key)}</div>', unsafe_allow_html=True)
    _citation_cards(answer, key)
    show_left_out(answer)
    if final:
        _marker(answer.generator, cls)


def show_left_out(answer: Answer) -> None:
    """The model's sentences the citation check did not keep, each with its reason: the
    notice says how many; a reader who wonders what the model claimed can look."""
    if not answer.left_out:
        return
    with st.expander(f"Left out by the citation check ({len(answer.left_out)})"):
        for x in answer.left_out:
            cited = f" · cited {', '.join(x.cited)}" if x.cited else ""
            st.markdown(f'<div class="left-out"><s>{html.escape(x.text)}</s><br>'
                        f'<small>{html.escape(x.reason)}{html.escape(cited)}</small></div>', unsafe_allow_html=True)


def _quotes_below(quotes: Answer, key: str) -> None:
    """The quoted answer, collapsed under a written one (citations listed, not nested expanders)."""
    with st.expander("Quoted from the sources"):
        st.markdown(f'<div class="quotes">{answer_html(quotes, key)}</div>', unsafe_allow_html=True)
        for c in quotes.citations:
            st.markdown(f'<div id="cite-{key}-{c.n}"></div>', unsafe_allow_html=True)
            st.markdown(f"**[{c.n}]** {c.passage.ref} · [{c.passage.title or 'passage'}]({corpus_link(c.passage)})")


def show_reply(answer: Answer, quotes: Answer | None, key: str) -> None:
    """A finished reply: the model's written answer with the quotes collapsed below it, or,
    when the quotes are the answer (quotes only, a refusal, a failed or rejected model
    answer), the quotes themselves with any notice."""
    if quotes is None or answer.generator == "extractive" or answer.refused:
        show_answer(answer, key)
        return
    show_answer(answer, key, final=False)
    if not quotes.refused:
        _quotes_below(quotes, f"{key}q")
    _marker(answer.generator, "written")


def written_html(text: str) -> str:
    """The model's answer as it streams: escaped, with a cursor."""
    return f'<div class="written streaming"><p>{html.escape(text)} ▌</p></div>'


def show_synthesis(synthesis: Answer | None) -> None:
    """A comparison's written synthesis and its notices."""
    if synthesis and synthesis.text:
        st.markdown(f'<div class="written synthesis">{answer_html(synthesis, "syn")}</div>',
                    unsafe_allow_html=True)
    if synthesis:
        for notice in synthesis.notices:
            st.caption(f"Note: {notice}")
        show_left_out(synthesis)


def show_comparison(cmp, slot_wanted: bool):
    """The comparison (the Compare page's view, also shown after a practice answer); returns an empty slot where the synthesis goes when one is to be written."""
    labels = {s.source: s.label for s in cmp.sources}
    slot = None
    if cmp.refused:
        st.info("**The sources do not cover this.** No source answers this question.", icon=":material/block:")
    else:
        n_cov = sum(s.covered for s in cmp.sources)
        st.subheader(f"{n_cov} of {len(cmp.sources)} sources answer “{cmp.question}”")
        if slot_wanted:
            slot = st.empty()
        else:
            show_synthesis(cmp.synthesis)
        if cmp.agreement:
            st.markdown("**Where they agree**")
            for p in cmp.agreement:
                st.markdown(f"- {p.text} — *{', '.join(labels[s] for s in p.sources)}*")
        if cmp.differences:
            st.markdown("**What only one source says**")
            for p in cmp.differences:
                st.markdown(f"- *{labels[p.sources[0]]}:* {p.text}")
    cols = st.columns(len(cmp.sources))
    for col, s in zip(cols, cmp.sources):
        with col.container(border=True):
            st.markdown(f"**{s.label}**")
            if not s.covered:
                st.caption(f":material/block: not covered (best match {s.confidence:.2f})")
                if s.nearest_note:
                    st.caption(s.nearest_note)
                continue
            st.caption(":material/check_circle: covered")
            st.markdown(f'<div class="quotes gist">{html.escape(s.gist)}</div>', unsafe_allow_html=True)
            for p in s.passages:
                with st.expander(f"{p.ref.removeprefix(s.label).strip()}: {p.title}"):
                    st.markdown(passage_html(p, [s.gist]), unsafe_allow_html=True)
                    st.markdown(f"[Open in the corpus browser]({corpus_link(p)})")
    return slot
