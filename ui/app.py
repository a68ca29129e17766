"""The web app: chat with cited answers, side-by-side comparison, practice, and a corpus browser.

Run: ``streamlit run ui/app.py``. Everything shown comes from ``rag.pipeline``; the
pages in ``ui/views/`` hold presentation and per-session state only.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `streamlit run ui/app.py` from a checkout

from rag.errors import RagError  # noqa: E402
from ui.common import get_pipeline  # noqa: E402


def main() -> None:
    """Page setup and navigation; a pipeline that cannot start is one message, not a traceback."""
    st.set_page_config(page_title="DL interview assistant", page_icon=":material/school:", layout="wide")
    try:
        get_pipeline()
    except RagError as exc:
        st.error(f"The assistant cannot start: {exc}")
        st.stop()
    nav = st.navigation([
        st.Page("views/chat.py", title="Chat", icon=":material/chat:", default=True),  # served at /
        st.Page("views/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
        st.Page("views/practice.py", title="Practice", icon=":material/quiz:", url_path="practice"),
        st.Page("views/corpus.py", title="Corpus", icon=":material/menu_book:", url_path="corpus"),
    ])
    nav.run()


main()
