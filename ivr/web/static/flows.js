// The flow page (supervisors): the live flows.yaml and prompts.yaml in two editors with
// a line-number gutter, validated as you type, a simulated call on the text being edited,
// publish (refused with errors or broken scenarios), history with diff and rollback.
// Plain DOM (textContent only): the page's CSP asks for Trusted Types, and there is no
// build step, so the editor is a textarea and a gutter we draw ourselves.
"use strict";
(function () {
  const { el, csrf, when, toLogin } = window.ivr;
  const $ = (id) => document.getElementById(id);
  const files = ["flows", "prompts"];
  const text = { flows: $("text-flows"), prompts: $("text-prompts") };
  const gutter = {
    flows: $("editor-flows").querySelector(".gutter"),
    prompts: $("editor-prompts").querySelector(".gutter"),
  };
  let live = null; // the live version's summary
  let marks = []; // diagnostics shown
  let checkSeq = 0;
  let timer = null;

  async function call(method, path, body) {
    const opts = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    if (method !== "GET") opts.headers["X-CSRF-Token"] = csrf();
    const res = await fetch(path, opts);
    if (res.status === 401) toLogin();
    const data = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
    return { status: res.status, data };
  }

  // ---- the editor ----------------------------------------------------------------
  function lineCount(file) { return text[file].value.split("\n").length; }

  function drawGutter(file) {
    const g = gutter[file];
    const n = lineCount(file);
    while (g.childElementCount < n) g.append(el("div", { text: String(g.childElementCount + 1) }));
    while (g.childElementCount > n) g.lastElementChild.remove();
    for (const row of g.children) { row.className = ""; row.removeAttribute("title"); }
    for (const d of marks) {
      if (d.file !== file) continue;
      const row = g.children[d.line - 1];
      if (!row) continue;
      if (row.className !== "error") row.className = d.severity;
      row.title = row.title ? `${row.title}\n${d.message}` : d.message;
    }
    g.scrollTop = text[file].scrollTop;
  }

  function show(file) {
    for (const f of files) {
      $(`editor-${f}`).hidden = f !== file;
      $(`tab-${f}`).setAttribute("aria-selected", String(f === file));
    }
    drawGutter(file);
  }

  function goTo(file, line, column) {
    show(file);
    const area = text[file];
    const lines = area.value.split("\n");
    let at = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) at += lines[i].length + 1;
    area.focus();
    area.setSelectionRange(at + Math.max(0, column - 1), at + (lines[line - 1] || "").length);
    const height = parseFloat(getComputedStyle(area).lineHeight) || 19.5;
    area.scrollTop = Math.max(0, (line - 5) * height);
    gutter[file].scrollTop = area.scrollTop;
  }

  function listDiagnostics(diags, failures) {
    const list = $("diagnostics");
    list.replaceChildren();
    for (const d of diags) {
      const item = el("li", { class: d.severity, "data-line": d.line, "data-file": d.file },
        `${d.file}.yaml line ${d.line}, column ${d.column}: ${d.severity}: ${d.message}`);
      item.addEventListener("click", () => goTo(d.file, d.line, d.column));
      list.append(item);
    }
    for (const f of failures || []) list.append(el("li", { class: "failure", text: f }));
  }

  function setMarks(diags) {
    marks = diags;
    for (const f of files) drawGutter(f);
  }

  function texts() { return { flows: text.flows.value, prompts: text.prompts.value }; }

  async function validate() {
    const seq = ++checkSeq;
    $("validation").textContent = "checking…";
    const { status, data } = await call("POST", "/api/flows/validate", texts());
    if (seq !== checkSeq) return; // an older answer: the text has changed since
    if (status !== 200) { $("validation").textContent = data.error || "cannot check"; return; }
    setMarks(data.diagnostics);
    listDiagnostics(data.diagnostics);
    const errors = data.diagnostics.filter((d) => d.severity === "error").length;
    $("validation").textContent = data.ok
      ? `valid · version ${data.version}${data.diagnostics.length ? ` · ${data.diagnostics.length} warning(s)` : ""}`
      : `${errors} error(s)`;
    $("validation").className = `small ${data.ok ? "conn ok" : "conn bad"}`;
  }

  function edited(file) {
    drawGutter(file);
    clearTimeout(timer);
    timer = setTimeout(validate, 400); // debounced: one check when the typing pauses
  }

  for (const f of files) {
    text[f].addEventListener("input", () => edited(f));
    text[f].addEventListener("scroll", () => { gutter[f].scrollTop = text[f].scrollTop; });
    text[f].addEventListener("keydown", (e) => {
      if (e.key !== "Tab" || e.shiftKey || e.ctrlKey || e.metaKey || e.altKey) return;
      e.preventDefault(); // YAML wants spaces: Tab indents by two
      text[f].setRangeText("  ", text[f].selectionStart, text[f].selectionEnd, "end");
      edited(f);
    });
    $(`tab-${f}`).addEventListener("click", () => show(f));
  }

  // ---- try it --------------------------------------------------------------------
  $("try").addEventListener("click", async () => {
    const out = $("transcript");
    out.replaceChildren(el("li", { class: "muted", text: "calling…" }));
    $("try-path").textContent = "";
    const { status, data } = await call("POST", "/api/flows/try", {
      ...texts(), keys: $("try-keys").value, caller: $("try-caller").value,
      dialled: $("try-dialled").value });
    out.replaceChildren();
    if (status !== 200) {
      out.append(el("li", { class: "error", text: data.error || `failed (${status})` }));
      if (data.diagnostics) { setMarks(data.diagnostics); listDiagnostics(data.diagnostics); }
      return;
    }
    for (const p of data.prompts) out.append(el("li", { "data-prompt": p.id }, el("code", { text: p.id }), " ", p.text));
    const transfers = data.transfers.map((t) => `→ ${t.queue} (${t.intent})`).join(" ");
    $("try-path").textContent = `Outcome ${data.outcome}${transfers ? " " + transfers : ""} · path: ${data.path.join(" › ")}`;
  });

  // ---- publish, history, diff, rollback ----------------------------------------------
  function result(ok, message) {
    $("publish-result").className = `publish-result ${ok === null ? "pending" : ok ? "ok" : "bad"}`;
    $("publish-result").textContent = message;
  }

  $("publish").addEventListener("click", async () => {
    $("publish").disabled = true;
    result(null, "checking the flows and the scenarios…");
    try {
      const { status, data } = await call("POST", "/api/flows/publish", { ...texts(), note: $("note").value });
      if (status === 200) {
        result(true, data.changed ? `Version ${data.version} is live.` : `Version ${data.version} was live already.`);
        $("note").value = "";
        await refresh(false);
      } else if (status === 422) {
        setMarks(data.diagnostics || []);
        listDiagnostics(data.diagnostics || [], data.failures);
        result(false, `Not published: ${data.error}.`);
      } else {
        result(false, `Not published: ${data.error || status}.`);
      }
    } finally {
      $("publish").disabled = false;
    }
  });

  function drawDiff(diff) {
    const pre = $("diff");
    pre.hidden = false;
    pre.replaceChildren();
    const lines = diff ? diff.split("\n") : ["(no differences)"];
    for (const line of lines) {
      const kind = line.startsWith("@@") ? "hunk" : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "ctx";
      pre.append(el("span", { class: kind, text: line || " " }));
    }
  }

  async function diff(from, to) {
    const { status, data } = await call("GET", `/api/flows/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
    if (status === 200) drawDiff(data.diff); else drawDiff(`cannot diff: ${data.error}`);
  }

  async function rollback(version) {
    const { status, data } = await call("POST", "/api/flows/rollback", { version });
    if (status === 200) {
      result(true, `Rolled back: version ${data.version} is live.`);
      await refresh(true); // the editors show what is live again
    } else {
      if (data.diagnostics || data.failures) listDiagnostics(data.diagnostics || [], data.failures);
      result(false, `Not rolled back: ${data.error || status}.`);
    }
  }

  function drawHistory(history) {
    const body = $("history");
    body.replaceChildren();
    history.forEach((h, i) => {
      const current = i === 0;
      const actions = el("td", { class: "history-actions" });
      if (!current) {
        const d = el("button", { type: "button", class: "small", text: "Diff" });
        d.addEventListener("click", () => diff(h.version, live.version));
        const r = el("button", { type: "button", class: "small", text: "Roll back" });
        r.addEventListener("click", () => rollback(h.version));
        actions.append(d, r);
      } else {
        actions.append(el("span", { class: "muted small", text: "live" }));
      }
      const note = h.note || "";
      body.append(el("tr", { "data-version": h.version },
        el("td", {}, el("code", { text: h.version })), el("td", { text: when(h.published_at) }),
        el("td", { text: h.published_by }), el("td", { text: note }), actions));
    });
  }

  async function refresh(loadTexts) {
    const { status, data } = await call("GET", "/api/flows");
    if (status !== 200) { $("state").textContent = data.error || "cannot load"; $("state").className = "conn bad"; return; }
    live = data.live;
    $("live-version").textContent = live.version;
    $("live-by").textContent = live.published_by
      ? `published by ${live.published_by} ${when(live.published_at)}${live.note ? ` · “${live.note}”` : ""}` : "";
    drawHistory(data.history);
    if (loadTexts) {
      const v = await call("GET", `/api/flows/versions/${encodeURIComponent(live.version)}`);
      if (v.status === 200) {
        text.flows.value = v.data.flows;
        text.prompts.value = v.data.prompts || "";
      }
      show("flows");
      drawGutter("prompts");
      validate();
    }
    $("state").textContent = "loaded";
    $("state").className = "conn ok";
  }

  refresh(true);
})();
