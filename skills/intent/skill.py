"""The intent skill: classify a customer's text into one of the tenant's intents.

Event `IntentEvent` `{"tenant_id", "text"}` → `IntentResult` `{"intent", "confidence", "ranking",
"model_version"}` (contracts in `core.skill_contracts`); `intent` is None when the top confidence
is below the model's tuned out-of-scope threshold, or when the tenant has no model (then
confidence 0.0 and model_version None). A batch event `IntentBatchEvent` `{"tenant_id", "texts":
[...]}` → `IntentBatchResult` `{"results": [...]}`.

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


def run(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    if isinstance(event, Mapping) and "texts" in event:
        batch = parse_event("intent", IntentBatchEvent, event)
        results = classify(tenant_id=batch.tenant_id, texts=batch.texts, blobs=ctx.blobs)
        return {"results": results}
    single = parse_event("intent", IntentEvent, event)
    if not single.text.strip():
        return _no_model()
    return classify(tenant_id=single.tenant_id, texts=[single.text], blobs=ctx.blobs)[0]
