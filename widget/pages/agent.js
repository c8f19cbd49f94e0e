/* The agent console: the handoff queue, a session's history (new messages by polling with a
 * cursor), replies as the signed-in agent, and giving the session back to the bot. */
"use strict";
(() => {
  const { call, el, time } = Lambdesk;
  const NAME = "lambdesk:agent-name";
  const QUEUE_MS = 3000;
  const CONVERSATION_MS = 2000;
  const $ = (id) => document.getElementById(id);
  let current = null; // session id
  let cursor = null;
  let seen = new Set();
  let queueTimer = null;
  let convTimer = null;

  function agentName() {
    try { return sessionStorage.getItem(NAME) || "Agent"; } catch (e) { return "Agent"; }
  }

  function addMessage(m) {
    if (seen.has(m.message_id)) return;
    seen.add(m.message_id);
    const meta = m.metadata || {};
    if (meta.quiet) return; // the bot's "an agent will reply" acknowledgements
    const who = m.role === "user" ? "Customer" : m.role === "agent" ? (meta.agent || "Agent") : "Bot";
    $("conv-log").append(el("div", { class: `msg ${m.role}` }, [
      el("span", { class: "who", text: `${who} · ${time(m.created_at)}` }), m.text
    ]));
    $("conv-log").scrollTop = $("conv-log").scrollHeight;
  }

  async function loadConversation() {
    clearTimeout(convTimer);
    if (!current) return;
    const session = current;
    try {
      let page;
      do {
        const query = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
        page = await call("GET", `/v1/sessions/${encodeURIComponent(session)}/messages?limit=100${query}`);
        if (session !== current) return;
        page.items.forEach(addMessage);
        if (page.items.length) cursor = page.items[page.items.length - 1].message_id;
      } while (page.next_cursor);
    } catch (e) {
      $("conv-status").textContent = e.status === 404 ? "This conversation no longer exists." : e.message;
    }
    convTimer = setTimeout(loadConversation, CONVERSATION_MS);
  }

  function select(item) {
    current = item.session_id;
    cursor = null;
    seen = new Set();
    $("conv-log").textContent = "";
    $("conv-title").textContent = `Conversation ${item.session_id}`;
    $("conv-status").textContent = item.reason ? `Handed over: ${item.reason}` : "";
    for (const id of ["reply", "send", "giveback"]) $(id).disabled = false;
    document.querySelectorAll("#queue button").forEach((b) => {
      b.setAttribute("aria-current", b.dataset.session === current ? "true" : "false");
    });
    loadConversation();
    $("reply").focus();
  }

  function renderQueue(items) {
    const list = $("queue");
    const focused = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.session : null;
    list.textContent = "";
    $("queue-count").textContent = String(items.length);
    $("queue-empty").hidden = items.length > 0;
    for (const item of items) {
      const button = el("button", {
        type: "button", "data-session": item.session_id, "aria-current": item.session_id === current ? "true" : "false"
      }, [
        item.session_id,
        el("span", { class: `badge ${item.handoff}`, text: item.handoff }),
        el("span", { class: "meta", text: `${item.turns} turns · last active ${time(item.last_activity)}` })
      ]);
      button.addEventListener("click", () => select(item));
      list.append(el("li", {}, [button]));
      if (item.session_id === focused) button.focus();
    }
  }

  async function refreshQueue() {
    clearTimeout(queueTimer);
    try {
      renderQueue((await call("GET", "/v1/handoffs?limit=100")).items);
    } catch (e) {
      $("conv-status").textContent = e.message;
    }
    queueTimer = setTimeout(refreshQueue, QUEUE_MS);
  }

  $("reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("reply").value.trim();
    if (!text || !current) return;
    $("send").disabled = true;
    try {
      const stored = await call("POST", `/v1/sessions/${encodeURIComponent(current)}/agent-messages`, {
        text, agent: agentName()
      });
      addMessage(stored);
      $("reply").value = "";
      $("conv-status").textContent = "Sent.";
    } catch (e) {
      $("conv-status").textContent = e.message;
    } finally {
      $("send").disabled = false;
      $("reply").focus();
    }
  });

  $("reply").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("reply-form").requestSubmit();
    }
  });

  $("giveback").addEventListener("click", async () => {
    if (!current) return;
    try {
      await call("DELETE", `/v1/sessions/${encodeURIComponent(current)}/handoff`);
      $("conv-status").textContent = "Given back to the bot.";
      current = null;
      clearTimeout(convTimer);
      for (const id of ["reply", "send", "giveback"]) $(id).disabled = true;
      $("conv-title").textContent = "Select a conversation";
      refreshQueue();
    } catch (e) {
      $("conv-status").textContent = e.message;
    }
  });

  Lambdesk.signIn({
    check: () => call("GET", "/v1/handoffs?limit=1"),
    extra: () => {
      const name = $("agent-name").value.trim();
      try { if (name) sessionStorage.setItem(NAME, name); } catch (e) { /* ignore */ }
    },
    start: () => {
      $("who").textContent = `Signed in as ${agentName()}`;
      refreshQueue();
    }
  });
})();
