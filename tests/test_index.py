"""Building, checking, reusing and rebuilding the index; offline; no pickle."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import time

import numpy as np
import pytest

from ingest.build import BUILD_MARK, INDEX_FILES, build_index, check_location, index_status
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
    assert manifest["fingerprint"]["format"] == 1
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
    (s.corpus / "bad.txt").write_bytes(b"caf\xe9 latin-1 text")
    with pytest.raises(CorpusError, match="bad.txt is not UTF-8"):
        build_index(s, force=True)
    assert os.readlink(s.index_dir) == before and index_status(Settings.from_env(
        environ={}, home=s.home, corpus=s.corpus)) != "missing"
