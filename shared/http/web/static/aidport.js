// AidPort pages: send a command as JSON, show problem details, follow live feeds.
"use strict";
const aidport = {
  // One Idempotency-Key per submission, kept for a retry after a network error.
  key(form) {
    if (!form.dataset.idempotencyKey) {
      form.dataset.idempotencyKey = (self.crypto && crypto.randomUUID)
        ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
    }
    return form.dataset.idempotencyKey;
  },

  async send(form, url, body, onDone) {
    const errors = form.querySelector(".errors");
    const button = form.querySelector("button[type=submit]");
    if (errors) errors.textContent = "";
    if (button) button.disabled = true;
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Requested-With": "aidport",
                   "Idempotency-Key": aidport.key(form) },
        body: JSON.stringify(body), credentials: "same-origin",
      });
      const payload = await response.json().catch(() => ({}));
      if (response.ok) {
        delete form.dataset.idempotencyKey;
        onDone ? onDone(payload) : location.reload();
        return;
      }
      delete form.dataset.idempotencyKey;  // refused: a corrected form is a new command
      aidport.showProblem(errors, payload);
    } catch (failure) {
      if (errors) errors.textContent = form.dataset.offline || String(failure);
    } finally {
      if (button) button.disabled = false;
    }
  },

  showProblem(target, problem) {
    if (!target) return;
    const lines = [problem.detail || problem.title || "Error"];
    for (const e of problem.errors || []) {
      if (e.field && !lines[0].includes(e.message)) lines.push(`${e.field}: ${e.message}`);
    }
    target.textContent = lines.join("\n");
  },

  // Calls refresh() whenever the server-sent event stream says something changed.
  follow(url, refresh, status) {
    if (!self.EventSource) return;
    const source = new EventSource(url);
    source.addEventListener("notice", refresh);
    source.onopen = () => status && (status.dataset.state = "on");
    source.onerror = () => status && (status.dataset.state = "off");
  },

  number(form, name) {
    const value = form.elements[name].value.trim();
    return value === "" ? null : Number(value);
  },
};
