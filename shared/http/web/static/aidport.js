// AidPort pages: send a command as JSON, show problem details, follow live feeds.
"use strict";
const aidport = {
  // One Idempotency-Key per submission, kept while the outcome is unknown (network error,
  // 5xx), so that pressing the button again cannot record the command twice.
  key(form) {
    if (!form.dataset.idempotencyKey) {
      form.dataset.idempotencyKey = (self.crypto && crypto.randomUUID)
        ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
    }
    return form.dataset.idempotencyKey;
  },

  // POSTs body as JSON; on success calls then(payload), goes to then if it is a URL, or reloads.
  async send(form, url, body, then) {
    const button = form.querySelector("button[type=submit]");
    aidport.clear(form);
    if (button) button.disabled = true;
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "X-CSRF-Token": aidport.csrfToken(), "Idempotency-Key": aidport.key(form) },
        body: JSON.stringify(body), credentials: "same-origin",
      });
      const payload = (await response.json().catch(() => null)) || {};
      if (response.status === 401) { location.assign("/login"); return; }
      // Done or refused: the outcome is known, so a corrected form is a new command.
      if (response.status < 500) delete form.dataset.idempotencyKey;
      if (!response.ok) { aidport.showProblem(form, payload); return; }
      if (typeof then === "function") then(payload);
      else if (then) location.assign(then);
      else location.reload();
    } catch (failure) {
      aidport.top(form, form.dataset.offline || String(failure));
    } finally {
      if (button) button.disabled = false;
    }
  },

  // The page's CSRF token: a command sent with the session cookie must carry it.
  csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  },

  clear(form) {
    for (const note of form.querySelectorAll(".field-error")) note.remove();
    for (const bad of form.querySelectorAll("[aria-invalid]")) bad.removeAttribute("aria-invalid");
    aidport.top(form, "");
  },

  top(form, text) {
    const box = form.querySelector(".errors");
    if (box) box.textContent = text;
  },

  // Each {field, message} goes next to its field ("lines/0/lots/1/quantity" or a name);
  // what has no field on the page goes to the top with the detail.
  showProblem(form, problem) {
    const loose = [];
    for (const error of problem.errors || []) {
      const target = aidport.field(form, error.field);
      if (target) aidport.mark(target, error.message);
      else loose.push(error.field ? `${error.field}: ${error.message}` : error.message);
    }
    const detail = problem.detail || problem.title || document.body.dataset.error || "Error";
    aidport.top(form, [detail, ...loose].join("\n"));
  },

  // The element for a field path, or for its nearest parent path ("lines/0" for "lines/0/x").
  field(form, path) {
    for (let p = path || ""; p; p = p.slice(0, Math.max(p.lastIndexOf("/"), 0))) {
      const found = form.querySelector(`[data-field="${CSS.escape(p)}"]`)
        || form.querySelector(`[name="${CSS.escape(p)}"]`);
      if (found) return found;
    }
    return null;
  },

  mark(element, message) {
    const note = document.createElement("small");
    note.className = "field-error";
    note.textContent = message;
    element.setAttribute("aria-invalid", "true");
    element.after(note);
  },

  // Calls refresh() whenever the server-sent event stream says something changed, and once
  // after a reconnection, since changes made while the connection was down were not sent.
  follow(url, refresh, status) {
    if (!self.EventSource) return null;
    const source = new EventSource(url);
    let dropped = false;
    source.addEventListener("notice", refresh);
    source.onopen = () => {
      if (status) status.dataset.state = "on";
      if (dropped) refresh();
      dropped = false;
    };
    source.onerror = () => {
      if (status) status.dataset.state = "off";
      dropped = true;
    };
    return source;
  },
};
