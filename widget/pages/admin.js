/* The analytics page: GET /v1/analytics/summary?from=&to= drawn with the vendored Chart.js, and
 * the unanswered questions grouped by similarity, each group copied as text,intent CSV rows. */
"use strict";
(() => {
  const { call, el } = Lambdesk;
  const $ = (id) => document.getElementById(id);
  const COLORS = { blue: "#1d4ed8", teal: "#0f766e", amber: "#b45309", red: "#b42318", grey: "#545c68" };
  const charts = {};

  function isoDay(date) { return date.toISOString().slice(0, 10); }
  function percent(value) { return `${(value * 100).toFixed(1)} %`; }
  function ms(value) { return value === null || value === undefined ? "–" : `${Math.round(value)} ms`; }

  function draw(id, config) {
    if (charts[id]) charts[id].destroy();
    config.options = Object.assign({
      animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { position: "bottom" } }
    }, config.options || {});
    charts[id] = new Chart($(id), config);
  }

  function tiles(s) {
    const items = [
      ["Turns", s.turns], ["Sessions", s.sessions],
      ["Fallback rate", percent(s.fallback_rate)], ["Handoff rate", percent(s.handoff_rate)],
      ["Thumbs-down rate", percent(s.thumbs_down_rate)], ["Thumbs up / down", `${s.feedback.up} / ${s.feedback.down}`],
      ["Latency p50", ms(s.latency_ms.p50)], ["Latency p95", ms(s.latency_ms.p95)]
    ];
    $("tiles").replaceChildren(...items.map(([k, v]) => el("div", { class: "tile" }, [
      el("span", { class: "v", text: String(v) }), el("span", { class: "k", text: k })
    ])));
  }

  function clicked(s) {
    const rows = s.suggestions_clicked || [];
    $("clicked").replaceChildren(...rows.map((r) => el("li", { text: `${r.suggestion} (${r.count})` })));
    $("clicked-empty").hidden = rows.length > 0;
  }

  function charted(s) {
    const labels = s.days.map((d) => d.day.slice(5));
    draw("chart-volume", {
      type: "bar",
      data: { labels, datasets: [
        { label: "Turns", data: s.days.map((d) => d.turns), backgroundColor: COLORS.blue },
        { label: "Sessions", data: s.days.map((d) => d.sessions), backgroundColor: COLORS.teal }
      ] },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
    $("volume-text").textContent = `${s.turns} turns and ${s.sessions} sessions from ${s.from} to ${s.to}.`;

    const rate = (a, b) => (b > 0 ? Math.round((a / b) * 1000) / 10 : 0);
    draw("chart-rates", {
      type: "line",
      data: { labels, datasets: [
        { label: "Fallback %", data: s.days.map((d) => rate(d.fallbacks, d.turns)), borderColor: COLORS.amber, backgroundColor: COLORS.amber },
        { label: "Handoff %", data: s.days.map((d) => rate(d.handoffs, d.sessions)), borderColor: COLORS.blue, backgroundColor: COLORS.blue },
        { label: "Thumbs-down %", data: s.days.map((d) => rate(d.feedback_down, d.feedback_up + d.feedback_down)), borderColor: COLORS.red, backgroundColor: COLORS.red }
      ] },
      options: { scales: { y: { beginAtZero: true, suggestedMax: 100 } } }
    });
    $("rates-text").textContent = `Fallback rate ${percent(s.fallback_rate)}, handoff rate ${percent(s.handoff_rate)}, thumbs-down rate ${percent(s.thumbs_down_rate)}.`;

    draw("chart-intents", {
      type: "bar",
      data: { labels: s.top_intents.map((i) => i.intent), datasets: [
        { label: "Answered turns", data: s.top_intents.map((i) => i.count), backgroundColor: COLORS.teal }
      ] },
      options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
    $("intents-text").textContent = s.top_intents.length
      ? "Top intents: " + s.top_intents.map((i) => `${i.intent} (${i.count})`).join(", ") + "."
      : "No intent answered in these days.";

    // Every bucket from the fastest to the slowest turn, empty ones too (a true histogram).
    const index = (le) => Math.round(Math.log(le) / Math.log(1.25));
    const counts = new Map((s.latency_ms.histogram || []).map((b) => [index(b.le_ms), b.count]));
    const present = [...counts.keys()];
    const histogram = [];
    if (present.length) {
      for (let i = Math.min(...present); i <= Math.max(...present); i++) {
        histogram.push({ le_ms: Math.pow(1.25, i), count: counts.get(i) || 0 });
      }
    }
    draw("chart-latency", {
      type: "bar",
      data: { labels: histogram.map((b) => `≤ ${b.le_ms < 1000 ? Math.round(b.le_ms) + " ms" : (b.le_ms / 1000).toFixed(1) + " s"}`),
        datasets: [{ label: "Turns", data: histogram.map((b) => b.count), backgroundColor: COLORS.grey }] },
      options: {
        plugins: { legend: { display: false }, subtitle: { display: true, text: `p50 ${ms(s.latency_ms.p50)} · p95 ${ms(s.latency_ms.p95)}` } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
      }
    });
    $("latency-text").textContent = `Median turn latency ${ms(s.latency_ms.p50)}, 95th percentile ${ms(s.latency_ms.p95)}.`;
  }

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) { // no clipboard permission: the old way
      const area = el("textarea", { class: "sr", "aria-hidden": "true" });
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
  }

  function groups(s) {
    const box = $("groups");
    box.replaceChildren();
    if (!s.unanswered_groups.length) {
      box.append(el("p", { class: "hint", text: "Nothing unanswered in these days." }));
      return;
    }
    s.unanswered_groups.forEach((g, index) => {
      const titleId = `group-${index}`;
      const button = el("button", { class: "secondary", type: "button", "aria-describedby": titleId,
        text: `Copy ${g.questions.length} as training rows` });
      button.addEventListener("click", async () => {
        await copy(g.csv);
        const rows = g.questions.length === 1 ? "1 row" : `${g.questions.length} rows`;
        $("copy-status").textContent = `Copied ${rows} (text,intent) for “${g.label}”.`;
      });
      box.append(el("article", { class: "group" }, [
        el("h3", { id: titleId, text: `${g.label} — asked ${g.count} time${g.count === 1 ? "" : "s"}` }),
        el("ul", {}, g.questions.map((q) => el("li", { text: q }))),
        el("div", { class: "row" }, [button, el("span", { class: "hint", text: `suggested intent: ${g.intent}` })])
      ]));
    });
  }

  async function show() {
    $("range-status").textContent = "Loading…";
    try {
      const s = await call("GET", `/v1/analytics/summary?from=${$("from").value}&to=${$("to").value}`);
      tiles(s);
      charted(s);
      clicked(s);
      groups(s);
      $("range-status").textContent = `${s.from} to ${s.to} (UTC)`;
    } catch (e) {
      $("range-status").textContent = e.message;
    }
  }

  $("range").addEventListener("submit", (event) => { event.preventDefault(); show(); });
  const today = new Date();
  $("to").value = isoDay(today);
  $("from").value = isoDay(new Date(today.getTime() - 13 * 86400000));

  Lambdesk.signIn({ check: () => call("GET", "/v1/analytics/summary?from=" + isoDay(today) + "&to=" + isoDay(today)), start: show });
})();
