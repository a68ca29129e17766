"""Query-time sentence embeddings with ONNX Runtime: MiniLM without torch.

``import sentence_transformers`` costs ~7 s on a 2-core machine, so the query path
runs the same model exported to ONNX at ingest, with the model folder's own
``tokenizer.json`` and the same mean pooling and L2 normalisation. A test checks the
vectors match sentence-transformers' to cosine >= 0.999.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

__all__ = ["OnnxEncoder", "MAX_SEQ_LENGTH"]

MAX_SEQ_LENGTH = 256  # sentence_bert_config.json of all-MiniLM-L6-v2


class OnnxEncoder:
    """Encode texts into normalised float32 vectors with an exported MiniLM."""

    def __init__(self, model_file: Path, tokenizer_file: Path, threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        tok = Tokenizer.from_file(str(tokenizer_file))
        tok.enable_truncation(MAX_SEQ_LENGTH)
        tok.no_padding()
        self._tokenizer = tok
        self._lock = threading.Lock()  # one Tokenizer object is shared by every thread

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Return an (n, 384) array of unit-length vectors."""
        out = []
        for i in range(0, len(texts), batch_size):
            batch = texts[i : i + batch_size]
            with self._lock:
                encs = self._tokenizer.encode_batch(batch)
            width = max(len(e.ids) for e in encs)
            ids = np.zeros((len(encs), width), dtype=np.int64)
            mask = np.zeros((len(encs), width), dtype=np.int64)
            for row, e in enumerate(encs):
                ids[row, : len(e.ids)] = e.ids
                mask[row, : len(e.ids)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feeds)[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            out.append(pooled.astype(np.float32))
        return np.vstack(out) if out else np.zeros((0, 384), dtype=np.float32)
