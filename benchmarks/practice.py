"""Practice grading against hand-labelled answers (eval/practice.jsonl; see eval/README.md).

For every labelled answer, grade it with ``rag.practice.grade`` and compare, point by
point, the grader's covered/missed decision with the label, and whether each sentence
labelled as a wrong or off-source claim is in ``unsupported``. The labels are read
from the file, never from the grader. Prints the figures per split (``tune``: looked
at while choosing thresholds; ``heldout``: never tuned on) and the disagreements.

    python -m benchmarks.practice [--split heldout] [--verbose] [--timing] [--browser 10]

``--timing`` times ``grade`` on a warm pipeline (the question prepared, as the page
and the CLI do while the user writes); ``--browser N`` starts ``streamlit run`` and, in
Debian's Chromium, times N rounds from the click on "Check my answer" (a 100-word
answer) to the feedback on the page, measured in the page (``performance.now()`` at
the click, a MutationObserver for ``.practice-final``). No model is involved.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load(path: Path) -> list[dict]:
    """The labelled rows."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score_rows(pipe, rows: list[dict], verbose: bool = False) -> dict:
    """Point-level precision/recall of 'covered', wrong-claim catch rates, and the misses."""
    from rag.practice import grade

    tp = fp = fn = tn = 0
    claims = caught = answers_wrong = answers_caught = false_flags = true_sentences = 0
    stale = 0
    problems = []
    for row in rows:
        fb = grade(pipe, row["question"], row["answer"])
        got = {r.point.text: r.covered for r in fb.points}
        for text, label in zip(row["points"], row["covered"]):
            if text not in got:
                stale += 1  # the grader's points changed since labelling: not scored
                continue
            pred = got[text]
            tp += pred and label
            fp += pred and not label
            fn += label and not pred
            tn += not pred and not label
            if pred != label:
                problems.append((row["id"], "covered" if pred else "missed", label, text))
        flagged = set(fb.unsupported)
        wrong = set(row["wrong_claims"])
        claims += len(wrong)
        caught += len(wrong & flagged)
        if wrong:
            answers_wrong += 1
            answers_caught += bool(wrong & flagged)
        for s in wrong - flagged:
            problems.append((row["id"], "wrong claim passed", True, s))
        from rag.keyword import tokenize
        from rag.practice import MIN_CLAIM_WORDS, split_answer

        for s in split_answer(row["answer"]):
            if s not in wrong and len(tokenize(s)) >= MIN_CLAIM_WORDS:
                true_sentences += 1
                if s in flagged:
                    false_flags += 1
                    problems.append((row["id"], "true sentence flagged", False, s))
    if verbose:
        for p in problems:
            print("  ", *p)
    prec = tp / (tp + fp) if tp + fp else float("nan")
    rec = tp / (tp + fn) if tp + fn else float("nan")
    missed_prec = tn / (tn + fn) if tn + fn else float("nan")
    missed_rec = tn / (tn + fp) if tn + fp else float("nan")
    return {"answers": len(rows), "points": tp + fp + fn + tn, "stale_points": stale,
            "covered_precision": round(prec, 3), "covered_recall": round(rec, 3),
            "missed_precision": round(missed_prec, 3), "missed_recall": round(missed_rec, 3),
            "wrong_claims": claims, "wrong_claims_caught": caught,
            "answers_with_wrong_claim": answers_wrong, "answers_wrong_claim_caught": answers_caught,
            "answer_catch_rate": round(answers_caught / answers_wrong, 3) if answers_wrong else None,
            "true_sentences": true_sentences, "true_sentences_flagged": false_flags}


def timing(pipe, runs: int = 20) -> dict:
    """Seconds to grade a 100-word answer on a warm pipeline (what the page waits for)."""
    from rag.practice import grade

    answer = ANSWER_100
    times = []
    for i in range(runs):
        t = time.perf_counter()
        grade(pipe, "What is dropout?", answer)
        times.append(time.perf_counter() - t)
    times.sort()
    return {"words": len(answer.split()), "runs": runs, "median_s": round(statistics.median(times), 4),
            "p90_s": round(times[int(0.9 * (runs - 1))], 4)}


ANSWER_100 = ("Dropout is a regularization technique that prevents overfitting. During training it randomly "
              "switches off a fraction of the neurons at each update, so the network cannot rely on a few of "
              "them and has to learn more robust features. That improves generalization to new data. It is "
              "usually applied to the hidden layers rather than the input or output layers. At inference time "
              "all neurons are used. It is cheap to add and works well with large networks, and it is often "
              "combined with other regularization methods such as weight decay or early stopping in practice. "
              "Typical dropout rates are between a fifth and a half.")

_WATCH = """
() => {
  window.__fb = {clicked: null, shown: null};
  const btn = [...document.querySelectorAll('button')].find(b => b.innerText.trim() === 'Check my answer');
  btn.addEventListener('click', () => { window.__fb.clicked = performance.now(); }, {capture: true, once: true});
  document.querySelectorAll('.practice-final').forEach(e => e.classList.add('stale'));
  new MutationObserver(() => {
    if (window.__fb.clicked !== null && window.__fb.shown === null
        && document.querySelector('.practice-final:not(.stale)')) window.__fb.shown = performance.now();
  }).observe(document.body, {subtree: true, childList: true});
}
"""


def browser_timing(rounds: int) -> dict:
    """Seconds from the click on "Check my answer" to the feedback in a real browser."""
    import os
    import subprocess
    import sys
    import urllib.request

    from playwright.sync_api import sync_playwright

    from tests.conftest import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"practice-bench-{port}.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py"),
                               "--server.port", str(port), "--server.address", "127.0.0.1",
                               "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                              cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    times = []
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError("streamlit did not start")
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(120_000)
            page.goto(url + "/practice")
            page.wait_for_selector("text=Check my answer")
            page.get_by_text("Quotes only").click()  # no model: the point lists are the whole feedback
            page.get_by_text("Answering: Quotes only").first.wait_for()
            for i in range(rounds + 1):  # the first round warms up the page
                if i:
                    page.get_by_role("button", name="New question").click()
                    page.wait_for_function("() => !document.querySelector('.practice-final')")
                page.get_by_label("Your answer").fill(ANSWER_100)
                page.evaluate(_WATCH)
                page.get_by_role("button", name="Check my answer").click()
                page.wait_for_function("() => window.__fb.shown !== null", timeout=60_000, polling=50)
                fb = page.evaluate("() => window.__fb")
                if i:
                    times.append((fb["shown"] - fb["clicked"]) / 1000)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    times.sort()
    return {"rounds": rounds, "words": len(ANSWER_100.split()), "median_s": round(statistics.median(times), 3),
            "p90_s": round(times[int(0.9 * (len(times) - 1))], 3), "max_s": round(times[-1], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=ROOT / "eval" / "practice.jsonl")
    parser.add_argument("--split", choices=["tune", "heldout", "all"], default="all")
    parser.add_argument("--verbose", action="store_true", help="print every disagreement")
    parser.add_argument("--timing", action="store_true", help="also time grading a 100-word answer")
    parser.add_argument("--browser", type=int, default=0, metavar="N", help="also time N rounds in a real browser")
    args = parser.parse_args()
    from benchmarks import bundled_settings
    from rag.pipeline import Pipeline

    pipe = Pipeline(bundled_settings())
    rows = load(args.file)
    for split in (["tune", "heldout"] if args.split == "all" else [args.split]):
        part = [r for r in rows if r["split"] == split]
        print(split, json.dumps(score_rows(pipe, part, args.verbose)))
    if args.timing:
        print("timing", json.dumps(timing(pipe)))
    if args.browser:
        print("browser", json.dumps(browser_timing(args.browser)))


if __name__ == "__main__":
    main()
