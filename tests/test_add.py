"""Adding documents to the corpus and setting them aside (``ingest.add``, ``rag add``,
``rag remove``): the bundled corpus is never written to, nothing is overwritten, and
the rebuilt index is the one every command uses afterwards."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import CORPUS, ROOT, share_model

TUNE_DOCS = ROOT / "eval" / "tune_docs"
NOTES = TUNE_DOCS / "curriculum_notes.md"


def _bundled_state() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(CORPUS.iterdir()) if p.is_file()}


def _home_with_index(rag_home: Path, home: Path, models: Path | None = None) -> Path:
    """A data directory holding a copy of the session's index (built from the bundled
    corpus), so a test starts where a new user does after ``make run``; ``models``, the
    session's model folder, is linked in for a test that asks the local model."""
    share_model(home, models)
    for p in rag_home.iterdir():
        if p.name == "index" or p.name.startswith(".index-"):
            if p.is_symlink():
                (home / p.name).symlink_to(p.readlink())
            elif p.is_dir():
                shutil.copytree(p, home / p.name, symlinks=True)
    return home


@pytest.fixture(scope="module")
def added(tmp_path_factory, rag_home, build_report):
    """One addition to a fresh copy: a good Markdown file, a file that is not UTF-8, an
    image, and a second copy of a bundled name with other bytes."""
    from ingest.add import add_documents
    from rag.config import Settings

    home = _home_with_index(rag_home, tmp_path_factory.mktemp("add") / "home")
    before = _bundled_state()
    settings = Settings.from_env(environ={}, home=home)
    assert settings.corpus.resolve() == CORPUS.resolve()  # remembered: the index was built from it
    report = add_documents(settings, [
        (NOTES.name, NOTES.read_bytes()),
        ("latin1.txt", "caf\xe9 au lait\n".encode("latin-1")),
        ("picture.png", b"\x89PNG\r\n"),
        ("000_4ab14a2e9b84814d.txt", b"Something else entirely.\n"),
    ], environ={})
    return home, report, before


def test_adding_to_the_bundled_corpus_makes_a_folder_of_ones_own(added):
    home, report, before = added
    assert report.folder == home / "documents"
    assert _bundled_state() == before  # the checkout's corpus/ is untouched
    names = {p.name for p in report.folder.iterdir()}
    assert {"sources.toml", NOTES.name} | {n for n in before if n.endswith(".txt")} <= names
    assert (report.folder / NOTES.name).read_bytes() == NOTES.read_bytes()
    assert report.added == (NOTES.name,)
    assert report.build is not None and report.build.built and report.build.documents == 6


def test_unusable_or_clashing_files_are_refused_with_the_reason_and_not_written(added):
    home, report, _ = added
    status = {f.name: (f.status, f.reason) for f in report.files}
    assert status["latin1.txt"] == ("refused", "not UTF-8 text (byte 3); save it as UTF-8")
    assert status["picture.png"] == ("refused", "not a supported format (.txt, .md or .pdf)")
    assert status["000_4ab14a2e9b84814d.txt"][0] == "refused"
    assert "already in" in status["000_4ab14a2e9b84814d.txt"][1]
    folder = report.folder
    assert not (folder / "latin1.txt").exists() and not (folder / "picture.png").exists()
    assert (folder / "000_4ab14a2e9b84814d.txt").read_bytes() == (CORPUS / "000_4ab14a2e9b84814d.txt").read_bytes()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary file left
    assert not [p for p in home.iterdir() if p.name.startswith(".documents-")]  # nor a half-made folder


def test_every_command_then_uses_the_new_folder_and_finds_the_new_document(added):
    from rag.config import Settings
    from rag.pipeline import Pipeline

    home, report, _ = added
    settings = Settings.from_env(environ={}, home=home)
    assert settings.corpus == report.folder
    pipe = Pipeline(settings)
    res = pipe.search("What is curriculum learning?")
    assert res.hits[0].passage.source == NOTES.name
    assert pipe.search("What is dropout?").hits[0].passage.source.endswith(".txt")  # the five are still there


def test_the_same_bytes_again_change_nothing(added):
    from ingest.add import add_documents
    from rag.config import Settings

    home, report, _ = added
    again = add_documents(Settings.from_env(environ={}, home=home), [(NOTES.name, NOTES.read_bytes())], environ={})
    assert [(f.status, f.name) for f in again.files] == [("unchanged", NOTES.name)]
    assert again.build is None  # no rebuild for nothing


def test_a_pinned_bundled_corpus_is_refused(settings):
    from ingest.add import add_documents
    from rag.errors import UserError

    with pytest.raises(UserError, match="RAG_CORPUS names the bundled corpus"):
        add_documents(settings, [(NOTES.name, NOTES.read_bytes())], environ={"RAG_CORPUS": str(CORPUS)})


def test_removing_sets_the_document_aside_and_rebuilds(tmp_path, rag_home, build_report):
    from ingest.add import add_documents, own_documents, remove_document
    from rag.config import Settings
    from rag.errors import UserError
    from rag.pipeline import Pipeline

    home = _home_with_index(rag_home, tmp_path / "home")
    with pytest.raises(UserError, match="bundled corpus is not changed"):
        remove_document(Settings.from_env(environ={}, home=home), "000_4ab14a2e9b84814d.txt")
    add_documents(Settings.from_env(environ={}, home=home), [(NOTES.name, NOTES.read_bytes())], environ={})
    settings = Settings.from_env(environ={}, home=home)
    assert own_documents(settings) == [NOTES.name]  # the bundled copies are not offered for removal
    with pytest.raises(UserError, match="no document 'nope.md'"):
        remove_document(settings, "nope.md")
    kept, build = remove_document(settings, NOTES.name)
    assert kept == home / "removed" / NOTES.name and kept.read_bytes() == NOTES.read_bytes()
    assert not (settings.corpus / NOTES.name).exists() and build.built and build.documents == 5
    assert own_documents(settings) == []
    assert all(p.source != NOTES.name for p in Pipeline(settings).index.passages)


def test_the_only_document_is_not_removed(tmp_path):
    from ingest.add import remove_document
    from rag.config import Settings
    from rag.errors import UserError

    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(NOTES, folder)
    with pytest.raises(UserError, match="only document"):
        remove_document(Settings.from_env(environ={}, home=tmp_path / "home", corpus=folder), NOTES.name)
    assert (folder / NOTES.name).exists()


def test_rag_add_and_remove_from_the_command_line(run_cli, cli_env, tmp_path, rag_home):
    home = _home_with_index(rag_home, tmp_path / "home")
    env = {k: v for k, v in cli_env.items() if k != "RAG_CORPUS"}
    env["RAG_HOME"] = str(home)
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"\xff\xfe")
    r = run_cli("add", str(bad), env=env)
    assert r.returncode == 1 and r.stdout.splitlines() == ["refused: bad.md (not UTF-8 text (byte 0); save it as UTF-8)"]
    missing = tmp_path / "missing.md"
    r = run_cli("add", str(missing), env=env)
    assert r.returncode == 1 and r.stdout.splitlines() == [
        f"refused: {missing} (cannot be read: No such file or directory)"] and "Traceback" not in r.stderr
    # a path that cannot be read is refused like a bad file; the others are still added
    r = run_cli("add", str(missing), str(NOTES), str(bad), "--json", env=env)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["folder"] == str(home / "documents")
    assert [(f["file"], f["status"]) for f in data["files"]] == [
        (str(missing), "refused"), (NOTES.name, "added"), ("bad.md", "refused")]
    assert data["index"]["built"] and data["index"]["documents"] == 6
    r = run_cli("search", "What is curriculum learning?", "--json", env=env)
    assert json.loads(r.stdout)["passages"][0]["source"] == NOTES.name
    r = run_cli("remove", NOTES.name, "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["kept"] == str(home / "removed" / NOTES.name)
    r = run_cli("add", str(NOTES), env={**env, "RAG_CORPUS": str(CORPUS)})
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [
        f"error: RAG_CORPUS names the bundled corpus ({CORPUS}), which is not written to; unset it, or set it "
        "to a folder of your own, to add documents"]


def test_nothing_new_on_the_bundled_corpus_makes_no_folder_and_no_rebuild(tmp_path, settings):
    """A bundled file's exact bytes, or another file under a bundled name: the folder of
    one's own is not made, and the index stays as it is."""
    from ingest.add import add_documents
    from rag.config import Settings

    home = tmp_path / "home"
    fresh = Settings.from_env(environ={}, home=home, corpus=CORPUS)
    twin = CORPUS / "004_72fcb9cbaed1c214.txt"
    report = add_documents(fresh, [(twin.name, twin.read_bytes()), ("000_4ab14a2e9b84814d.TXT", b"Other text.\n")],
                           environ={})
    assert [f.status for f in report.files] == ["unchanged", "refused"]
    assert "rename the new file" in report.files[1].reason
    assert report.build is None and not (home / "documents").exists()


def test_a_folder_of_ones_own_is_added_to_in_place_and_sub_folders_are_removed_by_path(tmp_path):
    from ingest.add import add_documents, own_documents, remove_document
    from rag.config import Settings

    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    shutil.copy(NOTES, mine)
    shutil.copy(NOTES, mine / "sub")
    settings = Settings.from_env(environ={}, home=tmp_path / "home", corpus=mine)
    quant = TUNE_DOCS / "quantization_qa.txt"
    report = add_documents(settings, [(quant.name, quant.read_bytes())], environ={"RAG_CORPUS": str(mine)})
    assert report.folder == mine and report.added == (quant.name,) and report.build.documents == 3
    assert own_documents(settings) == [NOTES.name, quant.name, f"sub/{NOTES.name}"]
    kept, build = remove_document(settings, f"sub/{NOTES.name}")
    assert not (mine / "sub" / NOTES.name).exists() and (mine / NOTES.name).exists()  # that one, not its namesake
    assert build.documents == 2 and kept.read_bytes() == NOTES.read_bytes()
    again, _ = remove_document(settings, NOTES.name)
    assert again == kept.with_name(f"{NOTES.stem}.2{NOTES.suffix}")  # the first one removed is kept too


def test_a_removal_the_index_cannot_survive_is_undone(tmp_path):
    from ingest.add import remove_document
    from rag.config import Settings
    from rag.errors import UserError

    mine = tmp_path / "mine"
    mine.mkdir()
    shutil.copy(NOTES, mine)
    (mine / "empty.txt").write_text("   \n")  # skipped by ingest: nothing would be left to index
    settings = Settings.from_env(environ={}, home=tmp_path / "home", corpus=mine)
    with pytest.raises(UserError, match="was not removed"):
        remove_document(settings, NOTES.name)
    assert (mine / NOTES.name).read_bytes() == NOTES.read_bytes()
    assert not list((tmp_path / "home" / "removed").iterdir())


def test_an_introduction_gives_way_to_the_passage_that_answers(added):
    """A notes file's introduction names everything the file covers; the answer to one
    of its questions ranks above it (``RetrievalParams.intro_penalty``)."""
    from dataclasses import replace as with_params

    from rag.config import Settings
    from rag.pipeline import Pipeline
    from rag.retrieve import Retriever

    home, _, _ = added
    pipe = Pipeline(Settings.from_env(environ={}, home=home))
    q = "focusing on the samples with highest loss vs easy-to-hard ordering, whats the difference"
    res = pipe.retriever.search(q)
    assert res.hits[0].passage.title == "How does hard example mining relate to curriculum learning?"
    plain = Retriever(pipe.index, with_params(pipe.retriever.params, intro_penalty=0.0)).search(q)
    assert plain.hits[0].passage.kind == "intro"  # what it did before
    assert plain.refused == res.refused


def test_a_passage_without_cached_questions_has_its_content_stand_in_for_its_title(added):
    """A new document's passages have no cached questions, so their title cosine (heading
    and opening statement only) runs low; the dense cosine (+ ``stand_in_margin``) stands
    in where higher. The bundled passages, which have cached questions, are untouched,
    and refusal does not move."""
    from dataclasses import replace as with_params

    import numpy as np

    from rag.config import Settings
    from rag.pipeline import Pipeline
    from rag.retrieve import Retriever

    home, _, _ = added
    pipe = Pipeline(Settings.from_env(environ={}, home=home))
    r = pipe.retriever
    new = np.array([p.source == NOTES.name and p.kind == "qa" for p in pipe.index.passages])
    cached = np.array([p.source.startswith("003") and p.kind == "qa" for p in pipe.index.passages]) & ~r._unasked
    assert r._unasked[new].all() and cached.sum() >= 40
    q = "ordering training examples from easy to hard"
    sig = r.signals(q)
    off = Retriever(pipe.index, with_params(r.params, stand_in_margin=float("-inf"))).signals(q)
    lift = sig.fused - off.fused
    expect = r.params.title_weight * (np.maximum(sig.title, sig.dense + r.params.stand_in_margin) - sig.title)
    assert np.allclose(lift[new], expect[new]) and lift[new].max() > 0
    assert np.allclose(lift[cached], 0.0)
    for question in (q, "Who wrote Pride and Prejudice?", "the little window that slides over an image"):
        assert r.search(question).refused == Retriever(
            pipe.index, with_params(r.params, stand_in_margin=float("-inf"))).search(question).refused
