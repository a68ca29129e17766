"""This project's side of benchmarks/run.py, in its own process (for time and memory).

  ours.py warm    quality and warm latency over the eval sets, as JSON (RAG_HOME set by run.py)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def warm() -> None:
    from rag.evaluate import evaluate, load_questions
    from benchmarks import bundled_settings
    from rag.pipeline import Pipeline

    pipe = Pipeline(bundled_settings())
    dev = evaluate(pipe, load_questions(ROOT / "eval" / "dev.jsonl"))
    cmp = evaluate(pipe, load_questions(ROOT / "eval" / "compare.jsonl"))
    rows = [json.loads(l) for f in ("dev.jsonl", "compare.jsonl")
            for l in (ROOT / "eval" / f).read_text().splitlines() if l.strip()]
    answerable = [r for r in rows if r["answerable"]]
    lengths, latencies = [], []
    for r in answerable * 3:
        t0 = time.perf_counter()
        res = pipe.search(r["question"], k=10)
        latencies.append(time.perf_counter() - t0)
        lengths.extend(len(h.passage.text) for h in res.hits[:5])
    print(json.dumps({"hit1": dev.hit1, "hit5": dev.hit5, "mrr10": dev.mrr10,
                      "compare_coverage": cmp.compare_coverage, "compare_precision": cmp.compare_precision,
                      "refused": f"{dev.refused_unanswerable}/{dev.unanswerable}",
                      "wrongly_refused": f"{dev.refused_answerable}/{dev.answerable}",
                      "mean_passage_chars": sum(lengths) / len(lengths), "latencies": latencies}))


if __name__ == "__main__":
    {"warm": warm}[sys.argv[1]]()
