// Supervisor landing page: agents online, recent cases and calls (refreshed every 5 s).
"use strict";
(function () {
  const { el, api, when, label } = window.ivr;
  const $ = (id) => document.getElementById(id);
  function fill(body, rows, cols) {
    body.replaceChildren();
    for (const r of rows) body.append(el("tr", {}, ...r.map((x) => el("td", { text: x ?? "" }))));
    if (!rows.length) body.append(el("tr", {}, el("td", { colspan: cols, class: "muted", text: "Nothing yet" })));
  }
  async function refresh() {
    try {
      const [agents, cases, calls] = await Promise.all([
        api("GET", "/api/agents"), api("GET", "/api/cases?limit=15"), api("GET", "/api/calls?limit=15")]);
      fill($("agents"), agents.agents.map((a) => [a.name,
        a.online ? (a.available ? "available" : "away") : "offline", a.case || "", (a.queues || []).join(", ") || "all"]), 4);
      fill($("cases"), cases.cases.map((c) => [when(c.created_at), c.id, c.caller, label(c.intent || ""),
        c.queue, c.status, c.agent || ""]), 7);
      fill($("calls"), calls.calls.map((c) => [when(c.started_at), c.caller, c.flow,
        label(c.outcome || ""), Math.round(c.total_seconds ?? 0), c.case_id || ""]), 6);
    } catch (e) { /* shown as stale; next refresh retries */ }
  }
  refresh();
  setInterval(refresh, 5000);
})();
