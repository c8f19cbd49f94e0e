"""The widget, the agent console and the analytics page in a real browser (headless Debian
Chromium under Selenium) against the real server with fast fake skills (`tests/e2e/web.py`).

One customer's journey runs in order through the widget on the demo page, while an agent works
in a second browser; then the refused origin, a hostile host page, the phone layout and the
accessibility checks. Screenshots land in `.artifacts/screenshots/`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from core.analytics import summarize
from core.models import Rating
from tests.e2e.web import (
    HEARD,
    Site,
    axe_violations,
    chromium_available,
    in_widget,
    new_browser,
    page_errors,
    screenshot,
    screenshot_region,
    start_site,
    wait_for,
    widget_messages,
)

pytestmark = pytest.mark.skipif(
    not chromium_available(),
    reason="needs Debian's chromium and chromium-driver (make test installs them)",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("data")
    pages = tmp_path_factory.mktemp("host-site")
    yield from start_site(data, pages)


@pytest.fixture(scope="module")
def customer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = new_browser(tmp_path_factory.mktemp("customer-profile"))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A second browser (its own profile: no storage shared with the customer's)."""
    driver = new_browser(tmp_path_factory.mktemp("agent-profile"), width=1280, height=860)
    yield driver
    driver.quit()


# --------------------------------------------------------------------------- widget helpers


def open_widget(driver: Any) -> None:
    wait_for(driver, lambda d: in_widget(d, "return !!(s && s.querySelector('.launcher'))"))
    in_widget(driver, "s.querySelector('.launcher').click();")
    wait_for(driver, lambda d: in_widget(d, "return !s.querySelector('.panel').hidden;"))


def type_message(driver: Any, text: str) -> None:
    """Type into the widget's box and press Enter, as a customer does."""
    from selenium.webdriver.common.keys import Keys

    box = in_widget(driver, "return s.querySelector('textarea');")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def bot_replies(driver: Any) -> list[dict[str, str]]:
    return [m for m in widget_messages(driver) if m["role"] in ("bot", "agent")]


def wait_replies(driver: Any, count: int, timeout: float = 15.0) -> list[dict[str, str]]:
    wait_for(driver, lambda d: len(bot_replies(d)) >= count, timeout)
    return bot_replies(driver)


def status_text(driver: Any) -> str:
    return str(in_widget(driver, "return s.querySelector('.status').textContent;"))


def assert_accessible(driver: Any, what: str) -> None:
    violations = axe_violations(driver)
    assert violations == [], f"{what}: {violations}"


# --------------------------------------------------------------------------- the journey


def test_a_customer_and_an_agent_end_to_end(site: Site, customer: Any, agent: Any) -> None:
    history = site.services.history
    page_errors(customer)  # start the console log afresh

    # The demo page, the widget opened: the greeting, and the focus in the message box.
    customer.get(site.base_url + "/")
    open_widget(customer)
    wait_for(customer, lambda d: in_widget(d, "return s.querySelectorAll('.note').length;"))
    assert in_widget(customer, "return s.activeElement && s.activeElement.tagName;") == "TEXTAREA"

    # A question the knowledge base answers: the typing indicator, then the reply and its source.
    type_message(customer, "When are branches open on Saturday?")
    wait_for(customer, lambda d: in_widget(d, "return !s.querySelector('.dots').hidden;"), 5)
    (reply,) = wait_replies(customer, 1)
    assert "Saturday from 9am to 1pm" in reply["text"]
    sources = in_widget(
        customer, "return [...s.querySelectorAll('.cites li')].map(li => li.textContent);"
    )
    assert any("Opening hours" in source for source in sources), sources
    assert in_widget(customer, "return s.querySelector('.dots').hidden;")

    # An intent answer with suggestions; clicking one asks it.
    type_message(customer, "My card has not arrived")
    wait_replies(customer, 2)
    suggestions = in_widget(
        customer, "return [...s.querySelectorAll('.sugg button')].map(b => b.textContent);"
    )
    assert "Refund policy" in suggestions
    in_widget(
        customer,
        "[...s.querySelectorAll('.sugg button')].find(b => b.textContent === 'Refund policy')"
        ".click();",
    )
    refund = wait_replies(customer, 3)[-1]
    assert refund["text"].startswith("You can ask for a refund")

    # 👎 on the refund answer: pressed in the widget, stored beside the message.
    in_widget(
        customer,
        "s.querySelector(`.m[data-id='${arguments[0]}'] .rate .down`).click();",
        refund["id"],
    )
    wait_for(
        customer,
        lambda d: in_widget(
            d,
            "return s.querySelector(`.m[data-id='${arguments[0]}'] .rate .down`)"
            ".getAttribute('aria-pressed') === 'true';",
            refund["id"],
        ),
    )
    session = customer.execute_script(
        "return JSON.parse(localStorage.getItem(Object.keys(localStorage)"
        ".find(k => k.endsWith(':session'))));"
    )
    stored = history.get_feedback(
        tenant_id="northwind", session_id=session["id"], message_id=refund["id"]
    )
    assert stored is not None and stored.rating is Rating.DOWN

    # Something nobody can answer: the fallback, kept for the analytics page.
    type_message(customer, "Do you sell bitcoin?")
    assert "rephrase" in wait_replies(customer, 4)[-1]["text"]
    screenshot(customer, "widget-desktop")
    panel = in_widget(
        customer,
        "const p = s.querySelector('.panel').getBoundingClientRect();"
        "return {x: p.left, y: p.top, w: p.width, h: p.height};",
    )
    screenshot_region(
        customer,
        "docs-widget",
        x=panel["x"] - 16,
        y=panel["y"] - 16,
        width=panel["w"] + 32,
        height=panel["h"] + 32 + 72,
        scale=0.75,
    )

    # A reload: the same session, its history and the rating are back.
    before = widget_messages(customer)
    customer.refresh()
    wait_for(customer, lambda d: len(widget_messages(d)) == len(before))
    assert [m["text"] for m in widget_messages(customer)] == [m["text"] for m in before]
    assert (
        in_widget(
            customer,
            "return s.querySelector(`.m[data-id='${arguments[0]}'] .rate .down`)"
            ".getAttribute('aria-pressed');",
            refund["id"],
        )
        == "true"
    )
    assert_accessible(customer, "the widget on the demo page")

    # Asking for a human: the bot says so and the widget waits for the team.
    type_message(customer, "I want to talk to a human")
    wait_replies(customer, 5)
    wait_for(customer, lambda d: "Waiting" in status_text(d))

    # The agent, in a second browser: sign in, pick the session from the queue, answer.
    agent.get(site.base_url + "/agent")
    agent.find_element("id", "admin-key").send_keys(site.admin_key)
    agent.find_element("id", "agent-name").send_keys("Sam")
    agent.find_element("css selector", "#signin-form button").click()
    queued = wait_for(
        agent, lambda d: d.find_elements("css selector", f"#queue [data-session='{session['id']}']")
    )
    queued[0].click()
    wait_for(
        agent,
        lambda d: "I want to talk to a human" in d.find_element("id", "conv-log").text,
    )
    assert "Do you sell bitcoin?" in agent.find_element("id", "conv-log").text
    agent.find_element("id", "reply").send_keys("Hi, Sam here. What can I do for you?")
    agent.find_element("id", "send").click()

    # ... which reaches the widget by polling, with the agent's name.
    agent_reply = wait_replies(customer, 6)[-1]
    assert agent_reply == {
        "role": "agent",
        "text": "Hi, Sam here. What can I do for you?",
        "id": agent_reply["id"],
    }
    wait_for(customer, lambda d: status_text(d) == "Chatting with Sam")

    # The customer answers; the console shows it without a reload.
    type_message(customer, "Please close my old savings account")
    wait_for(
        agent,
        lambda d: "Please close my old savings account" in d.find_element("id", "conv-log").text,
    )
    screenshot(agent, "agent-console")
    screenshot_region(agent, "docs-agent", x=0, y=0, width=1280, height=860, scale=0.5)
    assert_accessible(agent, "the agent console")

    # The agent gives the session back: it leaves the queue, the widget says so.
    agent.find_element("id", "giveback").click()
    wait_for(agent, lambda d: not d.find_elements("css selector", "#queue [data-session]"))
    wait_for(customer, lambda d: status_text(d) == "Virtual assistant", 15)
    notes = in_widget(customer, "return [...s.querySelectorAll('.note')].map(n => n.textContent);")
    assert any("back with the virtual assistant" in n for n in notes), notes
    type_message(customer, "What is your refund policy?")
    assert wait_replies(customer, 7)[-1]["text"].startswith("You can ask for a refund")

    # The analytics page (same admin key, same tab): every chart drawn from these turns.
    agent.get(site.base_url + "/admin")
    today = date.today()
    expected = summarize(
        analytics=site.services.analytics,
        tenant_id="northwind",
        start=today,
        end=today,
    )
    assert expected["turns"] >= 7 and expected["feedback"] == {"up": 0, "down": 1}
    wait_for(agent, lambda d: d.execute_script("return !!Chart.getChart('chart-latency');"))
    drawn = agent.execute_script(
        "const sum = (id, i) =>"
        "  Chart.getChart(id).data.datasets[i].data.reduce((a, b) => a + b, 0);"
        "const inked = (id) => { const c = document.getElementById(id);"
        "  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "  let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i]) n++; return n; };"
        "return {turns: sum('chart-volume', 0), sessions: sum('chart-volume', 1),"
        " intents: Chart.getChart('chart-intents').data.labels,"
        " latency: sum('chart-latency', 0),"
        " inked: ['chart-volume', 'chart-rates', 'chart-intents', 'chart-latency'].map(inked)};"
    )
    assert drawn["turns"] == expected["turns"]
    assert drawn["sessions"] == expected["sessions"] == 1
    assert drawn["latency"] == expected["turns"]
    assert drawn["intents"] == [i["intent"] for i in expected["top_intents"]]
    assert all(count > 500 for count in drawn["inked"]), drawn["inked"]
    tiles = agent.find_element("id", "tiles").text
    assert f"{expected['turns']}\nTurns" in tiles
    # the suggestion the customer clicked above, counted and listed
    assert [r["suggestion"] for r in expected["suggestions_clicked"]] == ["Refund policy"]
    shown = [li.text for li in agent.find_elements("css selector", "#clicked li")]
    assert shown == [f"{r['suggestion']} ({r['count']})" for r in expected["suggestions_clicked"]]

    # Unanswered questions, grouped; a group's button copies its rows as text,intent CSV.
    agent.execute_script(
        "window.__copied = null;"
        "navigator.clipboard.writeText = (t) => { window.__copied = t; return Promise.resolve(); };"
    )
    group = wait_for(agent, lambda d: d.find_elements("css selector", "#groups .group"))[0]
    assert "Do you sell bitcoin?" in group.text
    group.find_element("css selector", "button").click()
    wait_for(agent, lambda d: d.execute_script("return window.__copied;"))
    assert agent.execute_script("return window.__copied;") == "Do you sell bitcoin?,sell_bitcoin\n"
    assert "Copied 1 row (text,intent)" in agent.find_element("id", "copy-status").text
    agent.set_window_size(1280, 1500)
    agent.execute_script("window.scrollTo(0, 0);")
    screenshot(agent, "analytics")
    height = agent.execute_script("return document.documentElement.scrollHeight;")
    screenshot_region(agent, "docs-analytics", x=0, y=0, width=1280, height=height, scale=0.5)
    assert_accessible(agent, "the analytics page")

    assert page_errors(customer) == []
    assert page_errors(agent) == []


def test_a_voice_message_is_transcribed_answered_and_spoken(site: Site, customer: Any) -> None:
    customer.get(site.base_url + "/")
    wait_for(customer, lambda d: in_widget(d, "return !!(s && s.querySelector('.panel'))"))
    if in_widget(customer, "return s.querySelector('.panel').hidden;"):
        in_widget(customer, "s.querySelector('.launcher').click();")
    replies = len(bot_replies(customer))
    assert in_widget(customer, "return !s.querySelector('.mic').hidden;")

    in_widget(customer, "s.querySelector('.mic').click();")
    wait_for(
        customer,
        lambda d: (
            in_widget(d, "return s.querySelector('.mic').getAttribute('aria-pressed');") == "true"
        ),
    )
    # A recording takes the time it records: one second of the fake microphone's tone.
    customer.execute_async_script("setTimeout(arguments[arguments.length - 1], 1000);")
    in_widget(customer, "s.querySelector('.mic').click();")

    reply = wait_replies(customer, replies + 1, timeout=30)[-1]
    assert "Saturday from 9am to 1pm" in reply["text"]
    spoken = [m["text"] for m in widget_messages(customer) if m["role"] == "user"][-1]
    assert spoken == "🎤 " + HEARD
    wait_for(
        customer,
        lambda d: d.execute_script(
            "return performance.getEntriesByType('resource')"
            ".some(e => /\\/v1\\/jobs\\/[^/]+\\/audio$/.test(e.name));"
        ),
    )
    assert in_widget(customer, "return s.querySelector('.notice').hidden;")
    voice = site.services.history.list_messages(
        tenant_id="northwind", session_id=reply_session(customer), limit=500
    )
    assert [m.channel.value for m in voice.items[-2:]] == ["voice", "voice"]


def reply_session(driver: Any) -> str:
    stored = driver.execute_script(
        "return JSON.parse(localStorage.getItem(Object.keys(localStorage)"
        ".find(k => k.endsWith(':session'))));"
    )
    return str(stored["id"])


# --------------------------------------------------------------------------- other pages


def test_a_widget_key_from_a_page_whose_origin_is_not_allowed_is_refused(
    site: Site, customer: Any
) -> None:
    sessions_before = site.services.history.list_sessions(tenant_id="northwind", limit=500)
    customer.get(site.refused_url + "/plain.html")  # localhost: not in the allowed origins
    open_widget(customer)
    wait_for(customer, lambda d: in_widget(d, "return !s.querySelector('.notice').hidden;"))
    notice = in_widget(customer, "return s.querySelector('.notice').textContent;")
    assert notice == "This chat is not available on this website."
    assert in_widget(customer, "return s.querySelector('textarea').disabled;")
    assert in_widget(customer, "return s.querySelector('.notice').getAttribute('role');") == "alert"
    screenshot(customer, "widget-refused-origin")
    sessions_after = site.services.history.list_sessions(tenant_id="northwind", limit=500)
    assert len(sessions_after.items) == len(sessions_before.items)  # nothing was opened
    # only the refusal itself: the API declines the preflight of an origin no tenant allows
    errors = page_errors(customer)
    assert errors and all("/v1/sessions" in e for e in errors), errors


def test_the_widget_survives_a_hostile_host_page(site: Site, customer: Any) -> None:
    customer.get(site.host_url + "/hostile.html")
    open_widget(customer)
    type_message(customer, "My card has not arrived")
    wait_replies(customer, 1)
    looks = in_widget(
        customer,
        "const box = (q) => { const e = s.querySelector(q); const r = e.getBoundingClientRect();"
        "  const c = getComputedStyle(e); return {w: Math.round(r.width), h: Math.round(r.height),"
        "  right: Math.round(innerWidth - r.right), bottom: Math.round(innerHeight - r.bottom),"
        "  display: c.display, bg: c.backgroundColor, font: c.fontSize, family: c.fontFamily,"
        "  style: c.fontStyle, transform: c.transform, visible: c.visibility}; };"
        "return {launcher: box('.launcher'), panel: box('.panel'), header: box('header'),"
        "  bubble: box('.bot .b'), send: box('.send'), host: getComputedStyle(r).transform};",
    )
    launcher, panel, bubble = looks["launcher"], looks["panel"], looks["bubble"]
    assert (launcher["w"], launcher["h"]) == (56, 56)
    assert (launcher["right"], launcher["bottom"]) == (20, 20)
    assert launcher["bg"] == "rgb(29, 78, 216)" and launcher["visible"] == "visible"
    assert (panel["w"], panel["h"]) == (380, 560) and panel["display"] == "flex"
    assert looks["header"]["bg"] == "rgb(29, 78, 216)"
    assert (bubble["font"], bubble["style"]) == ("14px", "normal")
    assert "serif" not in bubble["family"].replace("sans-serif", "")
    assert looks["send"]["display"] == "flex" and looks["send"]["w"] == 40
    assert looks["host"] == "none"
    screenshot(customer, "widget-hostile-host")


def test_the_widget_on_a_phone_sized_screen(site: Site, customer: Any) -> None:
    customer.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        customer.get(site.base_url + "/")
        # Still the earlier session of this browser: its history comes back in the open panel.
        wait_for(customer, lambda d: in_widget(d, "return !!(s && s.querySelector('.panel'))"))
        if in_widget(customer, "return s.querySelector('.panel').hidden;"):
            in_widget(customer, "s.querySelector('.launcher').click();")
        wait_for(customer, lambda d: len(widget_messages(d)) > 0)
        panel = in_widget(
            customer,
            "const p = s.querySelector('.panel').getBoundingClientRect();"
            "return {w: Math.round(p.width), h: Math.round(p.height), x: p.left, y: p.top,"
            " launcher: getComputedStyle(s.querySelector('.launcher')).display};",
        )
        assert panel == {"w": 390, "h": 844, "x": 0, "y": 0, "launcher": "none"}
        screenshot(customer, "widget-phone")
        from selenium.webdriver.common.keys import Keys

        in_widget(customer, "return s.querySelector('textarea');").send_keys(Keys.ESCAPE)
        wait_for(customer, lambda d: in_widget(d, "return s.querySelector('.panel').hidden;"))
        focused = in_widget(customer, "return s.activeElement && s.activeElement.className;")
        assert focused == "launcher"  # the focus goes back to where the chat was opened
    finally:
        customer.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
