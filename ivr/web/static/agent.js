// Agent console: availability, live pop cards over /ws/agent, notes and disposition.
"use strict";
(function () {
  const { el, wsUrl, api, toLogin, when, clock, duration, label, value } = window.ivr;
  const LOGGED_OUT = 4401; // close code: this session logged out (keys.LOGGED_OUT_CLOSE_CODE)
  const $ = (id) => document.getElementById(id);
  let ws = null;
  let current = null; // {case, state}
  let retry = 500;
  const TITLE = document.title;
  // Raw codes in words (ivr.screenpop.wording.WORDS, from /api/me), in the language the
  // agent picked; the choice is kept in this browser.
  let WORDS = {};
  const LANG_KEY = "ivr.agent.words";
  let lang = localStorage.getItem(LANG_KEY) === "vi" ? "vi" : "en";
  const say = (code) => {
    const w = WORDS[code];
    return w ? w[lang] || w.en : label(code || "");
  };
  // The ring: a short two-tone burble from a Web Audio oscillator every 3 s while a call
  // is offered (no file to fetch, nothing for the CSP to allow). Browsers start audio
  // only after a click on the page, so the context is made on the first click (the
  // agent's "Available"). Mute is kept in this browser.
  const MUTE_KEY = "ivr.agent.mute";
  let muted = localStorage.getItem(MUTE_KEY) === "1";
  let audio = null;
  let ringTimer = null;
  function audioCtx() {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!audio && AC) audio = new AC();
    if (audio && audio.state === "suspended") audio.resume().catch(() => {});
    return audio;
  }
  document.addEventListener("click", () => audioCtx(), { capture: true });
  function beep(ctx, at, freq) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.2, at + 0.03);
    gain.gain.setValueAtTime(0.2, at + 0.35);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.4);
    osc.connect(gain);
    gain.connect(ctx.destination);
    osc.start(at);
    osc.stop(at + 0.45);
  }
  function ringOnce() {
    const ring = $("ring");
    ring.dataset.count = String(Number(ring.dataset.count) + 1);
    if (muted) return;
    const ctx = audioCtx();
    if (!ctx) return;
    const t = ctx.currentTime + 0.02;
    for (const at of [t, t + 0.6]) { beep(ctx, at, 440); beep(ctx, at, 480); }
    ring.dataset.sounded = String(Number(ring.dataset.sounded) + 1);
    ring.dataset.audio = ctx.state;
  }
  function startRing() {
    if (ringTimer) return;
    $("ring").dataset.playing = "true";
    ringOnce();
    ringTimer = setInterval(ringOnce, 3000);
  }
  function stopRing() {
    clearInterval(ringTimer);
    ringTimer = null;
    $("ring").dataset.playing = "false";
  }
  function showMute() {
    $("mute").textContent = muted ? "Ring muted" : "Ring on";
    $("mute").setAttribute("aria-pressed", String(muted));
    $("mute").classList.toggle("on", !muted);
  }

  // After-call work: the server says when it starts (on the ending pop) and ends.
  let desk = { state: "away", case_id: null };
  function showDesk(d) {
    desk = { state: d.state, case_id: d.case_id || null };
    const wrap = desk.state === "wrap_up";
    $("desk-state").hidden = !wrap;
    $("wrapup").hidden = !(wrap && current && current.case.id === desk.case_id);
    if (wrap) {
      $("avail-on").classList.remove("on");
      $("avail-off").classList.remove("on");
      document.title = "After-call work · ivr";
    } else {
      showAvailability(!!d.available);
      if (current && !["ringing", "connected"].includes(current.state)) {
        // Ready: the ended call's card goes; the next call pops in its place.
        current = null;
        $("card").hidden = true;
        $("empty").hidden = false;
        document.title = TITLE;
      }
      loadToday();
    }
  }

  const sayValue = (key, v) => (typeof v === "string" && WORDS[v] ? say(v) : value(key, v));

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
    desk = { ...desk, state: on ? "available" : "away" };
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
        // The server keeps the agent's availability (and after-call work) per agent:
        // a reload or a reconnect shows what it holds.
        showAvailability(!!msg.available);
        if (msg.state === "wrap_up") showDesk(msg);
      } else if (msg.type === "availability") {
        if (desk.state !== "wrap_up") showAvailability(!!msg.available);
      } else if (msg.type === "callback") {
        showCallback(msg);
      } else if (msg.type === "desk") {
        showDesk(msg);
      } else if (msg.type === "pop") {
        showPop(msg);
        if (msg.desk) showDesk(msg.desk);
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
          rows.push([`${label(key)} · ${label(k).toLowerCase()}`, sayValue(k, x)]);
        }
      } else {
        rows.push([label(key), sayValue(key, v)]);
      }
    }
    for (const l of c.lookups || []) {
      if (l.status === "error" || l.status === "timeout") {
        rows.push([`Lookup ${l.action}`, `${l.status}${l.error ? ": " + l.error : ""}`]);
      }
    }
    return rows;
  }

  // The path in words ("Billing → chose account ending 3456 → ..."), each step with the
  // raw node ids it stands for as its tooltip; the full raw list is in the <details>.
  function storyItems(c) {
    const list = $("story");
    list.replaceChildren();
    const steps = (c.story && (c.story[lang] || c.story.en)) || [];
    for (const s of steps) list.append(el("li", { title: (s.nodes || []).join(", "), text: s.text }));
    if (!list.children.length) list.append(el("li", { class: "muted", text: "No path recorded" }));
  }

  function pathItems(c) {
    storyItems(c);
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
          text: failed ? say(i.result).toLowerCase() + (i.digits ? ` (${i.digits})` : "") : (i.digits || i.result) }));
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
        el("td", { text: say(e.intent || "") }),
        el("td", { text: [e.status, e.disposition].filter(Boolean).map(say).join(" · ") }),
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
    // Agents work in other tabs too: the tab title says when a call is ringing, and the
    // ring sounds until it is answered, missed or gone.
    document.title = msg.state === "ringing" ? `(1) Incoming call · ${c.caller || ""} · ivr` : TITLE;
    if (msg.state === "ringing" && !msg.redraw) startRing();
    else if (msg.state !== "ringing") stopRing();
    $("wrapup").hidden = !(desk.state === "wrap_up" && desk.case_id === c.id);
    $("pop-state").className = "state " + msg.state;
    $("pop-caller").textContent = c.caller || "Unknown caller";
    const reg = (c.registered_accounts || []).length === 1 ? c.registered_accounts[0].name : "";
    const name = (c.facts && c.facts.account && c.facts.account.name) || reg;
    // The member interface (Local/1001@agents) as the person it is.
    const who = c.agent_name && `agent ${c.agent_name}`;
    $("pop-sub").textContent = [c.id, name, c.queue && `queue ${c.queue}`, who, c.language && c.language.toUpperCase(),
      `${duration(c.seconds_in_ivr)} in IVR`].filter(Boolean).join(" · ");
    $("answer").hidden = msg.state !== "ringing";
    $("end").hidden = msg.state !== "connected";
    $("gone").hidden = !gone(c, msg.state);
    dl($("account"), accountRows(c));
    dl($("facts"), factRows(c));
    $("reason").textContent = [say(c.intent || "unknown"), c.note].filter(Boolean).join(" — ");
    pathItems(c);
    recordingItems(c);
    earlier(c);
    if (!sameCase) {
      $("notes").value = c.notes || "";
      $("disposition").value = c.disposition || "";
      $("saved").textContent = "";
    }
    if (msg.redraw) return; // a change of words, not news
    card.classList.remove("flash");
    void card.offsetWidth;
    card.classList.add("flash");
  }

  // The buttons show what the server holds: they change when it confirms.
  $("avail-on").onclick = () => send({ type: "availability", available: true });
  $("avail-off").onclick = () => send({ type: "availability", available: false });
  $("answer").onclick = () => { stopRing(); if (current) send({ type: "answer", case_id: current.case.id }); };
  $("ready").onclick = () => send({ type: "ready" });
  $("mute").onclick = () => {
    muted = !muted;
    localStorage.setItem(MUTE_KEY, muted ? "1" : "0");
    showMute();
  };
  showMute();

  // Case search (phone number or customer code) and the agent's own day.
  function caseRows(body, cases, empty, cells) {
    body.replaceChildren();
    for (const c of cases) body.append(el("tr", {}, ...cells(c).map((t) => el("td", { text: t }))));
    if (!cases.length) body.append(el("tr", {}, el("td", { colspan: 5, class: "muted", text: empty })));
  }
  $("search-form").onsubmit = async (ev) => {
    ev.preventDefault();
    const q = $("search-q").value.trim();
    if (!q) return;
    $("search-msg").textContent = "Searching…";
    try {
      const found = await api("GET", `/api/desk/search?q=${encodeURIComponent(q)}`);
      $("search-msg").textContent = `${found.cases.length} case(s) by ${found.by}`;
      caseRows($("search-results"), found.cases, "No cases", (c) => [when(c.created_at), c.id,
        say(c.intent || ""), [c.status, c.disposition].filter(Boolean).map(say).join(" · "), c.notes || ""]);
    } catch (e) {
      $("search-msg").textContent = e.message;
      $("search-results").replaceChildren();
    }
  };
  function loadToday() {
    api("GET", "/api/desk/today").then((day) => {
      caseRows($("today"), day.cases, "Nothing yet today", (c) => [when(c.at), c.id,
        say(c.intent || ""), [c.status, c.disposition].filter(Boolean).map(say).join(" · "),
        c.wrap_up_seconds === null || c.wrap_up_seconds === undefined ? "" : duration(c.wrap_up_seconds)]);
    }).catch(() => {});
  }
  $("today-refresh").onclick = loadToday;

  // The callback worklist: urgent first, then oldest; "call now" originates through AMI
  // (or says it needs AMI); each attempt's outcome arrives as a "callback" message.
  const CALLBACK_TEXT = {
    dialling: "Ringing your phone, then the customer…", waiting: "No answer: trying again soon",
    answered: "Customer answered", no_answer: "Customer did not answer", busy: "Customer's line busy",
    agent_no_answer: "Your phone did not answer: back on the list", agent_busy: "Your line was busy: back on the list",
    failed: "The call could not be placed",
  };
  function loadCallbacks() {
    api("GET", "/api/callbacks").then((work) => {
      const body = $("callbacks");
      body.replaceChildren();
      for (const cb of work.callbacks) {
        const button = el("button", { type: "button", class: "primary", "data-callback": cb.callback_id,
          text: cb.status === "calling" ? "Calling…" : "Call now", disabled: cb.status === "calling",
          title: work.can_call ? "Ring your phone, then the customer" : "Calling back needs Asterisk's AMI" });
        button.onclick = () => callNow(cb.callback_id, button);
        const tries = cb.attempts.length ? `${cb.attempts.length} · ${say(cb.attempts[cb.attempts.length - 1].outcome || "dialling")}` : "";
        body.append(el("tr", { "data-callback-row": cb.callback_id },
          el("td", {}, cb.urgent ? el("span", { class: "urgent", text: "URGENT " }) : null, when(cb.created_at)),
          el("td", { text: cb.phone }), el("td", { text: say(cb.reason) }), el("td", { text: cb.case_id || "" }),
          el("td", { text: tries }), el("td", {}, button)));
      }
      if (!work.callbacks.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No callbacks waiting" })));
    }).catch(() => {});
  }
  async function callNow(id, button) {
    button.disabled = true;
    $("callback-msg").textContent = "Placing the call…";
    try {
      await api("POST", `/api/callbacks/${encodeURIComponent(id)}/call`);
    } catch (e) {
      $("callback-msg").textContent = e.message;
      button.disabled = false;
    }
  }
  function showCallback(msg) {
    $("callback-msg").dataset.outcome = msg.outcome;
    $("callback-msg").textContent = `${msg.case_id || "Callback"}: ${CALLBACK_TEXT[msg.outcome] || say(msg.outcome)}` +
      (msg.attempt ? ` (attempt ${msg.attempt})` : "");
    if (!["dialling", "waiting"].includes(msg.outcome)) { loadCallbacks(); loadToday(); }
  }
  $("callbacks-refresh").onclick = loadCallbacks;
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

  $("words-lang").value = lang;
  $("words-lang").onchange = () => {
    lang = $("words-lang").value === "vi" ? "vi" : "en";
    localStorage.setItem(LANG_KEY, lang);
    if (current) showPop({ case: current.case, state: current.state, redraw: true });
  };

  api("GET", "/api/me").then((me) => {
    WORDS = me.words || {};
    for (const d of me.dispositions || []) $("disposition").append(el("option", { value: d, text: say(d) }));
    if (current) showPop({ case: current.case, state: current.state, redraw: true });
  }).catch(() => {});
  loadToday();
  loadCallbacks();
  connect();
})();
