"""Chat: history per browser session, streamed answers, citations you can open."""

from __future__ import annotations

import streamlit as st

from rag.config import MAX_QUESTION_CHARS
from rag.errors import RagError
from ui.common import get_pipeline, show_answer, sidebar
from ui.render import CSS


def chat_page() -> None:
    """Chat: history per browser session, streamed answers, citations you can open."""
    pipe = get_pipeline()
    opts = sidebar(pipe)
    st.markdown(CSS, unsafe_allow_html=True)
    st.title("Deep-learning interview assistant")
    st.caption("Answers come only from five interview-question articles; every sentence cites its passage.")
    messages = st.session_state.setdefault("messages", [])
    for i, m in enumerate(messages):
        with st.chat_message(m["role"]):
            if m["role"] == "user":
                st.markdown(m["content"])
            elif "answer" in m:
                show_answer(m["answer"], f"m{i}")
            else:
                st.warning(m["content"], icon=":material/warning:")
    prompt = st.chat_input("Ask a deep-learning interview question…", max_chars=MAX_QUESTION_CHARS + 1000)
    if prompt is None or not prompt.strip():
        return
    history = [m["content"] for m in messages if m["role"] == "user"]
    messages.append({"role": "user", "content": prompt})
    with st.chat_message("user"):
        st.markdown(prompt)
    with st.chat_message("assistant"):
        key = f"m{len(messages)}"
        live = st.empty()
        streamed: list[str] = []

        def on_token(token: str) -> None:
            streamed.append(token)
            live.markdown("".join(streamed) + " ▌")

        try:
            from rag.followup import standalone_question

            with st.spinner("Searching the sources…"):
                query = standalone_question(prompt, history, pipe, opts["generator"])
            answer = pipe.ask(query, k=opts["k"], sources=opts["sources"], generator=opts["generator"],
                              on_token=on_token)
        except RagError as exc:
            live.empty()
            st.warning(str(exc), icon=":material/warning:")
            messages.append({"role": "assistant", "content": str(exc)})
            return
        except Exception as exc:  # never a traceback on the page; the chat survives
            live.empty()
            msg = f"Something went wrong answering this ({type(exc).__name__}). Your chat is kept; try again."
            st.warning(msg, icon=":material/warning:")
            messages.append({"role": "assistant", "content": msg})
            return
        live.empty()
        if query != prompt:
            st.caption(f"searched as: “{query}”")
        show_answer(answer, key)
        messages.append({"role": "assistant", "answer": answer, "query": query})


chat_page()
