/* Shared by the agent console and the analytics page: sign-in with the tenant's admin key (kept
 * in this tab's sessionStorage only), and JSON calls to the API on this origin. */
"use strict";
const Lambdesk = (() => {
  const KEY = "lambdesk:admin-key";

  function key() {
    try { return sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  }

  async function call(method, path, body) {
    const headers = { Authorization: "Bearer " + key() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "omit"
    });
    let data = null;
    try { data = await res.json(); } catch (e) { /* empty */ }
    if (!res.ok) {
      const info = (data && data.error) || {};
      const err = new Error(info.message || `request failed (${res.status})`);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  /* Wire the sign-in form; `check` proves the key works; `start` runs once signed in. */
  function signIn({ check, start, extra }) {
    const form = document.getElementById("signin-form");
    const error = document.getElementById("signin-error");
    const signin = document.getElementById("signin");
    const app = document.getElementById("app");
    const out = document.getElementById("signout");

    async function enter() {
      try {
        await check();
      } catch (e) {
        try { sessionStorage.removeItem(KEY); } catch (x) { /* ignore */ }
        signin.hidden = false;
        app.hidden = true;
        out.hidden = true;
        error.textContent = e.status === 401 || e.status === 403
          ? "That key was refused: use the tenant's admin key (ldk_admin_…)."
          : e.message;
        return;
      }
      signin.hidden = true;
      app.hidden = false;
      out.hidden = false;
      error.textContent = "";
      start();
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = document.getElementById("admin-key").value.trim();
      if (!value) { error.textContent = "Enter the admin key."; return; }
      try { sessionStorage.setItem(KEY, value); } catch (e) { /* ignore */ }
      if (extra) extra();
      document.getElementById("admin-key").value = "";
      enter();
    });
    out.addEventListener("click", () => {
      try { sessionStorage.removeItem(KEY); } catch (e) { /* ignore */ }
      location.reload();
    });
    if (key()) enter();
  }

  function el(tag, attrs = {}, kids = []) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") node.textContent = v;
      else if (v !== null && v !== undefined) node.setAttribute(k, v);
    }
    for (const kid of kids) if (kid) node.append(kid);
    return node;
  }

  function time(iso) {
    const at = new Date(iso);
    return isNaN(at) ? "" : at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  return { call, signIn, el, time };
})();
