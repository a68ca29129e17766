"""Chat: history per browser session, answers that arrive in two steps, citations you can open.

As soon as retrieval is done the quoted, cited answer is on the page; when a model is
selected its written answer then streams in above the quotes and, once checked,
becomes the answer with the quotes collapsed below it. A model that fails or whose
answer is rejected leaves the quotes in place with a notice.
"""

from __future__ import annotations

import time

from dataclasses import replace

import streamlit as st

from rag.config import MAX_QUESTION_CHARS
from rag.errors import RagError
from ui.common import get_pipeline, show_answer, show_reply, sidebar, written_html
from ui.render import CSS


def _history(messages: list[dict]) -> list[str]:
    """Earlier questions as they were searched (follow-ups already rewritten), oldest first."""
    out = []
    for i, m in enumerate(messages):
        if m["role"] != "user":
            continue
        reply = messages[i + 1] if i + 1 < len(messages) else {}
        out.append(reply.get("query") or m["content"])
    return out


def _warn(messages: list[dict], msg: str) -> None:
    st.warning(msg, icon=":material/warning:")
    messages.append({"role": "assistant", "content": msg})


def _reply(pipe, opts: dict, prompt: str, messages: list[dict]) -> None:
    """Search, show the quotes, then stream the model's answer over them."""
    from rag.answer import extractive_answer
    from rag.followup import standalone_question
    from rag.generate import resolve_generator

    key = f"m{len(messages)}"
    query = standalone_question(prompt, _history(messages[:-1]))
    if query != prompt:
        st.caption(f"searched as: “{query}”")
    written = st.empty()
    below = st.empty()
    try:
        name = resolve_generator(opts["generator"], pipe.settings)
        with st.spinner("Searching the sources…"):
            result = pipe.search(query, k=opts["k"], sources=opts["sources"])
        quotes = None
        if name != "extractive" and not result.refused:
            quotes = extractive_answer(result, pipe.index.encoder, missing=result.missing)
            with below.container():
                show_answer(quotes, f"{key}q", final=False)
            written.caption(f"The {name} model is writing an answer from these passages…")
        elif name != "extractive" and result.refused:
            written.caption(f"No passage matches this well; asking the {name} model what it describes…")
    except RagError as exc:
        _warn(messages, str(exc))
        return
    except Exception as exc:  # never a traceback on the page; the chat survives
        _warn(messages, f"Something went wrong answering this ({type(exc).__name__}). Your chat is kept; try again.")
        return
    streamed: list[str] = []

    last = [0.0]

    def on_token(token: str) -> None:
        streamed.append(token)
        # Redraw at most ~10 times a second: each redraw costs CPU that the model's two
        # threads need on a two-core machine.
        now = time.monotonic()
        if now - last[0] >= 0.1:
            last[0] = now
            written.markdown(written_html("".join(streamed)), unsafe_allow_html=True)

    try:
        answer = pipe.answer(result, generator=name, on_token=on_token)
    except Exception as exc:
        if quotes is None:
            written.empty()
            msg = str(exc) if isinstance(exc, RagError) else \
                f"Something went wrong answering this ({type(exc).__name__}). Your chat is kept; try again."
            _warn(messages, msg)
            return
        answer = replace(quotes, notices=quotes.notices + (
            f"the written answer failed ({type(exc).__name__}); showing the quoted answer",))
    written.empty()
    below.empty()
    with written.container():
        show_reply(answer, quotes, key)
    messages.append({"role": "assistant", "answer": answer, "quotes": quotes, "query": query})


def chat_page() -> None:
    """Chat: history per browser session, quotes first, then the model's written answer."""
    pipe = get_pipeline()
    opts = sidebar(pipe)
    st.markdown(CSS, unsafe_allow_html=True)
    st.title("Deep-learning interview assistant")
    n_docs = pipe.index.manifest.get("counts", {}).get("documents")
    docs = f"{n_docs} indexed documents" if n_docs else "indexed documents"
    st.caption(f"Answers come only from the {docs}; every sentence cites its passage.")
    messages = st.session_state.setdefault("messages", [])
    for i, m in enumerate(messages):
        with st.chat_message(m["role"]):
            if m["role"] == "user":
                st.markdown(m["content"])
            elif "answer" in m:
                if m.get("query") and i > 0 and m["query"] != messages[i - 1]["content"]:
                    st.caption(f"searched as: “{m['query']}”")
                show_reply(m["answer"], m.get("quotes"), f"m{i}")
            else:
                st.warning(m["content"], icon=":material/warning:")
    prompt = st.chat_input("Ask a deep-learning interview question…", max_chars=MAX_QUESTION_CHARS + 1000)
    if prompt is None or not prompt.strip():
        return
    messages.append({"role": "user", "content": prompt})
    with st.chat_message("user"):
        st.markdown(prompt)
    with st.chat_message("assistant"):
        _reply(pipe, opts, prompt, messages)


chat_page()
