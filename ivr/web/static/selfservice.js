// The public self-service page: each form posts JSON and shows the answer's own
// (already localised) text. textContent only: Trusted Types refuse HTML strings anyway.
"use strict";
(function () {
  const lang = document.querySelector(".selfservice").dataset.lang || "vi";
  function show(box, ok, message, fields) {
    box.replaceChildren();
    box.className = "ss-result " + (ok ? "ok" : "refused");
    box.append(ivr.el("p", { text: message }));
    if (fields && fields.length) {
      const list = ivr.el("dl");
      for (const [label, value] of fields) {
        list.append(ivr.el("dt", { text: label }), ivr.el("dd", { text: value }));
      }
      box.append(list);
    }
  }
  for (const form of document.querySelectorAll("form.ss-form")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const box = form.querySelector(".ss-result");
      const button = form.querySelector("button[type=submit]");
      const body = Object.fromEntries(new FormData(form).entries());
      body.lang = lang;
      button.disabled = true;
      try {
        const data = await ivr.api("POST", form.dataset.action, body);
        show(box, data.ok, data.message, data.fields);
        // The next report from this page is a new request (a resend of this one is not).
        const id = form.querySelector("input[name=request_id]");
        if (id && data.request_id) id.value = data.request_id;
      } catch (err) {
        show(box, false, err.message, []);
      } finally {
        button.disabled = false;
      }
    });
  }
})();
