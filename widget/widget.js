/*! lambdesk chat widget (Apache-2.0)
 * Embed: <script src="https://<api>/widget.js" data-key="ldk_pub_…" async></script>
 * Options (data-*): api (API base; default: where this script came from), title, position
 * ("left"/"right"), open ("true": open at load), user-id + user-signature (identity
 * verification), images ("on": attach an image). Styling: the --ldk-* CSS variables.
 * Plain JavaScript, no build step; everything lives in one shadow root.
 */
(function () {
  "use strict";
  var script =
    document.currentScript || document.querySelector('script[data-key][src*="widget.js"]');
  if (!script || window.__lambdesk) return;
  window.__lambdesk = true;

  var d = script.dataset;
  var KEY = d.key || "";
  var API = (d.api || new URL(".", script.src).href).replace(/\/+$/, "");
  var TITLE = d.title || "Chat with us";
  var USER = d.userId || "";
  var SIGNATURE = d.userSignature || "";
  var STORE = "lambdesk:" + KEY.slice(-10);
  var POLL_OPEN_MS = 2500;
  var POLL_CLOSED_MS = 10000;
  var MAX_TEXT = 2000;
  var MAX_RECORD_MS = 60000;
  var MAX_HISTORY_PAGES = 5;

  var CSS =
    ":host{all:initial!important;display:block!important;position:fixed!important;z-index:var(--ldk-z,2147483000)!important;bottom:20px!important;right:20px!important;left:auto!important;top:auto!important;width:auto!important;height:auto!important;margin:0!important;padding:0!important;border:0!important;transform:none!important;visibility:visible!important;opacity:1!important;" +
    "--a:var(--ldk-accent,#1d4ed8);--at:var(--ldk-accent-text,#fff);--bg:var(--ldk-bg,#fff);--fg:var(--ldk-text,#1b1f24);--mu:var(--ldk-muted,#545c68);--bb:var(--ldk-bot-bubble,#eef1f5);--r:var(--ldk-radius,14px);" +
    "font:14px/1.45 var(--ldk-font,system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif)!important;color:var(--fg)!important;text-align:left!important;letter-spacing:normal!important;text-transform:none!important}" +
    ":host([data-position=left]){left:20px!important;right:auto!important}" +
    "*,*::before,*::after{box-sizing:border-box;font:inherit;color:inherit;margin:0;padding:0;border:0;background:none;letter-spacing:normal;text-transform:none}" +
    "[hidden]{display:none!important}" +
    "button{cursor:pointer;border-radius:8px}button:disabled{cursor:default;opacity:.55}" +
    ":focus-visible{outline:3px solid var(--a);outline-offset:2px}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}" +
    ".launcher{display:flex;align-items:center;justify-content:center;width:56px;height:56px;border-radius:50%;background:var(--a);color:var(--at);box-shadow:0 4px 16px rgba(0,0,0,.25);margin-left:auto}" +
    ".launcher svg{width:28px;height:28px;fill:currentColor}" +
    ".panel{position:absolute;bottom:72px;right:0;display:flex;flex-direction:column;width:var(--ldk-width,380px);height:var(--ldk-height,560px);max-height:calc(100vh - 110px);background:var(--bg);border-radius:var(--r);box-shadow:0 12px 40px rgba(0,0,0,.28);overflow:hidden}" +
    ":host([data-position=left]) .panel{right:auto;left:0}" +
    "header{display:flex;align-items:center;gap:8px;padding:12px 12px 12px 16px;background:var(--a);color:var(--at)}" +
    "header .t{flex:1;min-width:0}h2{font-size:16px;font-weight:600}" +
    ".status{font-size:12px;opacity:.92}" +
    "header button{padding:6px 10px;border:1px solid currentColor;font-size:12px}" +
    "header .close{border:0;font-size:22px;line-height:1;padding:2px 8px}" +
    ".notice{padding:10px 14px;background:#fde8e8;color:#8a1c1c;font-size:13px}" +
    ".log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:10px}" +
    ".m{max-width:85%;display:flex;flex-direction:column;gap:6px}" +
    ".m .b{padding:9px 12px;border-radius:var(--r);white-space:pre-wrap;overflow-wrap:anywhere}" +
    ".user{align-self:flex-end}.user .b{background:var(--a);color:var(--at);border-bottom-right-radius:4px}" +
    ".bot .b,.agent .b{background:var(--bb);border-bottom-left-radius:4px}" +
    ".agent .b{border-left:3px solid var(--a)}" +
    ".who{font-size:12px;color:var(--mu)}" +
    ".note{align-self:center;max-width:100%;font-size:12px;color:var(--mu);text-align:center}" +
    ".cites{list-style:none;font-size:12px;display:flex;flex-direction:column;gap:4px}" +
    ".cites a{color:var(--a);text-decoration:underline}" +
    ".cites summary{cursor:pointer;color:var(--a);text-decoration:underline}.cites p{margin-top:4px;color:var(--mu)}" +
    ".sugg{display:flex;flex-wrap:wrap;gap:6px}" +
    ".sugg button{padding:5px 10px;border:1px solid var(--a);color:var(--a);border-radius:999px;font-size:13px;background:var(--bg)}" +
    ".rate{display:flex;gap:4px}.rate button{display:flex;padding:4px 7px;border:1px solid #c9ced6;background:var(--bg);color:var(--mu)}" +
    ".rate svg{width:14px;height:14px;fill:currentColor}.rate .down svg{transform:scaleY(-1)}" +
    ".rate button[aria-pressed=true]{background:var(--a);border-color:var(--a);color:var(--at)}" +
    ".typing{padding:0 16px 6px;height:20px;color:var(--mu);font-size:12px}" +
    ".dots span{display:inline-block;width:6px;height:6px;margin-right:3px;border-radius:50%;background:var(--mu);animation:ldk 1s infinite alternate}" +
    ".dots span:nth-child(2){animation-delay:.2s}.dots span:nth-child(3){animation-delay:.4s}" +
    "@keyframes ldk{to{opacity:.2}}@media (prefers-reduced-motion:reduce){.dots span{animation:none}}" +
    "form{display:flex;align-items:flex-end;gap:6px;padding:10px;border-top:1px solid #dde1e7}" +
    "textarea{flex:1;resize:none;min-height:40px;max-height:120px;padding:9px 11px;border:1px solid #b9c0ca;border-radius:10px;background:var(--bg)}" +
    "form button{width:40px;height:40px;display:flex;align-items:center;justify-content:center;border-radius:10px;color:var(--a)}" +
    "form .send{background:var(--a);color:var(--at)}form svg{width:20px;height:20px;fill:currentColor}" +
    "form .mic[aria-pressed=true]{background:#b42318;color:#fff}" +
    "@media (max-width:480px){:host{bottom:12px!important;right:12px!important}:host([data-position=left]){left:12px!important}" +
    ".panel{position:fixed;inset:0;width:100vw;height:100vh;height:100dvh;max-height:none;border-radius:0}" +
    ":host([data-open]) .launcher{display:none}}";

  var ICON = {
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z",
    send: "M3 20l18-8L3 4v6l12 2-12 2z",
    mic: "M12 15a3 3 0 0 0 3-3V6a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V21h2v-2.1A7 7 0 0 0 19 12z",
    image: "M21 19V5a2 2 0 0 0-2-2H5a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2zM8.5 13.5l2.5 3 3.5-4.5 4.5 6H5z",
    up: "M1 21h4V9H1v12zm22-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.5-1.1L14.2 1 7.6 7.6C7.2 8 7 8.4 7 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z"
  };

  // ------------------------------------------------------------------ small helpers
  function el(tag, attrs, kids) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "on") Object.keys(attrs.on).forEach(function (e) { node.addEventListener(e, attrs.on[e]); });
      else if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k]);
    });
    (kids || []).forEach(function (kid) { if (kid) node.appendChild(kid); });
    return node;
  }
  function icon(name) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", ICON[name]);
    svg.appendChild(path);
    return svg;
  }
  function load(name, fallback) {
    try { return JSON.parse(localStorage.getItem(STORE + name)) || fallback; } catch (e) { return fallback; }
  }
  function save(name, value) {
    try {
      if (value === null) localStorage.removeItem(STORE + name);
      else localStorage.setItem(STORE + name, JSON.stringify(value));
    } catch (e) { /* private mode: the session lasts as long as the page */ }
  }

  async function call(method, path, body, token, type) {
    var headers = { Authorization: "Bearer " + (token || KEY) };
    var payload = body;
    if (body && type) headers["Content-Type"] = type;
    else if (body) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
    var res;
    try {
      res = await fetch(API + path, { method: method, headers: headers, body: payload, credentials: "omit" });
    } catch (e) {
      var offline = new Error("The chat service cannot be reached. Check your connection and try again.");
      offline.status = 0;
      throw offline;
    }
    var data = null;
    try { data = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) {
      var info = (data && data.error) || {};
      var err = new Error(info.message || "Something went wrong (" + res.status + ").");
      err.status = res.status;
      err.code = info.code;
      throw err;
    }
    return data;
  }

  // ------------------------------------------------------------------ the DOM
  var host = el("lambdesk-chat", { "data-position": d.position === "left" ? "left" : null });
  var root = host.attachShadow({ mode: "open" });
  if (root.adoptedStyleSheets && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } else {
    root.appendChild(el("style", { text: CSS }));
  }

  var launcher = el("button", {
    class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "ldk-panel", "aria-label": "Open chat: " + TITLE
  }, [icon("chat")]);
  var status = el("p", { class: "status", id: "ldk-status", text: "Virtual assistant" });
  var humanButton = el("button", { class: "human", type: "button", text: "Talk to a person" });
  var closeButton = el("button", { class: "close", type: "button", "aria-label": "Close chat", text: "×" });
  var notice = el("div", { class: "notice", role: "alert", hidden: "" });
  var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0" });
  var typingDots = el("span", { class: "dots", "aria-hidden": "true", hidden: "" }, [el("span"), el("span"), el("span")]);
  var typingText = el("span", { class: "sr" });
  var typingBox = el("div", { class: "typing", role: "status" }, [typingDots, typingText]);
  var input = el("textarea", { id: "ldk-input", rows: "1", maxlength: String(MAX_TEXT), placeholder: "Type your message", "aria-describedby": "ldk-status" });
  var sendButton = el("button", { class: "send", type: "submit", "aria-label": "Send" }, [icon("send")]);
  var micButton = el("button", { class: "mic", type: "button", "aria-label": "Record a voice message", "aria-pressed": "false", hidden: "" }, [icon("mic")]);
  var fileInput = el("input", { type: "file", accept: "image/png,image/jpeg,image/webp", hidden: "", tabindex: "-1", "aria-hidden": "true" });
  var attachButton = el("button", { class: "attach", type: "button", "aria-label": "Attach an image", hidden: "" }, [icon("image")]);
  var form = el("form", { class: "composer", "aria-label": "Send a message" }, [
    el("label", { class: "sr", for: "ldk-input", text: "Message" }), input, fileInput, attachButton, micButton, sendButton
  ]);
  var panel = el("section", { class: "panel", id: "ldk-panel", role: "dialog", "aria-labelledby": "ldk-title", hidden: "" }, [
    el("header", {}, [el("div", { class: "t" }, [el("h2", { id: "ldk-title", text: TITLE }), status]), humanButton, closeButton]),
    notice, log, typingBox, form
  ]);
  root.appendChild(panel);
  root.appendChild(launcher);
  if (window.MediaRecorder && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) micButton.hidden = false;
  if (d.images === "on") attachButton.hidden = false;

  // ------------------------------------------------------------------ state
  var session = null; // {id, token, expires, user, greeting}
  var ratings = load(":ratings", {});
  var seen = new Set();
  var pendingUser = [];
  var cursor = null;
  var handoff = "none";
  var pollTimer = null;
  var opening = null;
  var blocked = false;
  var recorder = null;

  function setStatus(text) { status.textContent = text; }
  function showNotice(text) { notice.textContent = text; notice.hidden = !text; }
  function typing(on) {
    typingDots.hidden = !on;
    typingText.textContent = on ? "The assistant is typing…" : "";
  }
  function scrollDown() { log.scrollTop = log.scrollHeight; }
  function note(text) { log.appendChild(el("p", { class: "note", text: text })); scrollDown(); }

  function clearSuggestions() {
    log.querySelectorAll(".sugg").forEach(function (g) { g.remove(); });
  }

  function ratingGroup(messageId) {
    var group = el("div", { class: "rate", role: "group", "aria-label": "Was this helpful?" });
    [["up", "Helpful"], ["down", "Not helpful"]].forEach(function (r) {
      var button = el("button", {
        type: "button", class: r[0], "data-rating": r[0], "aria-label": r[1], "aria-pressed": ratings[messageId] === r[0] ? "true" : "false"
      }, [icon("up")]);
      button.addEventListener("click", function () { rate(messageId, r[0], group); });
      group.appendChild(button);
    });
    return group;
  }

  function citations(list) {
    if (!list || !list.length) return null;
    var ul = el("ul", { class: "cites", "aria-label": "Sources" });
    list.forEach(function (c) {
      var title = c.title || "Source";
      var item;
      if (c.url && /^https?:\/\//.test(c.url)) {
        item = el("a", { href: c.url, target: "_blank", rel: "noopener noreferrer", text: "Source: " + title });
      } else {
        item = el("details", {}, [el("summary", { text: "Source: " + title }), c.snippet ? el("p", { text: c.snippet }) : null]);
      }
      ul.appendChild(el("li", {}, [item]));
    });
    return ul;
  }

  function suggestions(list) {
    if (!list || !list.length) return null;
    var group = el("div", { class: "sugg", role: "group", "aria-label": "Suggestions" });
    list.forEach(function (text) {
      group.appendChild(el("button", { type: "button", text: text, on: { click: function () { send(text, true); } } }));
    });
    return group;
  }

  // m: {id, role, text, citations, suggestions, agent, rateable}
  function render(m) {
    if (m.id) seen.add(m.id);
    var who = m.role === "user" ? "You" : m.role === "agent" ? (m.agent || "Agent") : "Assistant";
    var node = el("div", { class: "m " + m.role, "data-id": m.id || null }, [
      m.role === "agent" ? el("span", { class: "who", text: who }) : el("span", { class: "sr", text: who + ":" }),
      el("div", { class: "b", text: m.text }),
      citations(m.citations),
      m.role === "bot" && m.suggestions ? suggestions(m.suggestions) : null,
      m.rateable && m.id ? ratingGroup(m.id) : null
    ]);
    log.appendChild(node);
    scrollDown();
    return node;
  }

  // ------------------------------------------------------------------ handoff
  function setHandoff(next, agentName) {
    if (next === handoff && !agentName) return;
    var before = handoff;
    handoff = next;
    humanButton.hidden = next === "waiting" || next === "active";
    if (next === "waiting") setStatus("Waiting for a member of our team…");
    else if (next === "active") {
      setStatus("Chatting with " + (agentName || "our team"));
      if (before !== "active") note((agentName || "An agent") + " joined the chat");
    } else setStatus("Virtual assistant");
    schedulePoll();
  }

  function schedulePoll() {
    clearTimeout(pollTimer);
    if (!session || (handoff !== "waiting" && handoff !== "active")) return;
    pollTimer = setTimeout(poll, panel.hidden ? POLL_CLOSED_MS : POLL_OPEN_MS);
  }

  function absorb(m) {
    if (seen.has(m.message_id)) return;
    if (m.role === "user" && pendingUser.length && pendingUser[0] === m.text) {
      pendingUser.shift();
      seen.add(m.message_id);
      return;
    }
    var meta = m.metadata || {};
    if (m.role === "agent") {
      render({ id: m.message_id, role: "agent", text: m.text, agent: meta.agent });
      setHandoff("active", meta.agent || "our team");
    } else if (m.role === "bot" && meta.event === "handoff_closed") {
      seen.add(m.message_id);
      note(m.text);
      setHandoff("closed");
    } else if (m.role === "bot" && meta.quiet) {
      seen.add(m.message_id);
    } else {
      render({ id: m.message_id, role: m.role, text: m.text, citations: m.citations, rateable: m.role === "bot" });
    }
  }

  async function poll() {
    if (!session) return;
    try {
      var page = await call("GET", "/v1/sessions/" + encodeURIComponent(session.id) + "/messages?limit=100" +
        (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""), null, session.token);
      page.items.forEach(absorb);
      if (page.items.length) cursor = page.items[page.items.length - 1].message_id;
    } catch (e) {
      if (e.status === 401 || e.status === 404) return expire();
    }
    schedulePoll();
  }

  // ------------------------------------------------------------------ the session
  function alive(s) { return s && s.id && s.token && Date.parse(s.expires) - Date.now() > 30000 && s.user === USER; }

  function expire() {
    session = null;
    save(":session", null);
    clearTimeout(pollTimer);
    note("This conversation has ended. Send a message to start a new one.");
    setHandoff("none");
  }

  async function originRefused() {
    // The API declines preflights from origins no tenant allows, so a refusal looks like a
    // network failure; this simple GET (no preflight) says which it was.
    try {
      var res = await fetch(API + "/v1/widget/status?key=" + encodeURIComponent(KEY), { credentials: "omit" });
      var data = await res.json();
      return data && data.origin_allowed === false;
    } catch (e) { return false; }
  }

  async function openSession() {
    var body = {};
    if (USER && SIGNATURE) { body.user_id = USER; body.user_signature = SIGNATURE; }
    var made;
    try {
      made = await call("POST", "/v1/sessions", body, KEY);
    } catch (err) {
      if (err.status === 0 && (await originRefused())) {
        err.status = 403;
        err.code = "origin_not_allowed";
      }
      throw err;
    }
    session = { id: made.session_id, token: made.session_token, expires: made.expires_at, user: USER, greeting: made.greeting };
    save(":session", session);
    cursor = null;
    if (made.greeting) note(made.greeting);
    return session;
  }

  function ensureSession() {
    if (session && alive(session)) return Promise.resolve(session);
    if (!opening) {
      opening = openSession().finally(function () { opening = null; });
    }
    return opening;
  }

  async function restore() {
    var stored = load(":session", null);
    if (!alive(stored)) { save(":session", null); return false; }
    session = stored;
    if (session.greeting) note(session.greeting);
    var items = [];
    var next = null;
    try {
      for (var i = 0; i < MAX_HISTORY_PAGES; i++) {
        var page = await call("GET", "/v1/sessions/" + encodeURIComponent(session.id) + "/messages?limit=100" +
          (next ? "&cursor=" + encodeURIComponent(next) : ""), null, session.token);
        items = items.concat(page.items);
        next = page.next_cursor;
        if (!next) break;
      }
    } catch (e) {
      session = null;
      save(":session", null);
      log.textContent = "";
      return false;
    }
    var state = "none";
    var agentName = null;
    var lastBot = null;
    items.forEach(function (m) {
      var meta = m.metadata || {};
      if (m.role === "agent") { state = "active"; agentName = meta.agent || agentName; }
      if (m.role === "bot" && meta.event === "handoff_closed") { state = "closed"; note(m.text); seen.add(m.message_id); return; }
      if (m.role === "bot" && m.source === "handoff" && !meta.quiet && state !== "active") state = "waiting";
      if (m.role === "bot" && meta.quiet) { seen.add(m.message_id); return; }
      var node = render({ id: m.message_id, role: m.role, text: (m.image ? "🖼 " : "") + m.text, citations: m.citations, agent: meta.agent, rateable: m.role === "bot" });
      if (m.role === "bot") lastBot = { node: node, suggestions: meta.suggestions };
    });
    if (lastBot && state !== "waiting" && state !== "active") {
      var group = suggestions(lastBot.suggestions);
      if (group) lastBot.node.insertBefore(group, lastBot.node.querySelector(".rate"));
    }
    scrollDown();
    if (items.length) cursor = items[items.length - 1].message_id;
    if (state === "active") setHandoff("active", agentName || "our team");
    else setHandoff(state);
    return true;
  }

  function refuse(err) {
    if (err.code === "origin_not_allowed" || err.status === 403) {
      blocked = true;
      setStatus("Unavailable");
      showNotice("This chat is not available on this website.");
      input.disabled = true;
      sendButton.disabled = true;
      micButton.disabled = true;
      humanButton.disabled = true;
      return true;
    }
    if (err.status === 401) {
      blocked = true;
      showNotice("This chat is not set up correctly (the widget key was refused).");
      return true;
    }
    return false;
  }

  // ------------------------------------------------------------------ actions
  async function send(text, fromSuggestion) {
    text = (text || "").trim();
    if (!text || blocked) return;
    if (text.length > MAX_TEXT) { showNotice("Messages can be at most " + MAX_TEXT + " characters."); return; }
    showNotice("");
    clearSuggestions();
    render({ role: "user", text: text });
    pendingUser.push(text);
    if (handoff !== "waiting" && handoff !== "active") typing(true);
    try {
      var s = await ensureSession();
      var body = { session_id: s.id, text: text };
      if (fromSuggestion) body.metadata = { suggestion: true };
      var reply;
      try {
        reply = await call("POST", "/v1/chat", body, s.token);
      } catch (e) {
        if (e.status !== 401) throw e;
        session = null; // the token expired: a new session, and the message again
        s = await ensureSession();
        body.session_id = s.id;
        reply = await call("POST", "/v1/chat", body, s.token);
      }
      var wasHandedOff = handoff === "waiting" || handoff === "active";
      if (!(reply.source === "handoff" && wasHandedOff)) {
        render({ id: reply.message_id, role: "bot", text: reply.text, citations: reply.citations, suggestions: reply.suggestions, rateable: true });
      } else {
        seen.add(reply.message_id);
      }
      if (reply.handoff === "waiting" || reply.handoff === "active") {
        if (!wasHandedOff) setHandoff(reply.handoff);
      } else if (wasHandedOff) setHandoff(reply.handoff);
    } catch (e) {
      if (!refuse(e)) showNotice(e.status === 429 ? "You're sending messages too quickly. Please wait a moment." : e.message);
    } finally {
      typing(false);
    }
  }

  async function rate(messageId, rating, group) {
    if (!session) return;
    try {
      await call("POST", "/v1/sessions/" + encodeURIComponent(session.id) + "/messages/" + encodeURIComponent(messageId) + "/feedback",
        { rating: rating }, session.token);
      ratings[messageId] = rating;
      save(":ratings", ratings);
      group.querySelectorAll("button").forEach(function (b) {
        b.setAttribute("aria-pressed", b.getAttribute("data-rating") === rating ? "true" : "false");
      });
      typingText.textContent = "Thanks for your feedback.";
    } catch (e) {
      showNotice(e.message);
    }
  }

  async function askForHuman() {
    if (blocked) return;
    try {
      var s = await ensureSession();
      await call("POST", "/v1/sessions/" + encodeURIComponent(s.id) + "/handoff", { reason: "asked in the widget" }, s.token);
      note("You asked to talk to a person. A member of our team will reply here.");
      setHandoff("waiting");
    } catch (e) {
      if (!refuse(e)) showNotice(e.message);
    }
  }

  async function sendVoice(blob) {
    if (!blob.size || blob.size > 10 * 1024 * 1024) return;
    showNotice("");
    typing(true);
    try {
      var s = await ensureSession();
      var job = await call("POST", "/v1/voice?wait=25", blob, s.token, (blob.type || "audio/webm").split(";")[0]);
      for (var i = 0; i < 30 && job.status !== "succeeded" && job.status !== "failed"; i++) {
        await new Promise(function (done) { setTimeout(done, 2000); });
        job = await call("GET", "/v1/jobs/" + encodeURIComponent(job.job_id), null, s.token);
      }
      if (job.status !== "succeeded") throw new Error("Sorry, the voice message could not be understood.");
      render({ role: "user", text: "🎤 " + (job.transcript || "") });
      pendingUser.push(job.transcript || "");
      var reply = job.reply || {};
      render({ id: reply.message_id, role: "bot", text: reply.text, citations: reply.citations, suggestions: reply.suggestions, rateable: true });
      var audio = await fetch(API + "/v1/jobs/" + encodeURIComponent(job.job_id) + "/audio", { headers: { Authorization: "Bearer " + s.token } });
      if (audio.ok) {
        var url = URL.createObjectURL(await audio.blob());
        var player = new Audio(url);
        player.onended = function () { URL.revokeObjectURL(url); };
        player.play().catch(function () { /* autoplay refused: the text is there */ });
      }
    } catch (e) {
      if (!refuse(e)) showNotice(e.message);
    } finally {
      typing(false);
    }
  }

  async function toggleRecording() {
    if (recorder) { recorder.stop(); return; }
    var stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      showNotice("The microphone is not available.");
      return;
    }
    var type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4"].find(function (t) {
      return MediaRecorder.isTypeSupported(t);
    });
    var chunks = [];
    recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    var limit = setTimeout(function () { if (recorder) recorder.stop(); }, MAX_RECORD_MS);
    recorder.ondataavailable = function (e) { if (e.data.size) chunks.push(e.data); };
    recorder.onstop = function () {
      clearTimeout(limit);
      stream.getTracks().forEach(function (t) { t.stop(); });
      recorder = null;
      micButton.setAttribute("aria-pressed", "false");
      micButton.setAttribute("aria-label", "Record a voice message");
      sendVoice(new Blob(chunks, { type: (chunks[0] && chunks[0].type) || type || "audio/webm" }));
    };
    recorder.start();
    micButton.setAttribute("aria-pressed", "true");
    micButton.setAttribute("aria-label", "Stop recording and send");
  }

  async function sendImage(file) {
    // The image goes with a chat message (POST /v1/chat, image_b64): stored with the session,
    // classified by the tenant's image model, answered like any turn. Shown with data-images="on".
    if (!file || file.size > 5 * 1024 * 1024) { showNotice("Images can be at most 5 MB."); return; }
    var caption = input.value.trim() || "Here is a picture.";
    input.value = "";
    typing(true);
    try {
      var image = await new Promise(function (resolve, reject) {
        var reader = new FileReader();
        reader.onload = function () { resolve(reader.result); };
        reader.onerror = function () { reject(new Error("The image could not be read.")); };
        reader.readAsDataURL(file);
      });
      var s = await ensureSession();
      render({ role: "user", text: "🖼 " + caption });
      pendingUser.push(caption);
      var reply = await call("POST", "/v1/chat", { session_id: s.id, text: caption, image_b64: image }, s.token);
      render({ id: reply.message_id, role: "bot", text: reply.text, citations: reply.citations, suggestions: reply.suggestions, rateable: true });
    } catch (e) {
      if (!refuse(e)) showNotice(e.message);
    } finally {
      typing(false);
    }
  }

  // ------------------------------------------------------------------ open / close
  var restored = false;
  async function openPanel(focus) {
    panel.hidden = false;
    host.setAttribute("data-open", "");
    launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", "Close chat: " + TITLE);
    try { sessionStorage.setItem(STORE + ":open", "1"); } catch (e) { /* ignore */ }
    if (focus !== false) input.focus();
    if (!restored) {
      restored = true;
      if (!(await restore())) {
        try { await ensureSession(); } catch (e) { if (!refuse(e)) showNotice(e.message); }
      }
    }
    schedulePoll();
  }

  function closePanel() {
    panel.hidden = true;
    host.removeAttribute("data-open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", "Open chat: " + TITLE);
    try { sessionStorage.removeItem(STORE + ":open"); } catch (e) { /* ignore */ }
    launcher.focus();
    schedulePoll();
  }

  launcher.addEventListener("click", function () { if (panel.hidden) openPanel(); else closePanel(); });
  closeButton.addEventListener("click", closePanel);
  humanButton.addEventListener("click", askForHuman);
  micButton.addEventListener("click", toggleRecording);
  attachButton.addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () { sendImage(fileInput.files[0]); fileInput.value = ""; });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") closePanel(); });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    input.value = "";
    send(text, false);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });

  function mount() {
    document.body.appendChild(host);
    var reopen = false;
    try { reopen = sessionStorage.getItem(STORE + ":open") === "1"; } catch (e) { /* ignore */ }
    if (reopen || d.open === "true") openPanel(false);
    else if (alive(load(":session", null))) {
      restored = true;
      restore();
    }
  }
  if (!KEY) {
    console.error("lambdesk: the widget's script tag needs data-key");
    return;
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
