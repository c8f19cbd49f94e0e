"""Knowledge uploads through the real API: hostile documents parse (or are refused) without
holding up anyone else's requests, the parse budget answers 422 and stores nothing, and PDFs are
ingested like the other formats."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from knowledge import documents
from tests.integration.conftest import LiveApi
from tests.pdf_fixtures import encrypt_pdf, make_pdf

PATHOLOGICAL_MARKDOWN = ("# T\n\n" + " *a" * 12000).encode()
NESTED_HTML = b"<div><p>word " * 4000  # 52 KB, one level deeper per repetition


def upload(
    api: LiveApi, data: bytes, *, filename: str, content_type: str, timeout: float = 60
) -> httpx.Response:
    return api.client.post(
        f"/v1/knowledge/documents?filename={filename}",
        headers={**api.acme.admin, "Content-Type": content_type},
        content=data,
        timeout=timeout,
    )


def knowledge_blobs(api: LiveApi) -> list[str]:
    return api.services.blobs.list(tenant_id="acme", prefix="knowledge/")


def upload_while_polling_healthz(
    api: LiveApi, send: Callable[[], httpx.Response]
) -> tuple[httpx.Response, list[int]]:
    """Run `send` in a thread and poll `/healthz` until it returns: (its response, the
    health statuses seen, at least one)."""
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.setdefault("response", send()))
    thread.start()
    statuses: list[int] = []
    with httpx.Client(base_url=api.base_url, timeout=30) as health:
        while thread.is_alive() or not statuses:
            statuses.append(health.get("/healthz").status_code)
    thread.join()
    return result["response"], statuses


def test_the_pathological_markdown_is_indexed_and_healthz_keeps_answering(
    live_api: LiveApi,
) -> None:
    response, health = upload_while_polling_healthz(
        live_api,
        lambda: upload(
            live_api, PATHOLOGICAL_MARKDOWN, filename="t.md", content_type="text/markdown"
        ),
    )

    assert response.status_code == 201, response.text
    assert response.json()["title"] == "T"
    assert set(health) == {200}


def test_the_nested_html_is_refused_quickly_and_healthz_keeps_answering(
    live_api: LiveApi,
) -> None:
    response, health = upload_while_polling_healthz(
        live_api,
        lambda: upload(live_api, NESTED_HTML, filename="t.html", content_type="text/html"),
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "document_too_complex"
    assert set(health) == {200}
    assert knowledge_blobs(live_api) == []


def test_healthz_answers_while_a_parse_is_in_progress(
    live_api: LiveApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parse that cannot finish until the test lets it: on the event loop it would hold every
    other request; in a worker thread `/healthz` answers meanwhile."""
    entered, release = threading.Event(), threading.Event()
    real_parse = documents.parse_document

    def held_parse(**kwargs: Any) -> Any:
        entered.set()
        release.wait(timeout=30)
        return real_parse(**kwargs)

    monkeypatch.setattr(documents, "parse_document", held_parse)
    result: dict[str, httpx.Response] = {}
    document = b"# Hours\n\nOpen 9-5."
    thread = threading.Thread(
        target=lambda: result.setdefault(
            "response", upload(live_api, document, filename="h.md", content_type="text/markdown")
        )
    )
    thread.start()
    try:
        assert entered.wait(timeout=30)
        with httpx.Client(base_url=live_api.base_url, timeout=5) as health:
            answered = health.get("/healthz").status_code
    finally:
        release.set()
        thread.join(timeout=60)

    assert answered == 200
    assert result["response"].status_code == 201


def test_a_parse_past_its_budget_is_422_and_stores_nothing(
    live_api: LiveApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_api.services.settings, "max_parse_seconds", 1e-6)

    response = upload(
        live_api, b"# Hours\n\nWe are open 9 to 5.", filename="h.md", content_type="text/markdown"
    )

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "document_too_complex"
    assert "max_parse_seconds" in error["message"]
    assert knowledge_blobs(live_api) == []
    listed = live_api.client.get("/v1/knowledge/documents", headers=live_api.acme.admin)
    assert listed.json()["items"] == []


def test_a_pdf_is_ingested_and_searchable(live_api: LiveApi) -> None:
    pdf = make_pdf(
        [["Branch opening hours", "Saturday 9am to 1pm."], ["Sunday closed."]],
        title="Branch guide",
    )

    response = upload(live_api, pdf, filename="guide.pdf", content_type="application/pdf")

    assert response.status_code == 201, response.text
    info = response.json()
    assert (info["title"], info["content_type"], info["bytes"]) == (
        "Branch guide",
        "application/pdf",
        len(pdf),
    )
    hits = live_api.client.post(
        "/v1/knowledge/search",
        headers=live_api.acme.admin,
        json={"query": "opening hours on saturday"},
    ).json()["hits"]
    assert hits[0]["doc_id"] == info["doc_id"]
    assert "Saturday 9am to 1pm." in hits[0]["text"]


def test_a_pdf_in_a_multipart_upload(live_api: LiveApi) -> None:
    response = live_api.client.post(
        "/v1/knowledge/documents",
        headers=live_api.acme.admin,
        files={"file": ("rates.pdf", make_pdf([["Savings rates"]]), "application/pdf")},
    )

    assert response.status_code == 201, response.text
    assert response.json()["title"] == "rates"


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"%PDF-1.7 but nothing else", 422, "invalid_pdf"),
        (encrypt_pdf(make_pdf([["secret"]]), password="pw"), 422, "document_encrypted"),
        (b"<html>not a pdf</html>", 415, "unsupported_media_type"),
        (make_pdf([["one"], ["two"], ["three"]]), 413, "too_many_pages"),
    ],
    ids=["broken", "encrypted", "not-a-pdf", "too-many-pages"],
)
def test_bad_pdfs_are_refused_and_nothing_is_stored(
    live_api: LiveApi, monkeypatch: pytest.MonkeyPatch, data: bytes, status: int, code: str
) -> None:
    monkeypatch.setattr(live_api.services.settings, "max_pdf_pages", 2)

    response = upload(live_api, data, filename="doc.pdf", content_type="application/pdf")

    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert knowledge_blobs(live_api) == []
