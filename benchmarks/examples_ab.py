"""The answer prompt with and without its worked examples, on the same questions.

Usage:
  .venv/bin/python -m benchmarks.examples_ab {with,without} OUT.jsonl SET[:odd] ...

``with`` is the prompt as it stands (rules, then ``rag.generate.EXAMPLES`` as earlier
turns); ``without`` is the rules alone (the prompt before the examples). Every
question is answered with the local model through ``Pipeline.ask`` (the path the app
and ``rag ask -g local`` take); each final answer is scored by ``rag.evaluate``'s
rules (never by the citation checker), and OUT gets one line per question with the
model's raw reply, the final answer, the sentences shown and the passages each cites,
for labelling by annotators who never see the checker's verdicts. ``SET:odd`` keeps
the odd ids only (the tuning half of ``eval/dev.jsonl``).

Prints the ``rag eval --answers --json`` figures plus the median time to first token.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load(specs: list[str]) -> list[dict]:
    """Question rows of the named sets (``path`` or ``path:odd``)."""
    from rag.evaluate import load_questions

    rows = []
    for spec in specs:
        path, _, which = spec.partition(":")
        got = load_questions(Path(path))
        rows += [r for r in got if which != "odd" or int(r["id"][1:]) % 2 == 1]
    return rows


def main(argv: list[str]) -> None:
    import rag.generate as generate
    from benchmarks import bundled_settings
    from rag.evaluate import evaluate_answers
    from rag.pipeline import Pipeline

    if len(argv) < 3 or argv[0] not in ("with", "without"):
        raise SystemExit(__doc__)
    variant, out, specs = argv[0], Path(argv[1]), argv[2:]
    if variant == "without":
        generate.prefix_messages = lambda: [{"role": "system", "content": generate.SYSTEM_PROMPT}]
    pipe = Pipeline(bundled_settings())
    pipe.ask("What is dropout?", generator="local")  # load the model, evaluate the fixed prefix
    ttfts = []
    with out.open("w", encoding="utf-8") as fh:
        def record(row, ans, verdict):
            by_n = {c.n: c.passage for c in ans.citations}
            if ans.stats.get("ttft_s") is not None:
                ttfts.append(ans.stats["ttft_s"])
            fh.write(json.dumps({
                "id": row.get("id"), "question": row["question"], "answerable": row["answerable"],
                "generator": ans.generator, "answer": ans.text, "verdict": verdict,
                "raw": ans.stats.get("raw"), "dropped": ans.stats.get("dropped", []),
                "context_ids": ans.stats.get("context_ids", []),  # the prompt's passages, in order
                "ttft": ans.stats.get("ttft_s"), "fallback": ans.stats.get("fallback"), "notices": list(ans.notices),
                "sentences": [s.text for s in ans.sentences],
                "shown": [{"text": s.text, "passages": [f"{by_n[n].title or ''}\n{by_n[n].answer}" for n in s.cites]}
                          for s in ans.sentences] if ans.generator == "local" else [],
            }) + "\n")
            fh.flush()

        report = evaluate_answers(pipe, load(specs), "local", on_answer=record).to_json()
    report.pop("failures")
    report["ttft_median"] = round(statistics.median(ttfts), 3) if ttfts else None
    print(variant, json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
