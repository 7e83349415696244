// Shared helpers for the ivr pages (no framework, no build step).
"use strict";
window.ivr = (function () {
  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";
  const csrf = () => meta("csrf-token");
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  // The session ended (logout in another tab, expiry): go to the login page and come back.
  function toLogin() {
    location.assign("/login?next=" + encodeURIComponent(location.pathname));
  }
  function wsUrl(path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }
  async function api(method, path, body) {
    const opts = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    if (method !== "GET") opts.headers["X-CSRF-Token"] = csrf();
    const res = await fetch(path, opts);
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(data.error || `${res.status} ${res.statusText}`);
      err.status = res.status;
      if (res.status === 401) toLogin();
      throw err;
    }
    return data;
  }
  const vnd = new Intl.NumberFormat("vi-VN");
  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    // The hotline's own time zone, whatever the agent's computer is set to.
    return d.toLocaleString("en-GB", { day: "2-digit", month: "short", hour: "2-digit",
      minute: "2-digit", timeZone: "Asia/Ho_Chi_Minh" });
  }
  // "Saved at"/"updated at" times in the hotline's zone too, like every other time shown.
  function clock(d) {
    return (d || new Date()).toLocaleTimeString("en-GB", { timeZone: "Asia/Ho_Chi_Minh" });
  }
  function duration(seconds) {
    const s = Math.max(0, Math.round(Number(seconds) || 0));
    return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
  }
  function label(key) {
    return String(key).replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
  }
  function value(key, v) {
    if (v === null || v === undefined || v === "") return "—";
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (typeof v === "number" && /amount|balance|due$|total|money/.test(key)) return vnd.format(v) + " ₫";
    if (typeof v === "string" && /^\d{4}-\d{2}-\d{2}T/.test(v)) return when(v);
    const day = typeof v === "string" && /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
    if (day) return `${day[3]}/${day[2]}/${day[1]}`; // dates as Vietnam writes them
    if (Array.isArray(v)) return v.map((x) => (typeof x === "object" ? JSON.stringify(x) : x)).join(", ");
    if (typeof v === "object") return Object.entries(v).map(([k, x]) => `${label(k)}: ${value(k, x)}`).join(" · ");
    return String(v);
  }
  return { csrf, el, wsUrl, api, toLogin, when, clock, duration, label, value, vnd, meta };
})();
