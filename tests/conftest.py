"""Shared fixtures: the real corpus, the real embedding model, one index per session.

The session index is built with every outbound connection refused, so the suite
proves ingestion and querying work offline.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
DEV = ROOT / "eval" / "dev.jsonl"
RAG = [sys.executable, "-m", "rag"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def under_ci() -> bool:
    """True when the CI runs the suite (it sets CI=true): then nothing may be skipped."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


# Under CI a skip means a real component (llama_cpp, uvicorn, streamlit, playwright,
# chromium) is missing, and a suite that passes without it proves nothing: every skip,
# whether from a skipif mark, pytest.skip() or a module's importorskip, fails the run.
_ci_skips: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if under_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"CI=true: this test may not skip ({reason})"


def pytest_collectreport(report):
    if under_ci() and report.skipped:  # a whole module skipped at import time
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _ci_skips.append(f"{report.nodeid}: {reason}")


def pytest_terminal_summary(terminalreporter):
    for line in _ci_skips:
        terminalreporter.write_line(f"CI=true: skipped module fails the run: {line}", red=True)


def pytest_sessionfinish(session, exitstatus):
    if _ci_skips and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


class NetworkBlocked(RuntimeError):
    pass


@pytest.fixture(scope="session")
def network_attempts():
    """Refuse every non-loopback connection for the whole session; record the attempts."""
    attempts: list[object] = []
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1") or host.startswith("/")):
            return real_connect(self, address)
        attempts.append(address)
        raise NetworkBlocked(f"test blocked a connection to {address!r}")

    socket.socket.connect = guarded
    yield attempts
    socket.socket.connect = real_connect


@pytest.fixture(scope="session")
def rag_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("rag_home")


@pytest.fixture(scope="session")
def local_models(rag_home) -> Path | None:
    """The session's assembled local model folder, or None without the model parts.

    Every data directory assembles its own 1 GB copy of the model, so tests that make a
    data directory of their own link this folder in (``share_model``) instead: fourteen
    copies filled the CI machine's disk in the middle of a run. The first test to ask for
    it assembles and checks the model (~10 s, once a session), whether or not it then
    loads it.
    """
    from rag.generate import local_available, local_model_path

    return local_model_path(rag_home).parent if local_available() else None


def share_model(home: Path, models: Path | None) -> Path:
    """Make ``home`` (if missing) with ``models`` linked in as its model folder; return it."""
    home.mkdir(parents=True, exist_ok=True)
    if models is not None and not os.path.lexists(home / "models"):
        (home / "models").symlink_to(models, target_is_directory=True)
    return home


@pytest.fixture(scope="session")
def settings(rag_home, network_attempts):
    from rag.config import Settings

    return Settings.from_env(environ={}, home=rag_home, corpus=CORPUS)


@pytest.fixture(scope="session")
def build_report(settings):
    from ingest.build import build_index

    return build_index(settings, progress=False)


@pytest.fixture(scope="session")
def pipeline(settings, build_report):
    from rag.pipeline import Pipeline

    return Pipeline(settings)


@pytest.fixture(scope="session")
def index(pipeline):
    return pipeline.index


@pytest.fixture(scope="session")
def cli_env(rag_home, build_report) -> dict[str, str]:
    """Environment for running the real ``rag`` entry point against the session index."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_HOME=str(rag_home), RAG_CORPUS=str(CORPUS), HF_HUB_OFFLINE="1", COLUMNS="120")
    return env


@pytest.fixture(scope="session")
def run_cli(cli_env):
    """Run ``python -m rag ARGS`` and return the CompletedProcess (text mode)."""

    def run(*args: str, stdin: str | None = None, env: dict | None = None, timeout: float = 300):
        return subprocess.run(RAG + list(args), input=stdin, capture_output=True, text=True,
                              env=env or cli_env, timeout=timeout, cwd=ROOT)

    return run


def free_port() -> int:
    """A loopback port nobody listens on (at the moment of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(cmd: list[str], health_url: str, name: str, env: dict | None = None, timeout: float = 120):
    """Run a server process until ``health_url`` answers; stop it afterwards."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + timeout
        while True:
            try:
                urllib.request.urlopen(health_url, timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"{name} exited with {proc.returncode}")
                if time.time() > deadline:
                    pytest.fail(f"{name} did not start in {timeout:.0f} s")
                time.sleep(0.5)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
