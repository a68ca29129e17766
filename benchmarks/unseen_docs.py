"""Documents of one's own that nobody tuned on: are their questions parsed, and found?

``eval/unseen_docs/`` holds three documents a helper wrote without seeing this code, in
layouts no earlier test document used (``**Q: …?**`` / ``A:`` pairs in Markdown, ``1)``
numbered plain text with an introduction and a closing line, ``### 1.`` numbered
Markdown headings with a table); ``eval/unseen_docs.jsonl`` their questions, by the same
helper: every question as written (``kind: exact``), reworded ones (``reworded``) and
facts inside answers (``fact``), each with the question heading that answers it as gold.

Builds an index of the bundled five plus these three in ``$RAG_HOME`` (a temporary
folder if unset), then reports: questions found with exact offsets, and for reworded
and fact questions the rank of the passage that answers them. With
``rag ingest --expand`` run on the same ``$RAG_HOME`` and corpus first, the build reuses
the expansions written there.

    python -m benchmarks.unseen_docs
    python -m benchmarks.unseen_docs --docs eval/tune_docs --questions eval/tune_docs.jsonl

``eval/tune_docs/`` (quantization as ``Question:`` / ``Answer:`` lines, curriculum
learning as ``## 3.`` headings, a contrastive-learning prose explainer; 24 reworded and
9 fact questions, all by a helper who never saw this code) is the set to tune on for
documents of one's own; ``eval/unseen_docs/`` is only reported.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.own_docs import _corpus_with_own, _rank  # noqa: E402
from ingest.build import build_index  # noqa: E402
from ingest.report import corpus_report  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.evaluate import is_relevant, load_questions, normalise  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402

DOCS = ROOT / "eval" / "unseen_docs"
QUESTIONS = ROOT / "eval" / "unseen_docs.jsonl"


def main(argv: list[str] | None = None) -> None:
    """Print the report for ``--docs`` (default ``eval/unseen_docs``) and ``--questions``."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=Path, default=DOCS, help="folder of documents put beside the five")
    ap.add_argument("--questions", type=Path, default=QUESTIONS, help="their questions (JSONL)")
    args = ap.parse_args(argv)
    docs, questions = args.docs, args.questions
    home = Path(os.environ.get("RAG_HOME") or tempfile.mkdtemp(prefix="unseen_docs_"))
    if not os.environ.get("RAG_HOME"):  # a folder of its own is removed at exit (each run left ~0.1-0.2 GB)
        atexit.register(shutil.rmtree, home, True)
    shutil.rmtree(home / "corpus", ignore_errors=True)
    corpus = _corpus_with_own(home / "corpus", docs)
    settings = Settings.from_env(environ={}, home=home, corpus=corpus, index=home / "index")
    build_index(settings, progress=False)
    pipe = Pipeline(settings)
    for f in corpus_report(corpus).files:
        if (docs / f.file).exists():
            print(f"{f.file}: layout {f.layout}, {f.questions} questions, {f.prose} prose passages, "
                  f"{f.hidden_chars} characters hidden")
    exact = all(pipe.index.file_text(p.source)[p.start:p.end] == p.text for p in pipe.index.passages)
    print(f"every passage slices its file exactly: {'yes' if exact else 'NO'}")
    stats: dict[str, list[int]] = {}
    misses = []
    for r in load_questions(questions):
        st = stats.setdefault(r["kind"], [0, 0, 0, 0])  # n, found / rank 1, top 3, refused
        st[0] += 1
        if r["kind"] == "exact":
            # the parser made the question a passage of its own: one whose title it is
            heading = normalise(r["gold"][0]["any"][0])
            found = any(p.kind == "qa" and is_relevant(p, r["gold"]) and heading in normalise(p.title or "")
                        for p in pipe.index.passages)
            st[1] += found
            if not found:
                misses.append(f"not parsed: {r['gold'][0]['source']}: {r['question']}")
            continue
        res = pipe.search(r["question"], k=5)
        rank = _rank(res.hits, r["gold"])
        st[1] += rank == 1
        st[2] += rank is not None and rank <= 3
        st[3] += res.refused
        if rank != 1:
            top = res.hits[0].passage if res.hits else None
            where = f"{top.source}: {top.title or f'({top.kind})'}" if top else "none"
            misses.append(f"{r['kind']} rank {rank or '>5'}{' (refused)' if res.refused else ''}: "
                          f"“{r['question']}”; rank 1: {where}")
    for kind, (n, ok, top3, refused) in stats.items():
        if kind == "exact":
            print(f"exact questions found: {ok}/{n}")
        else:
            print(f"{kind}: rank 1 {ok}/{n}, top 3 {top3}/{n}, refused {refused}")
    print("\n".join(misses))


if __name__ == "__main__":
    main()
