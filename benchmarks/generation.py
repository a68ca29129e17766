"""Generation per backend: time to first token, tokens/s, total time, peak memory, and
citation quality over the dev set's answerable questions.

Usage: .venv/bin/python benchmarks/generation.py [--limit N] [--backends local,api,extractive]
The API backend is measured against `python -m llama_cpp.server` started here on
loopback with the same GGUF. Writes benchmarks/generation.md and prints it.

Citation figures, judged by the checker's support score (>= 0.5):
- raw precision: of the markers the model wrote that point at a passage, the share
  whose passage supports the sentence (what an unchecked pipeline would show);
- checked precision: the same share after checking (kept or re-attached citations);
- supported: the share of answer sentences backed by a cited passage.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.speed import machine  # noqa: E402


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(model: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "4096", "--model_alias", "qwen-local"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(240):
        try:
            urllib.request.urlopen(url + "/models", timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("server did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="answerable questions per backend (0 = all)")
    ap.add_argument("--backends", default="local,api,extractive")
    args = ap.parse_args()

    from rag import citations, generate
    from benchmarks import bundled_settings
    from rag.pipeline import Pipeline

    rows = [json.loads(l) for l in (ROOT / "eval/dev.jsonl").read_text().splitlines() if l.strip()]
    answerable = [r for r in rows if r["answerable"]]
    if args.limit:
        answerable = answerable[: args.limit]
    unanswerable = [r for r in rows if not r["answerable"]]
    pipe = Pipeline(bundled_settings())
    model = generate.local_model_path(pipe.settings.home)

    raw_checks: list[tuple[str, list[int], list]] = []
    original_check = citations.check_citations

    def spy(text, passages, encoder):
        parts, _ = citations._split_with_markers(text, len(passages))
        raw_checks.append((text, parts, passages))
        return original_check(text, passages, encoder)

    citations.check_citations = spy  # answer_with_model imports it at call time

    results = {}
    server = None
    for backend in args.backends.split(","):
        p = pipe
        if backend == "api":
            server, url = start_server(model)
            p = Pipeline(dataclasses.replace(pipe.settings, api_base=url, api_model="qwen-local", api_key="x"),
                         index=pipe.index)
        raw_checks.clear()
        stats, sentences, supported, fallbacks = [], 0, 0, 0
        for r in answerable:
            ans = p.ask(r["question"], generator=backend)
            if ans.generator != backend:
                fallbacks += 1
            stats.append(ans.stats)
            sentences += len(ans.sentences)
            supported += sum(s.supported and bool(s.cites) for s in ans.sentences)
        refused = sum(p.ask(r["question"], generator=backend).refused for r in unanswerable)
        def backs(sentence: str, passage) -> bool:
            single = original_check(sentence, [passage], pipe.index.encoder)
            return bool(single.sentences and single.sentences[0].supported)

        raw_total = raw_ok = final_total = final_ok = 0
        for text, parts, passages in raw_checks:
            for sent, cites in parts:  # the model's own markers
                raw_total += len(cites)
                raw_ok += sum(backs(sent, passages[c - 1]) for c in cites)
            checked = original_check(text, passages, pipe.index.encoder)
            for s in checked.sentences:  # the markers left after checking
                final_total += len(s.cites)
                final_ok += sum(backs(s.text, checked.citations[n - 1].passage) for n in s.cites)
        ttft = [s["ttft_s"] for s in stats if s.get("ttft_s") is not None]
        tps = [s["tokens_per_s"] for s in stats if s.get("tokens_per_s")]
        total = [s["total_s"] for s in stats if s.get("total_s")]
        mem = rss_mb(server.pid) if backend == "api" and server else rss_mb()
        results[backend] = {
            "questions": len(answerable), "fallbacks": fallbacks,
            "ttft_s": statistics.median(ttft) if ttft else None,
            "tokens_per_s": statistics.median(tps) if tps else None,
            "total_s": statistics.median(total) if total else None,
            "peak_rss_mb": mem,
            "supported_sentences": supported / sentences if sentences else None,
            "raw_precision": raw_ok / raw_total if raw_total else None,
            "checked_precision": final_ok / final_total if final_total else None,
            "out_of_corpus_refused": f"{refused}/{len(unanswerable)}",
        }
        if server:
            server.terminate()
            server.wait()
            server = None

    def f(v, spec):
        return "–" if v is None else format(v, spec)

    lines = [f"Generation, {machine()}, {time.strftime('%Y-%m-%d')}; medians over {len(answerable)} answerable dev questions.",
             "", "| backend | time to first token | tokens/s | total | peak RSS | sentences supported | citation precision raw → checked | out-of-corpus refused |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {f(r['ttft_s'], '.2f')} s | {f(r['tokens_per_s'], '.1f')} | {f(r['total_s'], '.1f')} s | "
                     f"{r['peak_rss_mb']:.0f} MB | {f(r['supported_sentences'], '.2f')} | "
                     f"{f(r['raw_precision'], '.2f')} → {f(r['checked_precision'], '.2f')} | {r['out_of_corpus_refused']} |"
                     + (f" ({r['fallbacks']} fell back)" if r["fallbacks"] else ""))
    out = "\n".join(lines)
    (ROOT / "benchmarks" / "generation.md").write_text(out + "\n")
    print(out)


if __name__ == "__main__":
    main()
