"""Building, checking, reusing and rebuilding the index; offline; no pickle."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import time

import numpy as np
import pytest

from ingest.build import ALL_FILES, BUILD_MARK, INDEX_FILES, build_index, check_location, index_status
from rag.config import Settings
from rag.errors import CorpusError, UserError
from rag.index import open_index
from tests.conftest import CORPUS


def test_session_build_ran_offline(build_report, network_attempts):
    assert build_report.built and build_report.questions == 134 and build_report.documents == 5
    assert network_attempts == []  # nothing tried to reach a hub


def test_index_files_and_manifest(settings, build_report):
    live = settings.index_dir
    assert live.is_symlink()
    for name in INDEX_FILES + ("manifest.json", "encoder/model.onnx", "encoder/tokenizer.json"):
        assert (live / name).exists(), name
    manifest = json.loads((live / "manifest.json").read_text())
    assert manifest["fingerprint"]["format"] == 4
    for name in ALL_FILES:  # every file, the encoder's included, carries a checksum
        info = manifest["files"][name]
        assert len(info["sha256"]) == 64 and info["size"] == (live / name).stat().st_size
    assert set(manifest["fingerprint"]["corpus"]) == {p.name for p in CORPUS.glob("*.txt")} | {"sources.toml"}
    assert manifest["model"]["id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert len(manifest["model"]["weights_sha256"]) == 64
    assert manifest["fingerprint"]["chunking"]["max_tokens"] == 254
    assert manifest["counts"]["qa"] == 134
    assert not list(live.resolve().rglob("*.pkl")) and not list(live.resolve().rglob("*.pickle"))


def test_second_build_does_nothing(settings, build_report):
    again = build_index(settings, progress=False)
    assert not again.built and again.reason == "index is current"


def test_passages_slice_their_files(index):
    texts = {s: (CORPUS / s).read_bytes().decode("utf-8") for s in index.sources}
    for p in index.passages:
        assert texts[p.source][p.start : p.end] == p.text
    assert sum(p.kind == "qa" for p in index.passages) == 134


def test_loading_never_unpickles(settings, build_report, monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("pickle used while loading the index")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(np, "load", refuse)  # would allow_pickle object arrays
    index = open_index(settings, cached=False)
    assert len(index.passages) > 134


def test_onnx_query_vectors_match_sentence_transformers(index):
    from sentence_transformers import SentenceTransformer

    from ingest.build import model_path

    texts = ["What is dropout?", "x", "Explain the vanishing gradient problem in recurrent networks " * 30,
             "ünïcödé 深度学习 text", index.passages[10].text]
    st = SentenceTransformer(str(model_path()), device="cpu").encode(texts, normalize_embeddings=True)
    ours = index.encoder.encode(texts)
    assert np.min(np.sum(st * ours, axis=1)) >= 0.999


@pytest.fixture()
def small_settings(tmp_path, network_attempts):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "000_4ab14a2e9b84814d.txt", corpus)
    shutil.copy(CORPUS / "004_72fcb9cbaed1c214.txt", corpus)
    return Settings.from_env(environ={}, home=tmp_path / "home", corpus=corpus)


def test_touch_edit_and_damage_trigger_rebuilds(small_settings):
    s = small_settings
    first = build_index(s, progress=False)
    assert first.built and first.questions == 22
    assert index_status(s) == "current"
    target = s.corpus / "000_4ab14a2e9b84814d.txt"
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    assert index_status(s).startswith("stale: corpus")
    notes: list[str] = []
    open_index(s, notify=notes.append, cached=False)
    assert notes and "stale" in notes[0] and index_status(s) == "current"
    # a user's folders named like ours beside the index: rebuilds must never remove them
    for name in (".index-backup", ".index-42"):
        (s.home / name).mkdir()
        (s.home / name / "mine.txt").write_text("keep me")
    # damage each file in turn: detected, rebuilt with a notice, never a crash
    for name in ("chunks.faiss", "passages.jsonl", "keyword.json", "titles.faiss", "chunks.jsonl"):
        path = s.index_dir / name
        path.write_bytes(path.read_bytes()[: 50])
        assert index_status(s).startswith("damaged")
        notes.clear()
        ix = open_index(s, notify=notes.append, cached=False)
        assert "damaged" in notes[0] and sum(p.kind == "qa" for p in ix.passages) == 22
    # a corrupt manifest too
    (s.index_dir / "manifest.json").write_text("{not json")
    notes.clear()
    open_index(s, notify=notes.append, cached=False)
    assert "damaged" in notes[0]
    # only the live version of ours is left on disk, and the user's folders are intact
    ours = [p for p in s.home.glob(".index-*") if (p / BUILD_MARK).exists()]
    assert ours == [s.index_dir.resolve()]
    assert all((s.home / n / "mine.txt").read_text() == "keep me" for n in (".index-backup", ".index-42"))


def _legacy_index(tmp_path):
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "manifest.json").write_text(json.dumps({"fingerprint": {}, "files": {}}))
    return tmp_path / "index"


@pytest.mark.parametrize("make,ok", [
    (lambda t: t / "index", True),  # nothing there yet
    (lambda t: (t / "index").mkdir() or t / "index", True),  # an empty folder
    (_legacy_index, True),  # an index folder from before symlinks
    (lambda t: (t / "index").mkdir() or (t / "index" / "a.txt").write_text("x") and t / "index", False),
    (lambda t: (t / "index").write_text("x") and t / "index", False),
    (lambda t: (t / "index").symlink_to(t) or t / "index", False),
    (lambda t: (t / "index").symlink_to(".index-backup") or t / "index", False),
    (lambda t: (t / "index").symlink_to(".index-123") or t / "index", True),  # our link (dangling is damage)
], ids=["absent", "empty", "legacy", "user-folder", "file", "link-elsewhere", "link-to-backup", "our-link"])
def test_index_location_check(tmp_path, make, ok):
    live = make(tmp_path)
    if ok:
        check_location(live)
    else:
        with pytest.raises(UserError, match="refusing to replace it"):
            check_location(live)


def test_bad_corpus_errors_leave_index_alone(small_settings, tmp_path):
    s = small_settings
    build_index(s, progress=False)
    before = os.readlink(s.index_dir)
    with pytest.raises(CorpusError, match="not found"):
        build_index(Settings.from_env(environ={}, home=s.home, corpus=tmp_path / "nope"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError, match="no .txt"):
        build_index(Settings.from_env(environ={}, home=s.home, corpus=empty))
    latin = tmp_path / "latin"
    latin.mkdir()
    (latin / "bad.txt").write_bytes(b"caf\xe9 latin-1 text")
    with pytest.raises(CorpusError, match="no document with text to index.*bad.txt: not UTF-8"):
        build_index(Settings.from_env(environ={}, home=s.home, corpus=latin), force=True)
    assert os.readlink(s.index_dir) == before and index_status(Settings.from_env(
        environ={}, home=s.home, corpus=s.corpus)) != "missing"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, network_attempts):
    """A small index built once; each damage case below works on a copy of it."""
    tmp = tmp_path_factory.mktemp("pristine")
    corpus = tmp / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "004_72fcb9cbaed1c214.txt", corpus)
    s = Settings.from_env(environ={}, home=tmp / "home", corpus=corpus)
    build_index(s, progress=False)
    return s


def _copy_of(pristine, tmp_path) -> Settings:
    version = pristine.index_dir.resolve()
    shutil.copytree(version, tmp_path / ".index-1", copy_function=shutil.copy2)  # keeps sizes and mtimes
    (tmp_path / "index").symlink_to(".index-1")
    s = Settings.from_env(environ={}, home=tmp_path, corpus=pristine.corpus, index=tmp_path / "index")
    assert index_status(s) == "current"
    return s


def _same_size(data: bytes) -> bytes:
    """Change one digit near the middle: same size, and JSON stays JSON."""
    mid = len(data) // 2
    for i in list(range(mid, len(data))) + list(range(mid)):
        if 48 <= data[i] <= 57:
            return data[:i] + bytes([48 + (data[i] - 47) % 10]) + data[i + 1:]
    return data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]


DAMAGE = {
    "truncated": lambda data: data[: len(data) // 2],
    "same size": _same_size,
}


@pytest.mark.parametrize("how", list(DAMAGE))
@pytest.mark.parametrize("name", ALL_FILES + ("manifest.json",))
def test_damage_to_any_file_is_detected(pristine, tmp_path, name, how):
    s = _copy_of(pristine, tmp_path)
    path = s.index_dir / name
    before = path.stat()
    path.write_bytes(DAMAGE[how](path.read_bytes()))
    status = index_status(s)
    assert status.startswith("damaged") and name in status, status
    if how == "same size":
        # Even with the modification time put back, a full check (rag ingest) finds it.
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        status = index_status(s, full=True)
        assert status.startswith("damaged") and name in status, status


def test_damaged_encoder_is_rebuilt_with_a_notice(pristine, tmp_path):
    s = _copy_of(pristine, tmp_path)
    onnx = s.index_dir / "encoder" / "model.onnx"
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = bytes(4096)  # zero a run of weights in place
    onnx.write_bytes(bytes(data))
    notes: list[str] = []
    ix = open_index(s, notify=notes.append, cached=False)
    assert notes == ["building index (damaged: encoder/model.onnx does not match its checksum)"]
    assert index_status(s) == "current" and sum(p.kind == "qa" for p in ix.passages) == 9


def test_reader_during_a_rebuild_never_sees_damage(pristine, tmp_path):
    """Readers opening the index while rebuilds swap versions in: no damage notice, no extra build."""
    import threading

    s = _copy_of(pristine, tmp_path)
    notes: list[str] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def reader():
        while not done.is_set():
            try:
                open_index(s, notify=notes.append, cached=False)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(3):
            assert build_index(s, force=True, progress=False).built
    finally:
        done.set()
        for t in threads:
            t.join()
    assert errors == [] and notes == []  # a reader never rebuilt, never saw "damaged"
    assert index_status(s) == "current"
