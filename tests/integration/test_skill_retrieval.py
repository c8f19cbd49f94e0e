"""Integration tests for the retrieval skill and the knowledge service functions: real encoder,
real `FilesystemBlobStore`, real `InProcessSkillInvoker`, a few Markdown documents."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.errors import NotFound, PayloadTooLarge, SkillError, UnsupportedMediaType
from core.ports import SkillContext
from core.settings import Settings
from infra.local.filesystem_blob_store import FilesystemBlobStore
from infra.local.inprocess_skill_invoker import InProcessSkillInvoker
from knowledge import documents
from knowledge.index import INDEX_CURRENT, INDEX_PREFIX
from skills.retrieval import skill
from tests.entrypoints import forget, fresh_import

pytestmark = pytest.mark.slow

TENANT = "shop-one"
OTHER = "shop-two"
LIMIT = 1024 * 1024

RETURNS = b"""# Returns policy

## How to return an item

You can send any item back within 30 days of delivery for a full refund. Print the prepaid
label from your account, pack the item in its original box and drop it at any post office.

## Refunds

Refunds reach your original payment method within 5 working days after the parcel arrives at
our warehouse.
"""
SHIPPING = b"""# Shipping and delivery

## Delivery times

Standard delivery takes 2 to 4 working days in the UK. Express delivery arrives the next
working day when you order before 2pm.

## International shipping

We ship to 40 countries. Customs duties are paid by the recipient.
"""
ACCOUNT = b"""# Your account

## Resetting your password

Click "Forgot password" on the sign-in page and follow the link we email you. The link expires
after one hour.
"""
WARRANTY = b"""# Warranty

Every appliance comes with a two-year warranty covering manufacturing faults. Accidental
damage such as a dropped kettle or water damage is not covered.
"""


@pytest.fixture(scope="module")
def encoder() -> object:
    from skills.encoder import get_encoder

    return get_encoder()


@pytest.fixture
def env(tmp_path: Path, encoder: object) -> Iterator[tuple[FilesystemBlobStore, Any]]:
    blobs = FilesystemBlobStore(root=tmp_path / "blobs")
    settings = Settings(backend="local", data_dir=tmp_path, log_stdout=False, warmup=False)
    invoker = InProcessSkillInvoker(SkillContext(blobs=blobs, settings=settings), workers=2)
    yield blobs, invoker
    invoker.close()


def add(env: tuple[FilesystemBlobStore, Any], name: str, data: bytes, tenant: str = TENANT) -> Any:
    blobs, invoker = env
    return asyncio.run(
        documents.add_document(
            tenant_id=tenant,
            filename=name,
            content_type="text/markdown",
            data=data,
            blobs=blobs,
            skills=invoker,
            max_bytes=LIMIT,
            timeout=120,
        )
    )


def search(
    env: tuple[FilesystemBlobStore, Any], query: str, tenant: str = TENANT
) -> list[dict[str, Any]]:
    return asyncio.run(
        documents.search(tenant_id=tenant, query=query, top_k=3, skills=env[1], timeout=60)
    )


def test_questions_find_the_right_document(env: tuple[FilesystemBlobStore, Any]) -> None:
    infos = [
        add(env, "returns.md", RETURNS),
        add(env, "shipping.md", SHIPPING),
        add(env, "account.md", ACCOUNT),
    ]
    assert [i.title for i in infos] == ["Returns policy", "Shipping and delivery", "Your account"]
    assert {i.content_type for i in infos} == {"text/markdown"}
    assert infos[0].filename == "returns.md"
    assert infos[0].bytes == len(RETURNS)
    assert all(i.chunks >= 1 for i in infos)
    listed = documents.list_documents(tenant_id=TENANT, blobs=env[0])
    assert [d.doc_id for d in listed] == [i.doc_id for i in infos]
    expected = {
        "How many days do I have to send something back?": infos[0].doc_id,
        "When will I get my money back?": infos[0].doc_id,
        "How long does delivery take?": infos[1].doc_id,
        "Do you ship to France?": infos[1].doc_id,
        "I forgot my password": infos[2].doc_id,
    }
    for question, doc_id in expected.items():
        hits = search(env, question)
        assert hits[0]["doc_id"] == doc_id, (question, hits[0])
        assert hits[0]["score"] >= 0.45, (question, hits[0]["score"])
        assert -1.0 <= hits[-1]["score"] <= hits[0]["score"] <= 1.0
        assert set(hits[0]) >= {"doc_id", "chunk_id", "title", "text", "score"}
    hits = search(env, "When will I get my money back?")
    assert "5 working days" in hits[0]["text"]
    assert hits[0]["heading"] == "Returns policy › Refunds"
    # an unrelated question scores low
    assert search(env, "Who painted the Mona Lisa?")[0]["score"] < 0.3


def test_add_and_delete_update_results(env: tuple[FilesystemBlobStore, Any]) -> None:
    blobs, invoker = env
    returns = add(env, "returns.md", RETURNS)
    assert search(env, "Is a broken kettle covered by the warranty?")[0]["doc_id"] == (
        returns.doc_id
    )
    warranty = add(env, "warranty.md", WARRANTY)
    assert search(env, "Is a broken kettle covered by the warranty?")[0]["doc_id"] == (
        warranty.doc_id
    )
    asyncio.run(
        documents.delete_document(
            tenant_id=TENANT, doc_id=warranty.doc_id, blobs=blobs, skills=invoker, timeout=60
        )
    )
    hits = search(env, "Is a broken kettle covered by the warranty?")
    assert {h["doc_id"] for h in hits} == {returns.doc_id}
    assert [d.doc_id for d in documents.list_documents(tenant_id=TENANT, blobs=blobs)] == [
        returns.doc_id
    ]
    assert not blobs.list(tenant_id=TENANT, prefix=f"knowledge/chunks/{warranty.doc_id}")
    # old index versions are pruned: CURRENT plus at most one older version stay
    versions = {
        k[len(INDEX_PREFIX) :].split("/")[0]
        for k in blobs.list(tenant_id=TENANT, prefix=INDEX_PREFIX)
        if k != INDEX_CURRENT
    }
    assert len(versions) <= 2
    with pytest.raises(NotFound):
        asyncio.run(
            documents.delete_document(
                tenant_id=TENANT, doc_id=warranty.doc_id, blobs=blobs, skills=invoker, timeout=60
            )
        )
    # deleting the last document leaves an empty index: no hits
    asyncio.run(
        documents.delete_document(
            tenant_id=TENANT, doc_id=returns.doc_id, blobs=blobs, skills=invoker, timeout=60
        )
    )
    assert search(env, "refund") == []


def test_other_tenants_see_nothing(env: tuple[FilesystemBlobStore, Any]) -> None:
    blobs, invoker = env
    doc = add(env, "returns.md", RETURNS)
    assert search(env, "refund", tenant=OTHER) == []
    assert documents.list_documents(tenant_id=OTHER, blobs=blobs) == []
    with pytest.raises(NotFound):
        documents.get_document(tenant_id=OTHER, doc_id=doc.doc_id, blobs=blobs)
    with pytest.raises(NotFound):
        asyncio.run(
            documents.delete_document(
                tenant_id=OTHER, doc_id=doc.doc_id, blobs=blobs, skills=invoker, timeout=60
            )
        )
    other = add(env, "shipping.md", SHIPPING, tenant=OTHER)
    assert {h["doc_id"] for h in search(env, "refund", tenant=OTHER)} == {other.doc_id}
    assert {h["doc_id"] for h in search(env, "delivery times")} == {doc.doc_id}


def test_rejected_uploads_store_nothing(env: tuple[FilesystemBlobStore, Any]) -> None:
    blobs, invoker = env
    with pytest.raises(PayloadTooLarge) as too_large:
        asyncio.run(
            documents.add_document(
                tenant_id=TENANT,
                filename="big.md",
                content_type="text/markdown",
                data=b"x" * 2000,
                blobs=blobs,
                skills=invoker,
                max_bytes=1000,
                timeout=60,
            )
        )
    assert "1,000 bytes" in too_large.value.message
    with pytest.raises(UnsupportedMediaType):
        add(env, "photo.png", b"\x89PNG....")
    assert blobs.list(tenant_id=TENANT, prefix="knowledge/") == []


def test_failed_indexing_removes_the_document(env: tuple[FilesystemBlobStore, Any]) -> None:
    blobs, invoker = env

    def broken(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
        if event.get("op") == "index":
            raise RuntimeError("disk full")
        return skill.run(event, ctx)

    invoker.register("retrieval", broken)
    with pytest.raises(SkillError):
        add(env, "returns.md", RETURNS)
    invoker.wait_idle(timeout=60)
    assert documents.list_documents(tenant_id=TENANT, blobs=blobs) == []
    assert blobs.list(tenant_id=TENANT, prefix="knowledge/docs/") == []
    assert blobs.list(tenant_id=TENANT, prefix="knowledge/chunks/") == []


def test_skill_events_directly(env: tuple[FilesystemBlobStore, Any]) -> None:
    ctx = env[1].ctx
    assert skill.run({"op": "search", "tenant_id": TENANT, "query": "hi"}, ctx) == {
        "hits": [],
        "index_version": None,
    }
    add(env, "account.md", ACCOUNT)
    rebuilt = skill.run({"op": "rebuild", "tenant_id": TENANT}, ctx)
    assert rebuilt["documents"] == 1
    assert rebuilt["chunks"] >= 1
    result = skill.run({"op": "search", "tenant_id": TENANT, "query": "password", "top_k": 1}, ctx)
    assert result["index_version"] == rebuilt["index_version"]
    assert len(result["hits"]) == 1


def test_concurrent_adds_are_all_indexed(env: tuple[FilesystemBlobStore, Any]) -> None:
    blobs, invoker = env

    async def add_all() -> list[Any]:
        return await asyncio.gather(
            *(
                documents.add_document(
                    tenant_id=TENANT,
                    filename=name,
                    content_type=None,
                    data=data,
                    blobs=blobs,
                    skills=invoker,
                    max_bytes=LIMIT,
                    timeout=120,
                )
                for name, data in (("returns.md", RETURNS), ("shipping.md", SHIPPING))
            )
        )

    returns, shipping = asyncio.run(add_all())
    assert search(env, "send an item back")[0]["doc_id"] == returns.doc_id
    assert search(env, "express delivery next day")[0]["doc_id"] == shipping.doc_id


def test_lambda_handler(tmp_path: Path, encoder: object, monkeypatch: pytest.MonkeyPatch) -> None:

    blobs = FilesystemBlobStore(root=tmp_path / "blobs")  # where a local skill process looks
    monkeypatch.setenv("LAMBDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LAMBDESK_BACKEND", "local")
    try:
        invoker = InProcessSkillInvoker(SkillContext(blobs=blobs, settings=None), workers=1)
        try:
            doc = add((blobs, invoker), "account.md", ACCOUNT)
        finally:
            invoker.close()
        handler = fresh_import("skills.retrieval.handler")  # it builds its context at import
        result = handler.handler(
            {"op": "search", "tenant_id": TENANT, "query": "reset my password"}, None
        )
    finally:
        forget("skills.retrieval.handler")
    assert result["hits"][0]["doc_id"] == doc.doc_id
