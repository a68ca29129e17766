"""How the index grows: build time, size on disk and query latency at 10k and 100k chunks.

Synthetic corpora are made from the real one: each synthetic passage copies a real
passage's text, with its embedding perturbed by Gaussian noise (sigma 0.15, then
renormalised: a "paraphrase" at the vector level) and its BM25 tokens shuffled with
a tenth dropped. Queries are the dev questions, through the real ``Retriever``.
Embedding 100k real chunks is not feasible here (~20 min on 2 cores), so ingest time
is extrapolated from measured MiniLM throughput and said to be.

Usage: .venv/bin/python benchmarks/scale.py   -> benchmarks/scale.md
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.speed import machine, pct  # noqa: E402


def synthetic_index(real, n: int, kind: str, rng: np.random.Generator):
    import faiss

    from ingest.build import make_faiss_index
    from rag.index import Index
    from rag.keyword import BM25

    P = len(real.passages)
    src = np.arange(n) % P
    t0 = time.perf_counter()
    first_chunk = {int(p): i for i, p in reversed(list(enumerate(real.chunk_passage)))}
    chunk_vecs = real.dense.reconstruct_n(0, real.dense.ntotal)[[first_chunk[int(p)] for p in src]]
    title_vecs = real.titles.reconstruct_n(0, real.titles.ntotal)[src]

    def jitter(m):
        m = m + rng.normal(0, 0.15 / np.sqrt(384), m.shape).astype(np.float32) * np.sqrt(384)
        return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)

    chunk_vecs, title_vecs = jitter(chunk_vecs), jitter(title_vecs)
    t_vec = time.perf_counter() - t0
    t0 = time.perf_counter()
    if kind == "flat":
        dense, titles = faiss.IndexFlatIP(384), faiss.IndexFlatIP(384)
        dense.add(chunk_vecs)
        titles.add(title_vecs)
    else:
        import ingest.build as b

        old = b.HNSW_FROM
        b.HNSW_FROM = 0
        try:
            dense, titles = make_faiss_index(chunk_vecs), make_faiss_index(title_vecs)
        finally:
            b.HNSW_FROM = old
    t_faiss = time.perf_counter() - t0
    t0 = time.perf_counter()
    kw = json.loads((real.path / "keyword.json").read_text())
    body, title_tok = [], []
    for p in src:
        toks = list(kw["body"][p])
        rng.shuffle(toks)
        body.append(toks[: max(1, int(len(toks) * 0.9))])
        title_tok.append(kw["title"][p])
    kb, kt = BM25(body), BM25(title_tok)
    t_bm25 = time.perf_counter() - t0
    passages = [dataclasses.replace(real.passages[p], id=i) for i, p in enumerate(src)]
    with tempfile.TemporaryDirectory() as tmp:
        faiss.write_index(dense, f"{tmp}/c.faiss")
        faiss.write_index(titles, f"{tmp}/t.faiss")
        (Path(tmp) / "k.json").write_text(json.dumps({"title": title_tok, "body": body}))
        size = sum(f.stat().st_size for f in Path(tmp).iterdir())
    per_passage_json = (real.path / "passages.jsonl").stat().st_size / P
    size += per_passage_json * n * 2  # passages.jsonl + chunks.jsonl, about the same per row
    index = Index(real.path, passages, np.arange(n), dense, titles, kt, kb, real.encoder, real.manifest)
    return index, {"build_s": t_faiss + t_bm25, "faiss_s": t_faiss, "bm25_s": t_bm25, "size_mb": size / 1e6,
                   "vec_s": t_vec}


def main() -> None:
    from benchmarks import bundled_settings
    from rag.pipeline import Pipeline
    from rag.retrieve import Retriever

    pipe = Pipeline(bundled_settings())
    real = pipe.index
    questions = [json.loads(l)["question"] for l in (ROOT / "eval/dev.jsonl").read_text().splitlines() if l.strip()]

    # Embedding throughput, for the ingest-time extrapolation.
    from sentence_transformers import SentenceTransformer

    from ingest.build import model_path

    texts = [json.loads(l)["embed_text"] for l in (real.path / "chunks.jsonl").read_text().splitlines()]
    st = SentenceTransformer(str(model_path()), device="cpu")
    st.encode(texts[:16])
    t0 = time.perf_counter()
    st.encode(texts, batch_size=16)
    per_chunk = (time.perf_counter() - t0) / len(texts)

    rows = []
    base = Retriever(real)
    lat = []
    for q in questions:
        t0 = time.perf_counter()
        base.search(q)
        lat.append(time.perf_counter() - t0)
    rows.append(("real corpus", real.dense.ntotal, "flat", None, (real.path / "chunks.faiss").stat().st_size / 1e6
                 + sum((real.path / f).stat().st_size for f in ("titles.faiss", "keyword.json", "passages.jsonl",
                                                                 "chunks.jsonl")) / 1e6,
                 statistics.median(lat), pct(lat, 0.95), None, real.dense.ntotal * per_chunk))
    for n in (10_000, 100_000):
        flat_top = {}
        for kind in ("flat", "hnsw"):
            index, info = synthetic_index(real, n, kind, np.random.default_rng(n))  # same data for both kinds
            r = Retriever(index)
            lat, recall = [], []
            for q in questions:
                t0 = time.perf_counter()
                res = r.search(q, k=10)
                lat.append(time.perf_counter() - t0)
                ids = [h.passage.id for h in res.hits]
                if kind == "flat":
                    flat_top[q] = ids
                else:
                    recall.append(len(set(ids) & set(flat_top[q])) / 10)
            rows.append((f"synthetic ×{n // real.dense.ntotal}", n, kind, info["build_s"], info["size_mb"],
                         statistics.median(lat), pct(lat, 0.95), statistics.mean(recall) if recall else None,
                         n * per_chunk))
    lines = [f"Scale check, {machine()}, {time.strftime('%Y-%m-%d')}. MiniLM embeds {1 / per_chunk:.0f} chunks/s here.",
             "", "| corpus | chunks | index | index build (FAISS + BM25) | size on disk | query median | query p95 | "
             "top-10 agreement with flat | ingest (embedding, extrapolated) |", "|---|---|---|---|---|---|---|---|---|"]
    for name, n, kind, build, size, med, p95, rec, ingest in rows:
        lines.append(f"| {name} | {n:,} | {kind} | {'–' if build is None else f'{build:.1f} s'} | {size:.1f} MB | "
                     f"{med * 1000:.1f} ms | {p95 * 1000:.1f} ms | {'–' if rec is None else f'{rec:.2f}'} | "
                     f"{ingest / 60:.1f} min |")
    out = "\n".join(lines)
    (ROOT / "benchmarks" / "scale.md").write_text(out + "\n")
    print(out)


if __name__ == "__main__":
    main()
