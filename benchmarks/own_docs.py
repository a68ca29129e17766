"""The bundled five plus documents of one's own: are the new ones found, and are the five unchanged?

Builds two indexes in a scratch data directory: the bundled corpus alone, and the
bundled corpus plus every file of ``eval/own_docs/`` (a Markdown-headed Q&A article, a
``Question:``/``Answer:`` article and a prose explainer). Then measures, with the
questions of ``eval/own_docs.jsonl`` (written before any retrieval was run on these
documents):

- the questions the parser finds in each new Q&A document against the questions the
  question set names, and that every passage slices its file exactly;
- reworded questions (``kind: reworded``): a gold passage at rank 1;
- facts in the prose explainer (``kind: fact``): a gold passage in the top 3, and the
  longest prose passage;
- ``rag ask`` (quotes only) cites a gold passage;
- the five's own compare rows (``eval/compare.jsonl``): each source's covered verdict
  with and without the new documents, and the new documents' own verdicts;
- the topic map: whether each pair of the five's questions is grouped the same way.

Run: ``python -m benchmarks.own_docs [--out benchmarks/own_docs.md]``
(uses ``$RAG_HOME`` if set, else a temporary folder).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.build import build_index  # noqa: E402
from ingest.report import corpus_report  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.evaluate import is_relevant, load_questions  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402

OWN = ROOT / "eval" / "own_docs"


def _corpus_with_own(folder: Path, own: Path = OWN) -> Path:
    """The bundled five and every file of ``own``, copied into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for p in list((ROOT / "corpus").iterdir()) + list(own.iterdir()):
        if p.is_file():
            shutil.copy2(p, folder / p.name)
    return folder


def _rank(hits, gold) -> int | None:
    for h in hits:
        if is_relevant(h.passage, gold):
            return h.rank
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="also write the report as Markdown here")
    args = ap.parse_args()
    home = Path(os.environ.get("RAG_HOME") or tempfile.mkdtemp(prefix="own_docs_"))
    if not os.environ.get("RAG_HOME"):  # a folder of its own is removed at exit (each run left ~0.1-0.2 GB)
        atexit.register(shutil.rmtree, home, True)
    scratch = home / "own_docs"  # kept under a given RAG_HOME: the index below stays current for a rerun
    five = Settings.from_env(environ={}, home=home, corpus=ROOT / "corpus", index=home / "index_five")
    both = Settings.from_env(environ={}, home=home, corpus=_corpus_with_own(scratch / "corpus"),
                             index=home / "index_own")
    for s in (five, both):
        build_index(s, progress=False)
    p5, p8 = Pipeline(five), Pipeline(both)
    rows = load_questions(ROOT / "eval" / "own_docs.jsonl")
    out: list[str] = [f"# Own documents beside the bundled five ({time.strftime('%Y-%m-%d')}, "
                      f"{os.cpu_count()} cores)", ""]

    # 1. Parsing: the questions named by the question set, found with exact offsets.
    report = corpus_report(both.corpus)
    expected: dict[str, set[str]] = {}
    for r in rows:
        if r["kind"] == "reworded":
            for g in r["gold"]:
                expected.setdefault(g["source"], set()).update(g["any"])
    out += ["## Parsing", "", "| file | layout | questions found | named by the question set | all found | "
            "prose passages | longest prose passage (chars) | hidden chars |", "|---|---|---|---|---|---|---|---|"]
    exact = all(p8.index.file_text(p.source)[p.start:p.end] == p.text for p in p8.index.passages)
    for f in report.files:
        passages = [p for p in p8.index.passages if p.source == f.file]
        titles = {p.title for p in passages if p.kind == "qa"}
        want = expected.get(f.file, set())
        longest = max((len(p.text) for p in passages if p.kind == "prose"), default=0)
        out.append(f"| {f.file} | {f.layout} | {f.questions} | {len(want) or '–'} | "
                   f"{'yes' if want <= titles else 'NO: ' + '; '.join(sorted(want - titles))} | "
                   f"{f.prose} | {longest or '–'} | {f.hidden_chars:,} |")
    five_q = sum(p.kind == "qa" for p in p8.index.passages if p.source in p5.index.sources)
    out += ["", f"Every passage slices its file exactly: {'yes' if exact else 'NO'}. "
            f"Questions in the five bundled files: {five_q}.", ""]

    # 2. Retrieval and answers on the new documents.
    stats: dict[str, dict] = {}
    misses = []
    for r in rows:
        res = p8.search(r["question"], k=5)
        rank = _rank(res.hits, r["gold"])
        ans = p8.answer(res, generator="extractive")
        cited = any(is_relevant(c.passage, r["gold"]) for c in ans.citations)
        s = stats.setdefault(r["kind"], {"n": 0, "r1": 0, "r3": 0, "r5": 0, "cited": 0, "refused": 0})
        s["n"] += 1
        s["r1"] += rank == 1
        s["r3"] += rank is not None and rank <= 3
        s["r5"] += rank is not None
        s["cited"] += cited
        s["refused"] += res.refused
        if rank != 1:
            top = res.hits[0].passage if res.hits else None
            misses.append(f"- {r['id']} ({r['kind']}) rank {rank or '>5'}: “{r['question']}” — top: "
                          f"{top.ref + ': ' + (top.title or '') if top else 'none'}")
    out += ["## Retrieval on the new documents (`eval/own_docs.jsonl`)", "",
            "| questions | n | gold at rank 1 | gold in top 3 | gold in top 5 | refused | `ask` (quotes) cites gold |",
            "|---|---|---|---|---|---|---|"]
    for kind, s in stats.items():
        n = s["n"]
        out.append(f"| {kind} | {n} | {s['r1']}/{n} ({s['r1'] / n:.0%}) | {s['r3']}/{n} ({s['r3'] / n:.0%}) | "
                   f"{s['r5']}/{n} | {s['refused']} | {s['cited']}/{n} ({s['cited'] / n:.0%}) |")
    out += ["", "Not at rank 1:", ""] + (misses or ["- none"]) + [""]

    # 3. Compare: the five's own rows, each source's verdict with and without the new documents.
    crow = load_questions(ROOT / "eval" / "compare.jsonl")
    changed, total, new_covered = [], 0, 0
    for r in crow:
        a = {s.source: s.covered for s in p5.compare(r["question"]).sources}
        b_sources = p8.compare(r["question"]).sources
        b = {s.source: s.covered for s in b_sources}
        for src, verdict in a.items():
            total += 1
            if b.get(src) != verdict:
                changed.append(f"- {r['id']} “{r['question']}”: {src} {verdict} → {b.get(src)}")
        new_covered += sum(s.covered for s in b_sources if s.source not in a)
    out += ["## Compare: the five's own questions (`eval/compare.jsonl`)", "",
            f"Per-source verdicts unchanged with the new documents: {total - len(changed)}/{total}. "
            f"New documents judged covering: {new_covered} verdicts over {len(crow)} rows.", ""]
    out += changed or ["(no verdict changed)"]
    out.append("")

    # 4. Topics: are the five's questions grouped the same way?
    def grouping(pipe):
        group = {}
        for i, t in enumerate(pipe.topics().topics):
            for p in t.questions:
                group[(p.source, p.start)] = i
        return group

    g5, g8 = grouping(p5), grouping(p8)
    keys = sorted(g5)
    same = sum((g5[a] == g5[b]) == (g8[a] == g8[b]) for a, b in combinations(keys, 2))
    pairs = len(keys) * (len(keys) - 1) // 2
    moved = sum(1 for k in keys if {x for x in keys if g5[x] == g5[k]} != {x for x in keys if g8[x] == g8[k]})
    tmap = p8.topics()
    new_srcs = set(p8.index.sources) - set(p5.index.sources)
    with_new = sum(1 for t in tmap.topics if set(t.by_source) & new_srcs)
    shared = sum(1 for t in tmap.topics if set(t.by_source) & new_srcs and set(t.by_source) - new_srcs)
    out += ["## Topics", "",
            f"Pairs of the five's questions grouped the same way (together or apart): {same}/{pairs} "
            f"({same / pairs:.1%}); questions of the five whose group of five's questions changed: {moved}/{len(keys)}.",
            f"Topics holding a new document's passages: {with_new} (shared with a bundled source: {shared}).", ""]
    text = "\n".join(out)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
