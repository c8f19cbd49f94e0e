"""Fast stand-ins for the model-backed skills, registered in the in-process invoker's registry.

`fake_intent` classifies by keywords; `fake_retrieval` really reads the tenant's stored knowledge
documents (the records `knowledge.documents` writes) and scores them by word overlap, so
documents uploaded through the API are searchable without loading a model.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from core.ports import SkillContext

SkillFn = Callable[[dict[str, Any], SkillContext], dict[str, Any]]

# keyword -> intent name (the order is the ranking for ties)
INTENT_KEYWORDS: dict[str, str] = {
    "refund": "refund_policy",
    "hours": "opening_hours",
    "open": "opening_hours",
    "card": "card_arrival",
    "password": "reset_password",
}
_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 3}


def fake_intent(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    """A confident intent when a keyword matches, else no intent (out of scope)."""
    words = set(_WORD.findall(str(event["text"]).lower()))
    matched = [intent for keyword, intent in INTENT_KEYWORDS.items() if keyword in words]
    ranking = [{"intent": name, "confidence": 0.9} for name in dict.fromkeys(matched)]
    ranking += [
        {"intent": name, "confidence": 0.05}
        for name in dict.fromkeys(INTENT_KEYWORDS.values())
        if name not in matched
    ]
    return {
        "intent": matched[0] if matched else None,
        "confidence": 0.9 if matched else 0.1,
        "ranking": ranking,
        "model_version": "fake-1",
    }


def fake_retrieval(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    """`search` over the tenant's stored documents by word overlap; `index`/`rebuild` no-ops."""
    from knowledge.index import list_doc_ids, read_doc

    tenant_id = str(event["tenant_id"])
    op = event.get("op", "search")
    if op == "index":
        return {"chunks": 1, "index_version": "fake"}
    if op != "search":
        return {"index_version": "fake"}
    query = _words(str(event["query"]))
    hits: list[dict[str, Any]] = []
    for doc_id in list_doc_ids(tenant_id=tenant_id, blobs=ctx.blobs):
        record = read_doc(tenant_id=tenant_id, blobs=ctx.blobs, doc_id=doc_id)
        text = str(record.get("text", ""))
        score = len(query & _words(text)) / len(query) if query else 0.0
        if score > 0:
            hits.append(
                {
                    "doc_id": doc_id,
                    "chunk_id": f"{doc_id}:0",
                    "title": record.get("title") or record.get("filename") or doc_id,
                    "text": text,
                    "score": round(score, 4),
                }
            )
    hits.sort(key=lambda h: h["score"], reverse=True)
    return {"hits": hits[: int(event.get("top_k", 3))], "index_version": "fake"}


def failing_skill(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    raise RuntimeError("the model is unavailable")


def slow_skill(seconds: float) -> SkillFn:
    def run(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
        time.sleep(seconds)
        return {}

    return run


def fake_registry() -> dict[str, SkillFn]:
    return {"intent": fake_intent, "retrieval": fake_retrieval}
