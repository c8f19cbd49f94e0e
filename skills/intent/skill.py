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
(tenant, version), and CURRENT is read on every call, so a retrained model is picked up at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.ports import BlobStore, SkillContext
from core.skill_contracts import IntentBatchEvent, IntentEvent, parse_event
from skills.intent.model import ModelCache

_models = ModelCache()


def _no_model() -> dict[str, Any]:
    return {"intent": None, "confidence": 0.0, "ranking": [], "model_version": None}


def classify(*, tenant_id: str, texts: Sequence[str], blobs: BlobStore) -> list[dict[str, Any]]:
    """One result per text (the code path of both the skill and `training.intents`)."""
    model = _models.current(tenant_id=tenant_id, blobs=blobs)
    if model is None:
        return [_no_model() for _ in texts]
    if not texts:
        return []
    from skills.encoder import embed

    return model.classify(embed(list(texts)))


def understand(*, tenant_id: str, text: str, blobs: BlobStore) -> dict[str, Any]:
    """One message: the tenant's intent and the dialogue acts, from one embedding of the text
    (plus one small batch for the clauses of a message that mixes small talk and a request)."""
    from skills.encoder import embed
    from skills.intent.acts import get_act_model, split_message

    model = _models.current(tenant_id=tenant_id, blobs=blobs)
    acts = get_act_model()
    whole = embed([text])[0]
    vector = whole
    extra: dict[str, Any] = {}
    if acts is not None:
        split, request_vector = split_message(text, whole, model=acts, embed=embed)
        extra = {
            "acts": [{"act": a, "confidence": round(c, 6)} for a, c in split.acts],
            "small_talk": split.request is None,
        }
        if request_vector is not None:
            vector, extra["request_text"] = request_vector, split.request
    result = _no_model() if model is None else model.classify(vector[None, :])[0]
    return {**result, **extra}


def run(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    if isinstance(event, Mapping) and "texts" in event:
        batch = parse_event("intent", IntentBatchEvent, event)
        results = classify(tenant_id=batch.tenant_id, texts=batch.texts, blobs=ctx.blobs)
        return {"results": results}
    single = parse_event("intent", IntentEvent, event)
    if not single.text.strip():
        return _no_model()
    return understand(tenant_id=single.tenant_id, text=single.text, blobs=ctx.blobs)
