// Supervisor landing page: the live queue, agents online, recent cases and calls
// (refreshed every 5 s), and the reports over a chosen period (on change, and every
// minute), each table with its CSV.
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
  // The period the reports cover, as the API's query string.
  function periodQuery() {
    const range = $("range").value;
    if (range !== "custom") return new URLSearchParams({ range }).toString();
    const from = $("from").value, to = $("to").value || from;
    return new URLSearchParams({ from, to }).toString();
  }
  function showCustom() {
    for (const x of document.querySelectorAll("#period .custom")) x.hidden = $("range").value !== "custom";
  }
  const wait = (s) => (s ? duration(s) : "—");
  async function refreshReports() {
    const q = periodQuery();
    if ($("range").value === "custom" && !$("from").value) {
      $("period-note").textContent = "Choose the first day.";
      return;
    }
    for (const a of document.querySelectorAll("a.csv")) {
      a.href = `/api/reports/${a.dataset.report}?${q}&format=csv&table=${a.dataset.table}`;
      a.setAttribute("download", "");
    }
    try {
      const [report, transfers, sat, agents, callbacks, outages] = await Promise.all(
        ["calls", "transfers", "satisfaction", "agents", "callbacks", "outages"].map(
          (name) => api("GET", `/api/reports/${name}?${q}`)));
      $("report-title").textContent = `Calls · ${report.period === "today" ? "today" : report.period}`;
      $("period-note").textContent = "";
      tiles(report);
      fill($("drops"), report.drop_off.nodes.map((n) => [n.node ? (n.flow ? `${n.flow} › ${n.node}` : n.node)
        : "before the first node", n.calls]), 2);
      fill($("lookups"), report.failed_lookups.actions.map((a) => [a.action, a.error, a.timeout]), 3);
      note("drops-note", report.drop_off);
      note("lookups-note", report.failed_lookups);
      fill($("transfers"), transfers.by_reason.map((r) => [label(r.reason), r.transfers, r.completed,
        r.abandoned, r.timeout, r.no_agents, r.callback]), 7);
      const o = sat.overall;
      $("satisfaction-tiles").replaceChildren(...[["Average", o.average ?? "—"], ["Answers", o.answered],
        ["Response rate", percent(o.response_rate)]].map(([name, v]) =>
        el("div", { class: "tile" }, el("dt", { text: name }), el("dd", { text: String(v) }))));
      fill($("satisfaction"), sat.by_reason.map((r) => [label(r.reason), r.offered, r.answered,
        percent(r.response_rate), r.average ?? "—", r.score_1, r.score_2, r.score_3, r.score_4, r.score_5]), 10);
      fill($("satisfaction-days"), sat.by_day.map((r) => [r.day, r.offered, r.answered, r.average ?? "—"]), 4);
      fill($("agents-report"), agents.agents.map((a) => [a.agent, a.calls, a.missed,
        duration(a.handle_seconds), a.average_handle_seconds === null ? "—" : duration(a.average_handle_seconds)]), 5);
      $("callback-tiles").replaceChildren(...[["Promised", callbacks.promised], ["Done", callbacks.done],
        ["Done rate", percent(callbacks.done_rate)],
        ["Oldest open", callbacks.oldest_open_hours === null ? "—" : `${callbacks.oldest_open_hours} h`]].map(([name, v]) =>
        el("div", { class: "tile" }, el("dt", { text: name }), el("dd", { text: String(v) }))));
      fill($("callbacks"), callbacks.by_reason.map((r) => [label(r.reason), r.promised, r.done, r.open]), 4);
      fill($("outage-reports"), outages.by_outage.map((r) => [`#${r.outage}${r.planned ? " (planned)" : ""}`,
        r.area_name, r.cause, label(r.status), r.reports]), 5);
      fill($("area-reports"), outages.by_area.map((r) => [r.area_name, r.reports, r.linked_to_outage]), 3);
    } catch (e) {
      $("period-note").textContent = "Reports not updated: " + e.message;
    }
  }
  async function refresh() {
    try {
      const [agents, cases, calls, live] = await Promise.all([
        api("GET", "/api/agents"), api("GET", "/api/cases?limit=15"), api("GET", "/api/calls?limit=15"),
        api("GET", "/api/queue/live")]);
      fill($("live"), live.queues.map((r) => [r.queue, r.waiting, wait(r.longest_wait_seconds),
        r.agents.available, r.agents.on_call, r.agents.wrap_up, r.agents.away, r.agents.offline]), 8);
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
  $("range").addEventListener("change", () => { showCustom(); if ($("range").value !== "custom") refreshReports(); });
  $("period").addEventListener("submit", (e) => { e.preventDefault(); refreshReports(); });
  showCustom();
  refresh();
  refreshReports();
  setInterval(refresh, 5000);
  setInterval(refreshReports, 60000);

  // The flow graph (GET /api/flows/{flow}/graph.svg): drawn on the server by Graphviz,
  // redrawn when the flow or period changes and every minute (not every 5 s: a layout
  // costs more than a table).
  const flowSelect = $("graph-flow");
  const hoursSelect = $("graph-hours");
  const flows = (flowSelect.dataset.flows || "").split(",").filter(Boolean);
  for (const f of flows) flowSelect.append(el("option", { value: f, text: f }));
  function graph() {
    if (!flowSelect.value) { $("graph-note").textContent = "No flows on this server."; return; }
    const url = `/api/flows/${encodeURIComponent(flowSelect.value)}/graph.svg?hours=${encodeURIComponent(hoursSelect.value)}`;
    $("graph-img").src = `${url}&t=${Date.now()}`;
    $("graph-open").href = url;
  }
  $("graph-img").addEventListener("load", () => { $("graph-note").textContent = ""; });
  $("graph-img").addEventListener("error", () => {
    $("graph-note").textContent = "The graph could not be drawn (is Graphviz installed on the server?); open the SVG for the reason.";
  });
  flowSelect.addEventListener("change", graph);
  hoursSelect.addEventListener("change", graph);
  graph();
  setInterval(graph, 60000);
})();
