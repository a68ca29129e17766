"""Corpus: each document's questions (or prose passages) in order, searchable; deep links by passage id."""

from __future__ import annotations

import streamlit as st

from ingest.corpus import FORMATS
from rag.errors import RagError
from ui.common import get_pipeline, reload_pipeline, sidebar
from ui.render import CSS, passage_html

UPLOADS = sorted(ext.lstrip(".") for ext in FORMATS)  # what ingest reads


def _manage_documents(pipe) -> None:
    """Add documents (checked as ingest reads them, then indexed) or set one of one's own
    aside; both rebuild the index that every page and command uses."""
    from ingest.add import add_documents, own_documents, remove_document

    done = st.session_state.pop("_documents_done", None)
    if done:
        for kind, text in done:
            getattr(st, kind)(text)
    with st.expander("Add or remove documents", icon=":material/upload_file:", expanded=bool(done)):
        st.caption("Notes, articles or PDFs (.txt, .md, .pdf), in any question-and-answer layout or as prose. "
                   "The bundled corpus is never changed: the first document added makes a folder of your own "
                   "with a copy of the five beside it, and the index is rebuilt from it (under a minute).")
        # a new key after each addition empties the uploader (the files are in the corpus now)
        files = st.file_uploader("Documents", type=UPLOADS, accept_multiple_files=True,
                                 key=f"upload{st.session_state.get('_uploads', 0) or ''}")
        if st.button("Add to the index", disabled=not files, key="add_docs", icon=":material/add:"):
            try:
                with st.spinner("Checking and indexing…"):
                    report = add_documents(pipe.settings, [(f.name, f.getvalue()) for f in files])
            except RagError as exc:
                st.error(str(exc))
                return
            notes = []
            for f in report.files:
                if f.status == "added":
                    notes.append(("success", f"Added **{f.name}**."))
                elif f.status == "unchanged":
                    notes.append(("info", f"**{f.name}** is already there, unchanged."))
                else:
                    notes.append(("error", f"**{f.name}** was not added: {f.reason}."))
            if report.build is not None:
                b = report.build
                notes.append(("caption", f"Index: {b.documents} documents, {b.questions} questions "
                                         f"in {b.seconds:.0f} s, from `{report.folder}`."))
                if report.added:
                    st.session_state["corpus_src"] = report.added[0]  # show the first new document
            st.session_state["_documents_done"] = notes
            st.session_state["_uploads"] = st.session_state.get("_uploads", 0) + 1
            reload_pipeline()
            st.rerun()
        mine = own_documents(pipe.settings)
        if mine:
            name = st.selectbox("Documents of your own (not the bundled five)", mine, key="remove_pick")
            if st.button("Remove from the index", key="remove_doc", icon=":material/remove:"):
                try:
                    with st.spinner("Removing and re-indexing…"):
                        kept, _ = remove_document(pipe.settings, name)
                except RagError as exc:
                    st.error(str(exc))
                    return
                st.session_state["_documents_done"] = [("success", f"Removed **{name}** (kept in `{kept}`).")]
                st.session_state.pop("corpus_src", None)
                reload_pipeline()
                st.rerun()


def corpus_page() -> None:
    """Corpus: each document's questions (or prose passages) in order, searchable; deep links by passage id."""
    pipe = get_pipeline()
    sidebar(pipe)
    st.markdown(CSS, unsafe_allow_html=True)
    st.title("Corpus")
    _manage_documents(pipe)
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
    if st.session_state.get("corpus_src") not in sources:  # a document removed, or another index
        st.session_state.pop("corpus_src", None)
    if target and "corpus_src" not in st.session_state:  # a deep link opens its document
        st.session_state["corpus_src"] = target.source
    source = st.selectbox("Document", sources, format_func=names.get, key="corpus_src")
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
