"""The intent skill: classify a customer's text into one of the tenant's intents.

Event `{"tenant_id", "text"}` → `{"intent", "confidence", "ranking", "model_version"}`; `intent`
is None when the top confidence is below the model's tuned out-of-scope threshold, or when the
tenant has no model (then confidence 0.0 and model_version None). A batch event
`{"tenant_id", "texts": [...]}` → `{"results": [...]}`.

The encoder and each tenant's model load lazily and stay cached; the model cache is keyed by
(tenant, version), and CURRENT is read on every call, so a retrained model is picked up at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.errors import BadRequest
from core.ports import BlobStore, SkillContext
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
    tenant_id = event.get("tenant_id")
    if not isinstance(tenant_id, str) or not tenant_id:
        raise BadRequest("intent: tenant_id is required")
    if "texts" in event:
        texts = event["texts"]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise BadRequest("intent: texts must be a list of strings")
        return {"results": classify(tenant_id=tenant_id, texts=texts, blobs=ctx.blobs)}
    text = event.get("text")
    if not isinstance(text, str):
        raise BadRequest("intent: text is required")
    if not text.strip():
        return _no_model()
    return classify(tenant_id=tenant_id, texts=[text], blobs=ctx.blobs)[0]
