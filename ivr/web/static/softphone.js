// Browser softphone: calls a flow over /ws/softphone, plays prompts in order, sends keys.
"use strict";
(function () {
  const { el, wsUrl } = window.ivr;
  const $ = (id) => document.getElementById(id);
  let ws = null;
  let playing = null; // {seq, escape, audio, timer, cancelled}
  // A prompt without audio (not built, or the browser cannot play it) is shown and left
  // after a reading pause, so the call never stalls.
  const TEXT_PAUSE_MS = 700, TEXT_PAUSE_PER_CHAR_MS = 18, TEXT_PAUSE_MAX_MS = 2500;

  function status(text, kind) {
    $("status").textContent = text;
    $("status").className = "status " + (kind || "");
  }

  function log(kind, text, extra) {
    const li = el("li", { class: kind }, el("span", { class: "tag", text: kind === "key" ? "key" : kind }),
      el("span", { class: "text", text }), extra || null);
    $("log").append(li);
    li.scrollIntoView({ block: "nearest" });
    return li;
  }

  function stopPlaying() {
    if (!playing) return;
    playing.cancelled = true;
    if (playing.audio) { playing.audio.pause(); playing.audio.src = ""; }
    clearTimeout(playing.timer);
    document.querySelectorAll("#log li.now").forEach((n) => n.classList.remove("now"));
    playing = null;
  }

  // Spoken values are many one-word prompts (w_hai, w_muoi, ...): the transcript shows
  // each run of words as one sentence with the prompt before it, not a row per word.
  function lines(prompts) {
    const out = [];
    for (const p of prompts) {
      const last = out[out.length - 1];
      if (last && p.id.startsWith("w_")) last.prompts.push(p);
      else out.push({ prompts: [p] });
    }
    return out;
  }

  function playOne(state, prompt, li) {
    return new Promise((resolve) => {
      const done = () => resolve();
      const textPause = () => {
        li.classList.add("noaudio");
        const ms = Math.min(TEXT_PAUSE_MAX_MS, TEXT_PAUSE_MS + TEXT_PAUSE_PER_CHAR_MS * prompt.text.length);
        state.timer = setTimeout(done, ms);
      };
      if (!prompt.url) { textPause(); return; }
      const audio = new Audio(prompt.url);
      state.audio = audio;
      audio.onended = done;
      audio.onerror = () => { if (!state.cancelled) textPause(); };
      audio.play().catch(() => { if (!state.cancelled && !audio.error) textPause(); });
    });
  }

  async function playList(msg) {
    stopPlaying();
    const state = { seq: msg.seq, escape: msg.escape || "", audio: null, timer: null, cancelled: false };
    playing = state;
    for (const line of lines(msg.prompts)) {
      if (state.cancelled) return;
      const ps = line.prompts;
      const id = ps.length > 1 ? `${ps[0].id} +${ps.length - 1}` : ps[0].id;
      const li = log("prompt", ps.map((p) => p.text).join(" "),
        el("span", { class: "pid", text: id, title: ps.map((p) => p.id).join(" ") }));
      li.classList.add("now");
      for (const p of ps) {
        if (state.cancelled) break;
        await playOne(state, p, li);
      }
      li.classList.remove("now");
    }
    if (!state.cancelled) {
      send({ type: "played", seq: msg.seq });
      if (playing === state) playing = null;
    }
  }

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  function press(key) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    log("key", key);
    if (playing && playing.escape.includes(key)) stopPlaying();
    send({ type: "key", key });
  }

  // The prompt playing took no keys: strike the key through so nobody thinks it counted.
  function markIgnored(key) {
    const keys = [...document.querySelectorAll("#log li.key:not(.ignored)")];
    const li = keys.reverse().find((n) => n.querySelector(".text").textContent === key);
    if (!li) return;
    li.classList.add("ignored");
    li.append(el("span", { class: "pid", text: "ignored: this prompt takes no keys" }));
  }

  function setInCall(on) {
    $("call").disabled = on;
    $("hangup").disabled = !on;
    for (const id of ["flow", "caller", "dialled"]) $(id).disabled = on;
    // Keys only mean something while a call is up.
    for (const b of $("keypad").querySelectorAll("button")) b.disabled = !on;
    document.body.classList.toggle("in-call", on);
  }

  function call() {
    $("log").replaceChildren();
    status("Calling…", "busy");
    setInCall(true);
    ws = new WebSocket(wsUrl("/ws/softphone"));
    ws.onopen = () => send({ type: "start", flow: $("flow").value, caller: $("caller").value.trim(),
      dialled: $("dialled").value.trim() });
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "started") status("In call", "live");
      else if (msg.type === "play") playList(msg);
      else if (msg.type === "stop") { if (playing && playing.seq === msg.seq) stopPlaying(); }
      else if (msg.type === "ignored") markIgnored(msg.key);
      else if (msg.type === "transfer") {
        status("Waiting for an agent…", "busy");
        log("event", `Transferred to queue ${msg.queue}, case ${msg.case_id}`);
      } else if (msg.type === "transfer_result") {
        log("event", `Queue: ${msg.status.replace(/_/g, " ")}${msg.agent ? " (" + msg.agent + ")" : ""}`);
        status("In call", "live");
      } else if (msg.type === "hangup") log("event", "The IVR hung up");
      else if (msg.type === "ended") log("event", `Call ended: ${msg.outcome.replace(/_/g, " ")}${msg.case_id ? ", case " + msg.case_id : ""}`);
      else if (msg.type === "error") { log("event", msg.message); status(msg.message, "bad"); }
    };
    ws.onclose = (ev) => {
      if (ev.code === 4401) { window.ivr.toLogin(); return; } // logged out elsewhere
      stopPlaying();
      setInCall(false);
      if (!$("status").classList.contains("bad")) status("Call ended", "");
      ws = null;
    };
  }

  function hangup() {
    stopPlaying();
    send({ type: "hangup" });
    if (ws) ws.close();
  }

  setInCall(false);
  $("call").onclick = call;
  $("hangup").onclick = hangup;
  $("keypad").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-key]");
    if (b) press(b.dataset.key);
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.target.tagName === "INPUT" || ev.target.tagName === "SELECT") return;
    if (/^[0-9*#]$/.test(ev.key)) { press(ev.key); ev.preventDefault(); }
  });
  window.addEventListener("beforeunload", () => { if (ws) ws.close(); });
})();
