"""How well the citation check separates supported sentences from unsupported ones.

Scored on ``eval/answers.jsonl``: sentences of real local-model answers, each labelled
by an annotator who saw only the question, the sentence and the passages it cites
(never the checker or its verdicts): ``supported``, ``partly`` or ``not_supported``.

The check's verdict for a row is what ``rag.citations.check_citations`` decides for
the sentence citing those passages. Reported per half (see eval/README.md): ``tune``
and ``report`` (the first two labelled batches) have both been used to choose the
check's rules and thresholds; ``held_out`` was generated and labelled afterwards and
never used to change the check.

    python -m benchmarks.support_check [--json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "eval" / "answers.jsonl"


def _half(row: dict) -> str:
    return row["half"]


def verdicts(pipeline, rows: list[dict]) -> list[bool]:
    """The checker's verdict (supported or not) for each labelled sentence."""
    from rag.citations import check_citations

    by_key = {(p.source, p.start): p for p in pipeline.index.passages}
    out = []
    for row in rows:
        passages = [by_key[(p["source"], p["start"])] for p in row["passages"]]
        marks = "".join(f" [{n}]" for n in range(1, len(passages) + 1))
        checked = check_citations(row["sentence"] + marks, passages, pipeline.index.encoder,
                                  pipeline.retriever.vocab, row["question"])
        out.append(bool(checked.sentences) and all(s.supported for s in checked.sentences))
    return out


def score(rows: list[dict], flags: list[bool]) -> dict:
    """Catch rate of 'not supported' (and of 'partly'), false-flag rate of 'supported'."""
    def rate(label: str) -> tuple[int, int]:
        idx = [i for i, r in enumerate(rows) if r["label"] == label]
        return sum(not flags[i] for i in idx), len(idx)

    ns, ns_n = rate("not_supported")
    pa, pa_n = rate("partly")
    su, su_n = rate("supported")
    flagged = ns + pa + su
    return {
        "sentences": len(rows),
        "not_supported": ns_n, "partly": pa_n, "supported": su_n,
        "not_supported_caught": round(ns / ns_n, 3) if ns_n else None,
        "partly_caught": round(pa / pa_n, 3) if pa_n else None,
        "supported_flagged": round(su / su_n, 3) if su_n else None,
        "flag_precision": round((ns + pa) / flagged, 3) if flagged else None,
    }


def main() -> None:
    from benchmarks import bundled_settings
    from rag.pipeline import Pipeline

    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]
    pipe = Pipeline(bundled_settings())
    flags = verdicts(pipe, rows)
    halves = list(dict.fromkeys(_half(r) for r in rows))
    report = {half: score([r for r in rows if _half(r) == half], [f for r, f in zip(rows, flags) if _half(r) == half])
              for half in halves}
    report["all"] = score(rows, flags)
    if "--json" in sys.argv:
        print(json.dumps(report, indent=1))
        return
    print(f"{'half':8} {'n':>4} {'not supp.':>9} {'caught':>7} {'partly':>7} {'caught':>7} {'supp.':>6} {'flagged':>8}")
    for half, r in report.items():
        print(f"{half:8} {r['sentences']:>4} {r['not_supported']:>9} {r['not_supported_caught']!s:>7} "
              f"{r['partly']:>7} {r['partly_caught']!s:>7} {r['supported']:>6} {r['supported_flagged']!s:>8}")
    if "--misses" in sys.argv:
        for r, f in zip(rows, flags):
            if (r["label"] == "supported") == f:
                continue  # the check agrees with the label
            print(f"{_half(r):6} {r['label']:13} check={'supported' if f else 'flagged'}: {r['sentence'][:150]}")


if __name__ == "__main__":
    main()
