"""A customer attaches a picture in the widget (`data-images="on"`) in a real browser (headless
Debian Chromium): the picture goes with a chat message, the tenant's image model (the real
vision skill on a hand-made ONNX colour model) sees its label, and the tenant's answer for that
label comes back; the history keeps the image, which a reload shows again."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

import skills.vision.skill as vision_skill
from skills.vision.model import ModelCache, save_model
from tests.e2e.web import (
    TENANT,
    Site,
    chromium_available,
    in_widget,
    new_browser,
    start_site,
    wait_for,
    widget_messages,
)
from tests.vision_fixtures import colour_onnx, encode, solid

pytestmark = pytest.mark.skipif(
    not chromium_available(),
    reason="needs Debian's chromium and chromium-driver (make test installs them)",
)
ANSWER = "That card looks damaged: a replacement is on its way."


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, str]]:
    data = tmp_path_factory.mktemp("data")
    pages = tmp_path_factory.mktemp("host-site")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vision_skill, "_models", ModelCache())
        for running in start_site(data, pages):
            onnx_bytes, meta = colour_onnx()
            blobs = running.services.blobs
            save_model(
                tenant_id=TENANT, blobs=blobs, version="v1", onnx_bytes=onnx_bytes, meta=meta
            )
            tenants = running.services.tenants
            tenant = tenants.get_tenant(tenant_id=TENANT)
            tenants.update_tenant(tenant.model_copy(update={"image_responses": {"red": ANSWER}}))
            (pages / "images.html").write_text(
                "<!doctype html><html lang=en><head><meta charset=utf-8><title>Shop</title>"
                '<link rel="icon" href="data:,"></head><body><h1>Shop</h1>'
                f'<script src="{running.base_url}/widget.js" data-key="{running.widget_key}" '
                'data-images="on" async></script></body></html>'
            )
            yield running, running.host_url + "/images.html"


@pytest.fixture(scope="module")
def customer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = new_browser(tmp_path_factory.mktemp("customer-profile"))
    yield driver
    driver.quit()


ATTACH = """
const bytes = Uint8Array.from(atob(arguments[0]), c => c.charCodeAt(0));
const input = s.querySelector('input[type=file]');
const files = new DataTransfer();
files.items.add(new File([bytes], 'card.png', {type: 'image/png'}));
input.files = files.files;
input.dispatchEvent(new Event('change'));
"""


def test_a_picture_in_the_widget_is_answered_by_its_label(
    site: tuple[Site, str], customer: Any
) -> None:
    running, page = site
    customer.get(page)
    wait_for(customer, lambda d: in_widget(d, "return !!(s && s.querySelector('.launcher'))"))
    in_widget(customer, "s.querySelector('.launcher').click();")
    wait_for(customer, lambda d: in_widget(d, "return !s.querySelector('.panel').hidden;"))
    assert in_widget(customer, "return !s.querySelector('.attach').hidden;")
    in_widget(customer, "s.querySelector('textarea').value = 'my card came like this';")
    png = base64.b64encode(encode(solid((220, 30, 30), width=40, height=30), "PNG")).decode()
    in_widget(customer, ATTACH, png)

    def answered(driver: Any) -> bool:
        return any(m["text"] == ANSWER for m in widget_messages(driver))

    wait_for(customer, answered, 30)
    users = [m["text"] for m in widget_messages(customer) if m["role"] == "user"]
    assert users[-1] == "🖼 my card came like this"

    # stored with the message: the history has the image and its label; a reload shows it
    sessions = running.services.history.list_sessions(tenant_id=TENANT)
    session_id = sessions.items[0].session_id
    stored = running.services.history.list_messages(tenant_id=TENANT, session_id=session_id)
    user = next(m for m in stored.items if m.image is not None)
    assert user.image is not None and user.image.label == "red"
    customer.refresh()
    wait_for(customer, answered, 30)
    assert any(m["text"] == "🖼 my card came like this" for m in widget_messages(customer))
