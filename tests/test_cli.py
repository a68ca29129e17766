"""The ``rag`` command through its real entry point: output, JSON schema, exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from rag.errors import UserError
from tests.conftest import CORPUS, RAG, ROOT

PASSAGE_KEYS = {"rank", "source", "label", "title", "qnum", "section", "text", "start", "end", "score"}


def file_text(source: str) -> str:
    return (CORPUS / source).read_bytes().decode("utf-8")


def test_search_json_schema(run_cli):
    r = run_cli("search", "What is batch normalization?", "-k", "3", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert {"question", "refused", "passages"} <= set(data) and data["refused"] is False
    assert len(data["passages"]) == 3
    for i, p in enumerate(data["passages"], 1):
        assert PASSAGE_KEYS <= set(p) and p["rank"] == i
        assert file_text(p["source"])[p["start"] : p["end"]] == p["text"]


def test_search_table_output(run_cli):
    r = run_cli("search", "What is a GRU?", "-k", "2")
    assert r.returncode == 0 and "What is GRU and How it works?" in r.stdout and "GeeksforGeeks" in r.stdout


def test_refusal_is_success(run_cli):
    r = run_cli("search", "Who wrote Pride and Prejudice?", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["refused"] is True
    r = run_cli("ask", "Who wrote Pride and Prejudice?", "--json", "--generator", "extractive")
    data = json.loads(r.stdout)
    assert r.returncode == 0 and data["refused"] and data["citations"] == []
    assert data["answer"] == "The sources do not cover this."


def test_batch_mode_one_process(run_cli):
    questions = ["What is a GRU?", "", "What is an epoch?", "x" * 2500, "Who wrote Pride and Prejudice?"]
    r = run_cli("search", "--json", "-", "-k", "2", stdin="\n".join(questions) + "\n")
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(lines) == 4  # the blank line is skipped
    assert lines[0]["passages"][0]["qnum"] == 45
    assert "error" in lines[2] and "limit" in lines[2]["error"]
    assert lines[3]["refused"] is True
    assert r.returncode == 1  # one line failed


def test_ask_extractive_json_cites_real_passages(run_cli):
    r = run_cli("ask", "How can the vanishing gradient problem be mitigated?", "--generator", "extractive", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert {"question", "answer", "refused", "generator", "citations"} <= set(data)
    assert data["generator"] == "extractive" and not data["refused"]
    assert data["citations"] and [c["n"] for c in data["citations"]] == list(range(1, len(data["citations"]) + 1))
    for c in data["citations"]:
        assert f"[{c['n']}]" in data["answer"]
        text = file_text(c["source"])
        assert text[c["start"] : c["end"]] == c["text"]
        for part in c["quote"].split(" … "):
            assert part.split(" ", 1)[1][:30] in " ".join(c["text"].split())


def test_ask_text_output(run_cli):
    r = run_cli("ask", "What is dropout?", "--generator", "extractive")
    assert r.returncode == 0 and "[1]" in r.stdout and "answer (extractive)" in r.stdout


@pytest.mark.parametrize("args,code,message", [
    (("search", ""), 1, "error: the question is empty"),
    (("search", "   "), 1, "error: the question is empty"),
    (("search", "q" * 2001), 1, "limit is 2,000"),
    (("search", "dropout", "--source", "nope"), 1, "unknown source 'nope'"),
    (("ask", " ", "-g", "extractive"), 1, "error: the question is empty"),
    (("eval", "no/such/file.jsonl"), 1, "question set not found"),
    (("inspect", "pyproject.toml"), 1, "not a supported format (.txt, .md, .pdf); ingest skips it"),
    (("search",), 2, "Missing argument"),
    (("search", "x", "-k", "0"), 2, "Invalid value"),
    (("ask", "x", "--generator", "gpt9"), 2, "Invalid value"),
    (("frobnicate",), 2, "No such command"),
])
def test_exit_codes_and_one_line_errors(run_cli, args, code, message):
    r = run_cli(*args)
    assert r.returncode == code
    assert message in r.stderr
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    if code == 1:
        assert len(r.stderr.strip().splitlines()) == 1


def test_bad_corpus_is_a_user_error(run_cli, cli_env, tmp_path):
    bad = tmp_path / "corpus"
    bad.mkdir()
    (bad / "x.txt").write_bytes(b"\xff\xfe\x00bad")
    env = dict(cli_env, RAG_HOME=str(tmp_path / "home"))
    r = run_cli("ingest", "--corpus", str(bad), env=env)
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1] == (
        f"error: corpus folder has no document with text to index: {bad} "
        "(x.txt: not UTF-8 text (byte 0); save it as UTF-8)")
    r = run_cli("ingest", "--corpus", str(tmp_path / "missing"), env=env)
    assert r.returncode == 1 and "corpus folder not found" in r.stderr


def test_unknown_setting_is_a_user_error(run_cli, cli_env):
    r = run_cli("search", "x", env=dict(cli_env, RAG_KAY="3"))
    assert r.returncode == 1 and "unknown setting RAG_KAY" in r.stderr


def test_ingest_reports_current_index(run_cli):
    r = run_cli("ingest")
    assert r.returncode == 0 and "Index is current" in r.stdout


def test_eval_command(run_cli):
    r = run_cli("eval", "eval/dev.jsonl", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["hit@1"] >= 0.85 and data["refused_unanswerable"] >= 5 and "misses" in data


def _not_an_index(tmp_path):
    """A user's folder with their own files, and a backup folder beside it."""
    mine = tmp_path / "mydata"
    (mine / "sub").mkdir(parents=True)
    (mine / "notes.txt").write_text("my notes")
    (mine / "sub" / "thesis.tex").write_text("\\documentclass{article}")
    (tmp_path / ".mydata-backup").mkdir()
    (tmp_path / ".mydata-backup" / "keep.txt").write_text("backup")
    (tmp_path / ".mydata-17").mkdir()  # named like a version folder, but not ours
    return mine


def _a_file(tmp_path):
    (tmp_path / "mydata").write_text("a file")
    return tmp_path / "mydata"


def _a_foreign_link(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "data.csv").write_text("1,2")
    (tmp_path / "mydata").symlink_to(tmp_path / "elsewhere")
    return tmp_path / "mydata"


@pytest.mark.parametrize("make", [_not_an_index, _a_file, _a_foreign_link], ids=["folder", "file", "link"])
@pytest.mark.parametrize("how", ["--index", "RAG_INDEX", "search"])
def test_index_location_that_is_not_ours_is_refused(run_cli, cli_env, tmp_path, make, how):
    target = make(tmp_path)
    before = sorted((str(p.relative_to(tmp_path)), p.is_symlink()) for p in tmp_path.rglob("*"))
    env = dict(cli_env, RAG_HOME=str(tmp_path / "home"))
    if how == "--index":
        r = run_cli("ingest", "--index", str(target), env=env)
    elif how == "RAG_INDEX":
        r = run_cli("ingest", env=dict(env, RAG_INDEX=str(target)))
    else:  # a query that would build the index on first use
        r = run_cli("search", "What is dropout?", env=dict(env, RAG_INDEX=str(target)))
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("error: index location") and "refusing" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    after = sorted((str(p.relative_to(tmp_path)), p.is_symlink()) for p in tmp_path.rglob("*")
                   if not str(p.relative_to(tmp_path)).startswith("home"))
    assert after == before  # nothing removed, moved or replaced


@pytest.mark.parametrize("command", [["search"], ["ask", "-g", "extractive"], ["compare"]],
                         ids=["search", "ask", "compare"])
def test_question_argument_that_is_not_utf8(cli_env, command):
    """Raw bytes in argv (not UTF-8) are a one-line user error, not an internal one."""
    r = subprocess.run(RAG + [command[0], b"caf\xe9 dropout?", "--json", *command[1:]],
                       capture_output=True, env=cli_env, cwd=ROOT, timeout=300)
    err = r.stderr.decode("utf-8")
    assert r.returncode == 1, err
    assert err.strip() == "error: the question is not valid UTF-8 text (byte 0xe9 at offset 3)"
    assert r.stdout == b""


@pytest.fixture()
def readonly_home(settings, build_report, tmp_path):
    """A data directory nobody may write, holding a current copy of the session index.

    Permissions do not stop root, so as root the folder is made immutable instead.
    """
    home = tmp_path / "home"
    home.mkdir()
    version = settings.index_dir.resolve()
    shutil.copytree(version, home / version.name, copy_function=shutil.copy2)  # keeps mtimes
    (home / "index").symlink_to(version.name)
    if os.geteuid() == 0:
        made = subprocess.run(["chattr", "+i", str(home)], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"cannot make a folder read-only for root here: {made.stderr.strip()}")
        undo = ["chattr", "-i", str(home)]
    else:
        home.chmod(0o555)
        undo = ["chmod", "755", str(home)]
    try:
        with pytest.raises(OSError):
            (home / "probe").write_text("x")
        yield home
    finally:
        subprocess.run(undo, check=True)


def test_read_only_home(run_cli, cli_env, readonly_home):
    env = dict(cli_env, RAG_HOME=str(readonly_home), HOME=str(readonly_home))
    r = run_cli("ingest", env=env)  # a no-op: needs no lock, writes nothing
    assert r.returncode == 0, r.stderr
    assert "Index is current" in r.stdout
    r = run_cli("search", "What is a GRU?", "--json", env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["passages"][0]["qnum"] == 45
    r = run_cli("ingest", "--force", env=env)  # a build needs to write: a user error
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("error: cannot write the index in") and len(r.stderr.strip().splitlines()) == 1


def test_closed_stdout_exits_quietly(cli_env):
    """`rag search --json - < qs | head -c 100`: exit 141 (128 + SIGPIPE) and no noise."""
    questions = "".join(f"What is dropout, variant {i}?\n" for i in range(300))
    proc = subprocess.Popen(RAG + ["search", "--json", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=cli_env, cwd=ROOT)
    proc.stdin.write(questions.encode())
    proc.stdin.close()
    assert len(proc.stdout.read(100)) == 100
    proc.stdout.close()  # the reader goes away while rag still has lines to write
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141, err
    assert err == ""


def test_ctrl_c_exits_130(cli_env):
    # A shell that starts a job in the background without job control (`make test &`, a
    # CI runner) passes SIGINT down *ignored*, and Python then installs no Ctrl-C handler:
    # the child gets the default disposition a terminal would give it. PYTHONFAULTHANDLER:
    # if it still hangs, SIGABRT below makes it print where every thread is.
    proc = subprocess.Popen(RAG + ["search", "--json", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**cli_env, "PYTHONFAULTHANDLER": "1"}, cwd=ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    proc.stdin.write(b"What is a GRU?\n")
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["passages"]  # loaded and waiting for the next line
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        _, err = proc.communicate(timeout=30)
        pytest.fail("no exit 60 s after SIGINT; the process's threads:\n" + err.decode(errors="replace")[-4000:])
    assert code == 130
    assert proc.stderr.read().decode().strip() == "interrupted"


def test_unindexable_files_are_skipped_with_one_line_each(run_cli, cli_env, tmp_path):
    """A file of NUL bytes and a 20 MB file: each named in one warning, the rest indexed."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "004_72fcb9cbaed1c214.txt", corpus)
    (corpus / "nul.txt").write_bytes(b"\x00" * 4096)
    (corpus / "huge.txt").write_bytes(b"What is a neuron? It is a unit. " * 625_000)  # 20 MB
    env = dict(cli_env, RAG_HOME=str(tmp_path / "home"), RAG_CORPUS=str(corpus))
    r = run_cli("ingest", env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    notes = r.stderr.strip().splitlines()
    assert notes[0] == "note: skipped huge.txt: 20,000 kB is over the 256 kB limit for one document " \
                       "(split it into smaller files)"
    assert notes[1] == "note: skipped nul.txt: it has no text, only NUL bytes or other control characters"
    assert "Indexed 1 document:" in r.stdout and "(9 questions)" in r.stdout
    r = run_cli("ingest", "--corpus", str(tmp_path / "only-nul"), env=env)
    assert r.returncode == 1 and "corpus folder not found" in r.stderr
    (tmp_path / "only-nul").mkdir()
    (tmp_path / "only-nul" / "nul.txt").write_bytes(b"\x00\x00\n\x00")
    r = run_cli("ingest", "--corpus", str(tmp_path / "only-nul"), env=env)
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].startswith(
        "error: corpus folder has no document with text to index")


OWN = ROOT / "eval" / "own_docs"


def test_ingest_dry_run_and_report_show_the_split_without_building(run_cli, cli_env, tmp_path):
    corpus = tmp_path / "mine"
    (corpus / "sub").mkdir(parents=True)
    shutil.copy(OWN / "training_tricks.md", corpus / "sub" / "TRICKS.MD")
    shutil.copy(OWN / "self_supervised_explainer.txt", corpus)
    (corpus / "latin1.txt").write_bytes(b"caf\xe9\n")
    env = {k: v for k, v in cli_env.items() if k != "RAG_CORPUS"}
    env["RAG_HOME"] = str(tmp_path / "home")
    r = run_cli("ingest", "--dry-run", "--json", "--corpus", str(corpus), env=env)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    files = {f["file"]: f for f in data["files"]}
    assert files["sub/TRICKS.MD"]["layout"] == "headings" and files["sub/TRICKS.MD"]["questions"] == 8
    assert files["self_supervised_explainer.txt"]["layout"] == "prose"
    assert files["self_supervised_explainer.txt"]["prose"] >= 8
    assert files["self_supervised_explainer.txt"]["hidden_chars"] == 0
    assert data["skipped"] == [{"file": "latin1.txt", "reason": "not UTF-8 text (byte 3); save it as UTF-8"}]
    assert not (tmp_path / "home" / "index").exists()
    r = run_cli("ingest", "--dry-run", "--corpus", str(corpus), env={**env, "COLUMNS": "80"})
    assert r.returncode == 0 and "headings" in r.stdout and "prose" in r.stdout and "Dry run" in r.stdout
    # in 80 columns the file names stay whole, and the skipped file says why on the next line
    lines = r.stdout.splitlines()
    for name in ("sub/TRICKS.MD", "self_supervised_explainer.txt", "latin1.txt"):
        assert any(line.split() and line.split()[0] == name for line in lines), r.stdout
    assert "not UTF-8 text" in lines[next(i for i, line in enumerate(lines) if "latin1.txt" in line) + 1]
    r = run_cli("inspect", str(corpus / "sub" / "TRICKS.MD"), "--json", env=env)
    units = json.loads(r.stdout)["units"]
    assert [u["title"] for u in units if u["kind"] == "qa"][0] == "What is label smoothing and why is it used?"
    r = run_cli("inspect", str(corpus / "latin1.txt"), env=env)
    assert r.returncode == 1 and "not UTF-8" in r.stderr


def test_the_index_remembers_the_corpus_that_built_it(run_cli, cli_env, tmp_path):
    """After ingesting another folder, plain commands use it; naming a third folder says so, then rebuilds."""
    mine, other = tmp_path / "mine", tmp_path / "other"
    mine.mkdir()
    other.mkdir()
    shutil.copy(OWN / "compression_qa.txt", mine)
    shutil.copy(OWN / "self_supervised_explainer.txt", mine)
    shutil.copy(OWN / "training_tricks.md", other)
    env = {k: v for k, v in cli_env.items() if k != "RAG_CORPUS"}
    env["RAG_HOME"] = str(tmp_path / "home")
    r = run_cli("ingest", "--corpus", str(mine), env=env)
    assert r.returncode == 0, r.stderr
    assert "labelled" in r.stdout and "prose" in r.stdout and "Indexed 2 documents" in r.stdout
    r = run_cli("search", "What is knowledge distillation?", "--json", env=env)  # no corpus named
    assert r.returncode == 0 and r.stderr == "", r.stderr  # no rebuild, no note
    assert json.loads(r.stdout)["passages"][0]["source"] == "compression_qa.txt"
    r = run_cli("ask", "What masking ratio do masked autoencoders use?", "-g", "extractive", "--json", env=env)
    cites = json.loads(r.stdout)["citations"]
    assert cites and cites[0]["kind"] == "prose" and cites[0]["source"] == "self_supervised_explainer.txt"
    r = run_cli("search", "What is label smoothing?", "--json", "--corpus", str(other), env=env)
    assert r.returncode == 0, r.stderr
    assert f"note: the index was built from {mine.resolve()}; rebuilding it from {other.resolve()}" in r.stderr
    assert r.stderr.index("rebuilding it from") < r.stderr.index("building index")
    assert json.loads(r.stdout)["passages"][0]["source"] == "training_tricks.md"
    r = run_cli("topics", "--json", env=env)  # the corpus that built the index last
    assert [s["source"] for s in json.loads(r.stdout)["sources"]] == ["training_tricks.md"]
    # the folder that built the index is gone: an error naming it, and the index is kept
    version = (tmp_path / "home" / "index").resolve()  # a rebuild would swap in a new version folder
    manifest = (version / "manifest.json").read_bytes()
    shutil.rmtree(other)
    r = run_cli("search", "What is label smoothing?", "--json", env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"the index was built from {other.resolve()}, which no longer exists" in r.stderr
    assert "building index" not in r.stderr
    assert (tmp_path / "home" / "index").resolve() == version and (version / "manifest.json").read_bytes() == manifest
    r = run_cli("search", "What is knowledge distillation?", "--json", "--corpus", str(mine), env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["passages"][0]["source"] == "compression_qa.txt"


def test_an_index_of_the_bundled_documents_survives_their_folder_moving(tmp_path):
    """Built from another checkout's copy of the five (since removed): this checkout's copy serves."""
    from rag.config import DEFAULT_CORPUS, remembered_corpus

    copy = tmp_path / "old_checkout" / "corpus"
    shutil.copytree(DEFAULT_CORPUS, copy)
    index = tmp_path / "index"
    index.mkdir()
    sources = {p.name: {"sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in sorted(copy.glob("*.txt"))}
    (index / "manifest.json").write_text(json.dumps({"corpus_dir": str(copy), "sources": sources}))
    assert remembered_corpus(index) == copy
    shutil.rmtree(copy)
    assert remembered_corpus(index) == DEFAULT_CORPUS
    four = dict(list(sources.items())[1:])  # four of the five are not "the bundled documents"
    (index / "manifest.json").write_text(json.dumps({"corpus_dir": str(copy), "sources": four}))
    with pytest.raises(UserError, match="no longer exists"):
        remembered_corpus(index)
    sources[next(iter(sources))]["sha256"] = "0" * 64  # not the bundled documents: an error
    (index / "manifest.json").write_text(json.dumps({"corpus_dir": str(copy), "sources": sources}))
    with pytest.raises(UserError, match="no longer exists"):
        remembered_corpus(index)


def _as_ordinary_user() -> list[str]:
    """A command prefix under which file permissions hold (root ignores them otherwise)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to test unreadable files as root"
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]


def test_unreadable_files_folders_and_broken_links_are_skipped_by_name(cli_env, tmp_path):
    """One file nobody may read, a locked sub-folder and a dangling link: each skipped with a
    line naming it; the rest is indexed, and later commands on that folder work."""
    corpus = tmp_path / "mine"
    (corpus / "locked").mkdir(parents=True)
    shutil.copy(OWN / "compression_qa.txt", corpus)
    shutil.copy(OWN / "training_tricks.md", corpus)
    shutil.copy(OWN / "training_tricks.md", corpus / "locked" / "copy.md")
    (corpus / "gone.md").symlink_to(tmp_path / "nowhere.md")
    (corpus / "elsewhere").symlink_to(OWN, target_is_directory=True)
    env = {k: v for k, v in cli_env.items() if k != "RAG_CORPUS"}
    env["RAG_HOME"] = str(tmp_path / "home")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(_as_ordinary_user() + RAG + list(args), capture_output=True, text=True, env=env,
                              timeout=300, cwd=ROOT)

    (corpus / "training_tricks.md").chmod(0)
    (corpus / "locked").chmod(0)
    try:
        r = run("ingest", "--corpus", str(corpus), "--json")
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        skipped = {s["file"]: s["reason"] for s in json.loads(r.stdout)["skipped"]}
        assert skipped == {"training_tricks.md": "cannot be read (Permission denied)",
                           "locked/": "folder cannot be read (Permission denied)",
                           "gone.md": "a link to nothing (its target is gone, or the link loops)",
                           "elsewhere/": "a link to a folder (not followed; copy the files in)"}
        for line in ("skipped training_tricks.md: cannot be read", "skipped locked/: folder cannot be read",
                     "skipped gone.md: a link to nothing"):
            assert line in r.stderr
        r = run("search", "What is knowledge distillation?", "--json")
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        assert json.loads(r.stdout)["passages"][0]["source"] == "compression_qa.txt"
        (corpus / "locked").chmod(0o755)
        r = run("ingest", "--corpus", str(tmp_path / "mine" / "locked" / "copy.md"))
        assert r.returncode == 1 and r.stderr.startswith("error: corpus path is not a folder"), r.stderr
        (corpus / "locked").chmod(0)
        r = run("ingest", "--corpus", str(corpus / "locked"), "--dry-run")
        assert r.returncode == 1 and "corpus folder cannot be read (Permission denied)" in r.stderr, r.stderr
    finally:
        (corpus / "training_tricks.md").chmod(0o644)
        (corpus / "locked").chmod(0o755)


@pytest.mark.parametrize("command", ["ingest", "search", "ask", "compare", "topics", "eval", "practice"])
def test_help_examples_keep_one_command_a_line(run_cli, command):
    """Click rewraps a docstring's paragraphs; the examples must stay one per line."""
    r = run_cli(command, "--help")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == "Examples:")
    examples = [line.strip() for line in lines[at + 1:] if line.strip()][:2]
    assert all(e.startswith(("rag ", "printf ", "RAG_")) for e in examples), lines[at:at + 4]
