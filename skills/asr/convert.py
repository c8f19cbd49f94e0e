"""One-time conversion of CTranslate2 Whisper weights into an openai-whisper checkpoint.

openai-whisper loads `{"dims": ModelDimensions fields, "model_state_dict": {...}}` with
`torch.load`; the packages only ship CTranslate2 `model.bin` files. This module reads `model.bin`
without CTranslate2 and writes that checkpoint (float16 tensors; openai-whisper casts on load).

`model.bin` format (binary version 6, little endian):

    u32 version | str spec_name | u32 spec_revision | u32 variable_count
    per variable: str name | u8 rank | u32 dims[rank] | u8 dtype | u32 byte_count | bytes data
    u32 alias_count, per alias: str alias | str target
    (str = u16 length including the trailing NUL, then the bytes)
    dtype: 0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16

Name mapping (CTranslate2 -> openai-whisper), d = model width:

    encoder/conv{1,2}/{weight,bias}              -> encoder.conv{1,2}.{weight,bias}
    encoder/position_encodings/encodings         -> encoder.positional_embedding
    {enc,dec}/layer_i/self_attention/linear_0    -> blocks.i.attn.{query,key,value} (fused [3d, d],
                                                    split in thirds; key has no bias in whisper)
    {enc,dec}/layer_i/self_attention/linear_1    -> blocks.i.attn.out
    {enc,dec}/layer_i/self_attention/layer_norm  -> blocks.i.attn_ln   (gamma/beta -> weight/bias)
    decoder/layer_i/attention/linear_0           -> blocks.i.cross_attn.query
    decoder/layer_i/attention/linear_1           -> blocks.i.cross_attn.{key,value} (fused [2d, d])
    decoder/layer_i/attention/linear_2           -> blocks.i.cross_attn.out
    decoder/layer_i/attention/layer_norm         -> blocks.i.cross_attn_ln
    {enc,dec}/layer_i/ffn/linear_{0,1}           -> blocks.i.mlp.{0,2}
    {enc,dec}/layer_i/ffn/layer_norm             -> blocks.i.mlp_ln
    encoder/layer_norm                           -> encoder.ln_post
    decoder/layer_norm                           -> decoder.ln
    decoder/embeddings/weight                    -> decoder.token_embedding.weight
    decoder/position_encodings/encodings         -> decoder.positional_embedding
    decoder/projection/weight (alias)            -> tied to the token embedding in both

Dimensions come from the weight shapes and the `num_heads` scalars; the alignment heads from
`config.json`. The result is cached as `<cache>/openai-<model>.pt` (written atomically).
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from core.files import atomic_path

_DTYPES: dict[int, Any] = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_BF16 = 5


def _read(handle: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    return struct.unpack(fmt, handle.read(size))[0]


def _read_str(handle: BinaryIO) -> str:
    length = _read(handle, "<H")
    return handle.read(length)[:-1].decode("utf-8")


def read_ct2_model(path: Path) -> tuple[str, dict[str, np.ndarray], dict[str, str]]:
    """Parse a CTranslate2 `model.bin`: (spec name, variables, aliases)."""
    variables: dict[str, np.ndarray] = {}
    aliases: dict[str, str] = {}
    with path.open("rb") as handle:
        version = _read(handle, "<I")
        if version != 6:
            raise ValueError(f"unsupported CTranslate2 model.bin version {version} (expected 6)")
        spec = _read_str(handle)
        _read(handle, "<I")  # spec revision
        for _ in range(_read(handle, "<I")):
            name = _read_str(handle)
            rank = _read(handle, "<B")
            dims = [_read(handle, "<I") for _ in range(rank)]
            dtype = _read(handle, "<B")
            count = _read(handle, "<I")
            raw = handle.read(count)
            if dtype == _BF16:
                bits = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
                array = bits.view(np.float32)
            elif dtype in _DTYPES:
                array = np.frombuffer(raw, dtype=_DTYPES[dtype])
            else:
                raise ValueError(f"unknown dtype code {dtype} for {name}")
            variables[name] = array.reshape(dims) if dims else array.reshape(())
        for _ in range(_read(handle, "<I")):
            alias = _read_str(handle)
            aliases[alias] = _read_str(handle)
    if any(name.endswith("weight_scale") for name in variables):
        raise ValueError("quantized CTranslate2 weights are not supported; use float weights")
    return spec, variables, aliases


def _layers(variables: dict[str, np.ndarray], side: str) -> int:
    pattern = re.compile(rf"^{side}/layer_(\d+)/")
    found = {int(m.group(1)) for name in variables if (m := pattern.match(name))}
    return max(found) + 1 if found else 0


def convert_state(
    variables: dict[str, np.ndarray], config: dict[str, Any]
) -> tuple[dict[str, int], dict[str, np.ndarray], list[list[int]]]:
    """Map CTranslate2 Whisper variables to (dims, openai-whisper state dict, alignment heads)."""
    state: dict[str, np.ndarray] = {}

    def put(name: str, value: np.ndarray) -> None:
        state[name] = np.ascontiguousarray(value.astype(np.float16))

    def norm(src: str, dst: str) -> None:
        put(f"{dst}.weight", variables[f"{src}/gamma"])
        put(f"{dst}.bias", variables[f"{src}/beta"])

    def linear(src: str, dst: str, *, bias: bool = True) -> None:
        put(f"{dst}.weight", variables[f"{src}/weight"])
        if bias:
            put(f"{dst}.bias", variables[f"{src}/bias"])

    def fused(src: str, dsts: list[str]) -> None:
        weight = variables[f"{src}/weight"]
        bias = variables[f"{src}/bias"]
        parts = len(dsts)
        for index, dst in enumerate(dsts):
            put(f"{dst}.weight", np.split(weight, parts, axis=0)[index])
            if not dst.endswith(".key"):  # whisper's key projection has no bias (CT2: zeros)
                put(f"{dst}.bias", np.split(bias, parts, axis=0)[index])

    for conv in ("conv1", "conv2"):
        linear(f"encoder/{conv}", f"encoder.{conv}")
    put("encoder.positional_embedding", variables["encoder/position_encodings/encodings"])
    n_audio_layer = _layers(variables, "encoder")
    for i in range(n_audio_layer):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        fused(
            f"{src}/self_attention/linear_0", [f"{dst}.attn.{p}" for p in ("query", "key", "value")]
        )
        linear(f"{src}/self_attention/linear_1", f"{dst}.attn.out")
        norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
        linear(f"{src}/ffn/linear_0", f"{dst}.mlp.0")
        linear(f"{src}/ffn/linear_1", f"{dst}.mlp.2")
        norm(f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")
    norm("encoder/layer_norm", "encoder.ln_post")

    put("decoder.token_embedding.weight", variables["decoder/embeddings/weight"])
    put("decoder.positional_embedding", variables["decoder/position_encodings/encodings"])
    n_text_layer = _layers(variables, "decoder")
    for i in range(n_text_layer):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        fused(
            f"{src}/self_attention/linear_0", [f"{dst}.attn.{p}" for p in ("query", "key", "value")]
        )
        linear(f"{src}/self_attention/linear_1", f"{dst}.attn.out")
        norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
        linear(f"{src}/attention/linear_0", f"{dst}.cross_attn.query")
        fused(f"{src}/attention/linear_1", [f"{dst}.cross_attn.{p}" for p in ("key", "value")])
        linear(f"{src}/attention/linear_2", f"{dst}.cross_attn.out")
        norm(f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln")
        linear(f"{src}/ffn/linear_0", f"{dst}.mlp.0")
        linear(f"{src}/ffn/linear_1", f"{dst}.mlp.2")
        norm(f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")
    norm("decoder/layer_norm", "decoder.ln")

    conv1 = variables["encoder/conv1/weight"]
    embeddings = variables["decoder/embeddings/weight"]
    dims = {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(variables["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": int(variables["encoder/num_heads"]),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(embeddings.shape[0]),
        "n_text_ctx": int(variables["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(embeddings.shape[1]),
        "n_text_head": int(variables["decoder/num_heads"]),
        "n_text_layer": n_text_layer,
    }
    heads = [[int(layer), int(head)] for layer, head in config.get("alignment_heads", [])]
    return dims, state, heads


def openai_checkpoint_path(model: str, *, cache_dir: Path) -> Path:
    return cache_dir / f"openai-{model}.pt"


def convert_ct2_to_openai(ct2_dir: Path, output: Path) -> Path:
    """Convert `ct2_dir/model.bin` into an openai-whisper checkpoint at `output` (atomically)."""
    import torch

    spec, variables, _aliases = read_ct2_model(ct2_dir / "model.bin")
    if spec != "WhisperSpec":
        raise ValueError(f"{ct2_dir} holds a {spec}, not a Whisper model")
    config = json.loads((ct2_dir / "config.json").read_text())
    dims, state, heads = convert_state(variables, config)
    checkpoint = {
        "dims": dims,
        "model_state_dict": {name: torch.from_numpy(value) for name, value in state.items()},
        "alignment_heads": heads,
    }
    with atomic_path(output) as temporary:
        torch.save(checkpoint, temporary)
    return output


def ensure_openai_checkpoint(model: str, *, cache_dir: Path) -> Path:
    """The cached openai-whisper checkpoint for `model`, converting it on first use."""
    from skills.asr.models import ct2_model_dir

    output = openai_checkpoint_path(model, cache_dir=cache_dir)
    if not output.exists():
        convert_ct2_to_openai(ct2_model_dir(model, cache_dir=cache_dir), output)
    return output


def load_openai_model(checkpoint: Path) -> Any:
    """An openai-whisper `Whisper` model on CPU from a converted checkpoint."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    data = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model = Whisper(ModelDimensions(**data["dims"]))
    model.load_state_dict({k: v.float() for k, v in data["model_state_dict"].items()})
    heads = data.get("alignment_heads") or []
    if heads:
        mask = torch.zeros(model.dims.n_text_layer, model.dims.n_text_head, dtype=torch.bool)
        for layer, head in heads:
            mask[layer, head] = True
        model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
    return model.eval()
