// Supervisor landing page: the day's call report, agents online, recent cases and calls
// (refreshed every 5 s).
"use strict";
(function () {
  const { el, api, when, clock, label, duration } = window.ivr;
  const $ = (id) => document.getElementById(id);
  function fill(body, rows, cols) {
    body.replaceChildren();
    for (const r of rows) body.append(el("tr", {}, ...r.map((x) =>
      x instanceof Node ? el("td", {}, x) : el("td", { text: x ?? "" }))));
    if (!rows.length) body.append(el("tr", {}, el("td", { colspan: cols, class: "muted", text: "Nothing yet" })));
  }
  // The caller's recordings of a case, playable; /api/recordings/<id> is staff only.
  function recordings(c) {
    const list = c.recordings || [];
    if (!list.length) return "";
    return el("span", { class: "recordings" }, ...list.map((r) => el("audio", {
      controls: true, preload: "none", src: `/api/recordings/${encodeURIComponent(r.id)}`,
      "data-recording-id": String(r.id), title: `${Math.round(r.seconds || 0)} s` })));
  }
  const percent = (x) => (x === null || x === undefined ? "—" : `${Math.round(x * 100)} %`);
  function tiles(report) {
    const o = report.outcomes;
    const items = [
      ["Calls", report.total, ""], ["Contained", percent(report.containment_rate), "good"],
      ["Self-served", o.self_served, ""], ["Transferred", o.transferred, ""],
      ["Abandoned", o.abandoned, o.abandoned ? "warn" : ""], ["Failed", o.failed, o.failed ? "bad" : ""],
      ["Average call", report.average_seconds === null ? "—" : duration(report.average_seconds), ""]];
    $("report-tiles").replaceChildren(...items.map(([name, v, tone]) =>
      el("div", { class: `tile ${tone}` }, el("dt", { text: name }), el("dd", { text: String(v) }))));
  }
  // The store counts these two from the newest rows only, up to a bound: say so when hit.
  function note(id, part) {
    $(id).textContent = part.limited ? `From the newest ${part.calls_examined} calls only.` : "";
  }
  async function refresh() {
    try {
      const [agents, cases, calls, report] = await Promise.all([
        api("GET", "/api/agents"), api("GET", "/api/cases?limit=15"), api("GET", "/api/calls?limit=15"),
        api("GET", "/api/reports/calls?hours=24")]);
      tiles(report);
      fill($("drops"), report.drop_off.nodes.map((n) => [n.node ? (n.flow ? `${n.flow} › ${n.node}` : n.node)
        : "before the first node", n.calls]), 2);
      fill($("lookups"), report.failed_lookups.actions.map((a) => [a.action, a.error, a.timeout]), 3);
      note("drops-note", report.drop_off);
      note("lookups-note", report.failed_lookups);
      // The store names who took a transferred call by queue-member interface: show the agent.
      const byInterface = {};
      for (const a of agents.agents) {
        for (const i of a.interfaces || []) byInterface[i.toLowerCase()] = a.name;
        byInterface[`web/${a.name}`.toLowerCase()] = a.name;
      }
      const who = (x) => (x ? byInterface[String(x).toLowerCase()] || x : "");
      fill($("agents"), agents.agents.map((a) => [a.name,
        a.online ? (a.available ? "available" : "away") : "offline", a.case || "", (a.queues || []).join(", ") || "all"]), 4);
      // A recording being listened to is not cut off by the refresh: the table waits.
      const playing = [...$("cases").querySelectorAll("audio")].some((a) => !a.paused);
      if (!playing) fill($("cases"), cases.cases.map((c) => [when(c.created_at), c.id, c.caller, label(c.intent || ""),
        c.queue, label(c.status || ""), who(c.agent), recordings(c)]), 8);
      fill($("calls"), calls.calls.map((c) => [when(c.started_at), c.caller, c.flow,
        label(c.outcome || ""), Math.round(c.total_seconds ?? 0), c.case_id || ""]), 6);
      $("updated").textContent = "updated " + clock();
      $("updated").className = "conn ok";
    } catch (e) { // the tables keep the last good data; say they are stale
      $("updated").textContent = "not updated: " + e.message;
      $("updated").className = "conn bad";
    }
  }
  refresh();
  setInterval(refresh, 5000);
})();
