// Agent console: availability, live pop cards over /ws/agent, notes and disposition.
"use strict";
(function () {
  const { el, wsUrl, api, toLogin, when, clock, duration, label, value } = window.ivr;
  const LOGGED_OUT = 4401; // close code: this session logged out (keys.LOGGED_OUT_CLOSE_CODE)
  const $ = (id) => document.getElementById(id);
  let ws = null;
  let available = false;
  let current = null; // {case, state}
  let retry = 500;
  const TITLE = document.title;

  const STATE_TEXT = {
    ringing: "Incoming call",
    connected: "On the call",
    caller_gone: "Caller hung up",
    completed: "Call ended",
    missed: "Missed: offered to the next agent",
  };

  function setConn(text, ok) {
    $("conn").textContent = text;
    $("conn").className = "conn " + (ok ? "ok" : "bad");
  }

  function showAvailability(on) {
    available = on;
    $("avail-on").classList.toggle("on", on);
    $("avail-off").classList.toggle("on", !on);
    $("avail-on").setAttribute("aria-pressed", on);
    $("avail-off").setAttribute("aria-pressed", !on);
    $("empty-hint").textContent = on
      ? "You are available: the next transferred call pops up here with everything the IVR found."
      : "You are away: set yourself Available to take calls.";
  }

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  function connect() {
    ws = new WebSocket(wsUrl("/ws/agent"));
    ws.onopen = () => { retry = 500; setConn("connected", true); };
    ws.onclose = (ev) => {
      if (ev.code === LOGGED_OUT) { toLogin(); return; }
      setConn("reconnecting…", false);
      // A handshake refused for an ended session looks like a network error: ask the API
      // (a 401 there goes to the login page) before trying again.
      setTimeout(() => api("GET", "/api/me").then(connect, (e) => {
        if (e.status !== 401) connect();
      }), retry);
      retry = Math.min(retry * 2, 10000);
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "hello") {
        // Re-announce availability after a reconnect so the queue keeps offering calls.
        if (available) send({ type: "availability", available: true });
        else showAvailability(!!msg.available);
      } else if (msg.type === "availability") {
        showAvailability(!!msg.available);
      } else if (msg.type === "pop") {
        showPop(msg);
      }
    };
  }

  function dl(target, rows) {
    target.replaceChildren();
    for (const [k, v] of rows) target.append(el("dt", { text: k }), el("dd", { text: v }));
    if (!rows.length) target.append(el("dd", { class: "muted", text: "Nothing found" }));
  }

  // The account the IVR settled on, with what it learned about it: from an account lookup
  // (facts.account), else from the caller's registered accounts (facts.caller.account or
  // the card's registered_accounts) when the code is the same.
  function accountFacts(c) {
    const facts = c.facts || {};
    const isObj = (x) => x && typeof x === "object" && !Array.isArray(x);
    if (isObj(facts.account)) return facts.account;
    const fromCaller = isObj(facts.caller) && isObj(facts.caller.account) ? facts.caller.account : null;
    if (fromCaller && (!c.account || fromCaller.code === c.account)) return fromCaller;
    return (c.registered_accounts || []).find((r) => r.code === c.account) || {};
  }

  function accountRows(c) {
    const acc = accountFacts(c);
    const rows = [];
    const registered = c.registered_accounts || [];
    if (!c.account && !acc.code && registered.length) {
      // The caller asked for an agent before keying a code: show who the number belongs to.
      for (const r of registered) {
        rows.push(["Registered to number", `${r.code} · ${r.name}${r.area ? " · " + r.area : ""}`]);
      }
      return rows;
    }
    rows.push(["Customer code", c.account || acc.code || "not identified"]);
    if (acc.name) rows.push(["Name", acc.name]);
    if (acc.address) rows.push(["Address", acc.address]);
    if (acc.area) rows.push(["Area", acc.area]);
    if (c.corporation || acc.corporation) rows.push(["Corporation", c.corporation || acc.corporation]);
    return rows;
  }

  function factRows(c) {
    const rows = [];
    const facts = c.facts || {};
    for (const [key, v] of Object.entries(facts)) {
      if (key === "account" || key === "caller") continue; // shown under Account
      if (key === "recordings") continue; // played under "Caller's recordings"
      if (v && typeof v === "object" && !Array.isArray(v)) {
        for (const [k, x] of Object.entries(v)) {
          if (x === null || x === undefined || typeof x === "object") continue;
          rows.push([`${label(key)} · ${label(k).toLowerCase()}`, value(k, x)]);
        }
      } else {
        rows.push([label(key), value(key, v)]);
      }
    }
    for (const l of c.lookups || []) {
      if (l.status === "error" || l.status === "timeout") {
        rows.push([`Lookup ${l.action}`, `${l.status}${l.error ? ": " + l.error : ""}`]);
      }
    }
    return rows;
  }

  function pathItems(c) {
    const list = $("path");
    list.replaceChildren();
    const steps = c.path || [];
    // A node visited twice (the main menu, say) shows each visit's keys, not all of them.
    // Inputs come in call order, so each belongs to the first visit of its node at or
    // after the previous input's visit (retries stay on the same visit).
    const byStep = steps.map(() => []);
    let from = 0;
    for (const i of c.inputs || []) {
      const same = (s) => s.node === i.node && s.flow === i.flow;
      let at = steps.findIndex((s, n) => n >= from && same(s));
      if (at < 0) at = steps.findLastIndex(same);
      if (at < 0) continue;
      byStep[at].push(i);
      from = at;
    }
    for (const [n, step] of steps.entries()) {
      const li = el("li", {}, el("span", { class: "node", text: step.node }),
        step.flow ? el("span", { class: "muted", text: ` ${step.flow}` }) : null);
      for (const i of byStep[n]) {
        const failed = i.result === "no_input" || i.result === "no_match";
        li.append(el("span", { class: "input " + (failed ? "failed" : "ok"),
          text: failed ? label(i.result).toLowerCase() + (i.digits ? ` (${i.digits})` : "") : (i.digits || i.result) }));
      }
      list.append(li);
    }
    if (!list.children.length) list.append(el("li", { class: "muted", text: "No path recorded" }));
  }

  function earlier(c) {
    const body = $("earlier");
    body.replaceChildren();
    for (const e of c.earlier || []) {
      body.append(el("tr", {}, el("td", { text: when(e.created_at) }), el("td", { text: e.id }),
        el("td", { text: label(e.intent || "") }),
        el("td", { text: [e.status, e.disposition].filter(Boolean).map(label).join(" · ") }),
        el("td", { text: e.notes || "" })));
    }
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: 5, class: "muted", text: "No earlier cases" })));
  }

  // The caller's own words (a hazard described, a complaint), played from the server:
  // /api/recordings/<id> checks this agent may read the case, as the card itself.
  function recordingItems(c) {
    const box = $("recordings");
    box.replaceChildren();
    for (const r of c.recordings || []) {
      box.append(el("div", { class: "recording" },
        el("audio", { controls: true, preload: "metadata", src: `/api/recordings/${encodeURIComponent(r.id)}`,
          "data-recording-id": String(r.id) }),
        el("span", { class: "muted", text: `${Math.round(r.seconds || 0)} s · ${when(r.created_at)}` })));
    }
    $("recordings-block").hidden = !box.children.length;
  }

  function gone(c, state) {
    if (state === "caller_gone") return true;
    if (c.status === "abandoned") return true;
    return (c.events || []).some((e) => e.event === "caller_gone");
  }

  function showPop(msg) {
    const c = msg.case || {};
    const sameCase = current && current.case.id === c.id;
    if (!sameCase && current && ["ringing", "connected"].includes(current.state) &&
        !["ringing", "connected"].includes(msg.state)) return; // stale news about another call
    current = { case: c, state: msg.state };
    $("empty").hidden = true;
    const card = $("card");
    card.hidden = false;
    card.dataset.state = msg.state;
    card.dataset.caseId = c.id || "";
    $("pop-state").textContent = STATE_TEXT[msg.state] || msg.state;
    // Agents work in other tabs too: the tab title says when a call is ringing.
    document.title = msg.state === "ringing" ? `● Incoming call ${c.caller || ""} · ivr` : TITLE;
    $("pop-state").className = "state " + msg.state;
    $("pop-caller").textContent = c.caller || "Unknown caller";
    const reg = (c.registered_accounts || []).length === 1 ? c.registered_accounts[0].name : "";
    const name = (c.facts && c.facts.account && c.facts.account.name) || reg;
    $("pop-sub").textContent = [c.id, name, c.queue && `queue ${c.queue}`, c.language && c.language.toUpperCase(),
      `${duration(c.seconds_in_ivr)} in IVR`].filter(Boolean).join(" · ");
    $("answer").hidden = msg.state !== "ringing";
    $("end").hidden = msg.state !== "connected";
    $("gone").hidden = !gone(c, msg.state);
    dl($("account"), accountRows(c));
    dl($("facts"), factRows(c));
    $("reason").textContent = [label(c.intent || "unknown"), c.note].filter(Boolean).join(" — ");
    pathItems(c);
    recordingItems(c);
    earlier(c);
    if (!sameCase) {
      $("notes").value = c.notes || "";
      $("disposition").value = c.disposition || "";
      $("saved").textContent = "";
    }
    card.classList.remove("flash");
    void card.offsetWidth;
    card.classList.add("flash");
  }

  // The buttons show what the server holds: they change when it confirms.
  $("avail-on").onclick = () => { available = true; send({ type: "availability", available: true }); };
  $("avail-off").onclick = () => { available = false; send({ type: "availability", available: false }); };
  $("answer").onclick = () => current && send({ type: "answer", case_id: current.case.id });
  $("end").onclick = () => current && send({ type: "end", case_id: current.case.id });
  $("notes-form").onsubmit = async (ev) => {
    ev.preventDefault();
    if (!current) return;
    const body = { notes: $("notes").value };
    if ($("disposition").value) body.disposition = $("disposition").value;
    $("saved").textContent = "Saving…";
    try {
      await api("POST", `/api/cases/${encodeURIComponent(current.case.id)}`, body);
      $("saved").textContent = "Saved " + clock();
    } catch (e) {
      $("saved").textContent = "Not saved: " + e.message;
    }
  };

  api("GET", "/api/me").then((me) => {
    for (const d of me.dispositions || []) $("disposition").append(el("option", { value: d, text: label(d) }));
  }).catch(() => {});
  connect();
})();
