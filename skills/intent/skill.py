"""The intent skill: classify a customer's text into one of the tenant's intents.

Event `IntentEvent` `{"tenant_id", "text"}` → `IntentResult` `{"intent", "confidence", "ranking",
"model_version"}` (contracts in `core.skill_contracts`); `intent` is None when the top confidence
is below the model's tuned out-of-scope threshold, or when the tenant has no model (then
confidence 0.0 and model_version None). A batch event `IntentBatchEvent` `{"tenant_id", "texts":
[...]}` → `IntentBatchResult` `{"results": [...]}`.

A single text is also read by the built-in dialogue-act model (`skills.intent.acts`) on the same
embedding: `acts`, `small_talk` and, for a mixed message, `request_text` (the request part, which
the tenant's intent is then classified on). The batch path (training, evaluation) reads intents
only.

The encoder and each tenant's model load lazily and stay cached; the model cache is keyed by
(tenant, version), and CURRENT is read again at most every `model_refresh_s` seconds
(`LAMBDESK_MODEL_REFRESH_S`, default 2), so a newly published model is served within seconds.
A fine-tuned model carries its own encoder (ONNX, in the version's files): its texts are
embedded with it; other models (and the retrieval skill) use the packaged encoder.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core.ports import BlobStore, SkillContext
from core.skill_contracts import IntentBatchEvent, IntentEvent, parse_event
from skills.intent.model import PREFIX, IntentModel, ModelCache

_models = ModelCache()
ENCODERS_KEPT = 4  # fine-tuned encoders kept loaded (about 25 MB int8, 90 MB fp32 each)
_encoders: OrderedDict[tuple[str, str], Any] = OrderedDict()
_encoders_lock = threading.Lock()


def model_encoder(*, tenant_id: str, blobs: BlobStore, model: IntentModel) -> Any:
    """The ONNX encoder of a fine-tuned version (loaded from the BlobStore once, then kept)."""
    files = model.encoder_files
    assert files is not None
    key = (tenant_id, model.version)
    with _encoders_lock:
        encoder = _encoders.get(key)
        if encoder is not None:
            _encoders.move_to_end(key)
            return encoder
    from skills.encoder import _cpu_threads
    from skills.onnx_encoder import OnnxEncoder

    name = files["onnx_int8"] if files.get("serve") == "int8" else files["onnx"]
    data = blobs.get(tenant_id=tenant_id, key=f"{PREFIX}/{model.version}/{name}")
    encoder = OnnxEncoder(data, threads=_cpu_threads())
    with _encoders_lock:
        _encoders[key] = encoder
        while len(_encoders) > ENCODERS_KEPT:
            _encoders.popitem(last=False)
    return encoder


def embed_for(
    *, tenant_id: str, blobs: BlobStore, model: IntentModel, texts: Sequence[str]
) -> np.ndarray:
    """Sentence vectors as `model` was trained on them."""
    if model.encoder_files is None:
        from skills.encoder import embed

        return embed(list(texts))
    encoder = model_encoder(tenant_id=tenant_id, blobs=blobs, model=model)
    out: np.ndarray = np.concatenate(
        [encoder.encode(list(texts[i : i + 64])) for i in range(0, len(texts), 64)]
    )
    return out


def _no_model() -> dict[str, Any]:
    return {"intent": None, "confidence": 0.0, "ranking": [], "model_version": None}


def classify(
    *,
    tenant_id: str,
    texts: Sequence[str],
    blobs: BlobStore,
    refresh_s: float | None = None,
    version: str | None = None,
) -> list[dict[str, Any]]:
    """One result per text (the code path of both the skill and `training.intents`), with the
    live model or, given `version`, that stored version."""
    if version is not None:
        model: IntentModel | None = _models.get(tenant_id=tenant_id, blobs=blobs, version=version)
    else:
        model = _models.current(tenant_id=tenant_id, blobs=blobs, refresh_s=refresh_s)
    if model is None:
        return [_no_model() for _ in texts]
    if not texts:
        return []
    return model.classify(embed_for(tenant_id=tenant_id, blobs=blobs, model=model, texts=texts))


def understand(
    *, tenant_id: str, text: str, blobs: BlobStore, refresh_s: float | None = None
) -> dict[str, Any]:
    """One message: the tenant's intent and the dialogue acts, from one embedding of the text
    (plus one small batch for the clauses of a message that mixes small talk and a request).
    A fine-tuned model embeds the request with its own encoder; the acts use the packaged one."""
    from skills.encoder import embed, embed_recent
    from skills.intent.acts import get_act_model, split_message

    model = _models.current(tenant_id=tenant_id, blobs=blobs, refresh_s=refresh_s)
    acts = get_act_model()
    whole = embed([text])[0]
    vector, request = whole, text
    extra: dict[str, Any] = {}
    if acts is not None:
        split, request_vector = split_message(text, whole, model=acts, embed=embed_recent)
        extra = {
            "acts": [{"act": a, "confidence": round(c, 6)} for a, c in split.acts],
            "small_talk": split.request is None,
        }
        if request_vector is not None and split.request is not None:
            vector, request = request_vector, split.request
            extra["request_text"] = split.request
    if model is None:
        result = _no_model()
    elif model.encoder_files is not None:
        own = embed_for(tenant_id=tenant_id, blobs=blobs, model=model, texts=[request])
        result = model.classify(own)[0]
    else:
        result = model.classify(vector[None, :])[0]
    return {**result, **extra}


def run(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    refresh_s = getattr(ctx.settings, "model_refresh_s", None)
    if isinstance(event, Mapping) and "texts" in event:
        batch = parse_event("intent", IntentBatchEvent, event)
        results = classify(
            tenant_id=batch.tenant_id, texts=batch.texts, blobs=ctx.blobs, refresh_s=refresh_s
        )
        return {"results": results}
    single = parse_event("intent", IntentEvent, event)
    if not single.text.strip():
        return _no_model()
    return understand(
        tenant_id=single.tenant_id, text=single.text, blobs=ctx.blobs, refresh_s=refresh_s
    )
