// The allocation desk: move quantities between recipients (adjustment or amendment),
// approve, draft again under another policy, release from the national reserve.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // The quantity a recipient holds on a line now, as the table shows it.
  const held = (line, code) => {
    const row = document.querySelector(
      `table.shares[data-line="${line}"] tr[data-recipient="${CSS.escape(code)}"]`);
    return row ? Number(row.dataset.quantity) : 0;
  };
  // A move of n units from one recipient to another, as the two new quantities.
  const changes = (f) => {
    const line = Number(f.line_no.value), n = Number(f.quantity.value);
    return [
      { line_no: line, recipient_code: f.from.value, quantity: held(line, f.from.value) - n },
      { line_no: line, recipient_code: f.to.value, quantity: held(line, f.to.value) + n },
    ];
  };
  const on = (selector, body) => {
    for (const form of document.querySelectorAll(selector)) {
      form.onsubmit = (event) => {
        event.preventDefault();
        aidport.send(form, form.dataset.url, body(form.elements, form));
      };
    }
  };
  on("form.desk-adjust", (f) => ({ changes: changes(f), reason: f.reason.value.trim() }));
  on("form.desk-redraft", (f) => ({ policy_id: f.policy_id.value }));
  on("form.desk-approve", (f) => ({
    decision_number: f.decision_number.value.trim(), decision_date: f.decision_date.value,
  }));
  on("form.desk-amend", (f) => ({
    changes: changes(f), reason: f.reason.value.trim(),
    decision_number: f.decision_number.value.trim(), decision_date: f.decision_date.value,
  }));
  for (const form of document.querySelectorAll("form.desk-release")) {
    form.onsubmit = (event) => {
      event.preventDefault();
      const f = form.elements;
      aidport.send(form, form.dataset.url, {
        shipment_id: form.dataset.shipment, policy_id: f.policy_id.value,
        lines: [{ line_no: Number(f.line_no.value), quantity: Number(f.quantity.value) }],
      }, (round) => location.assign(`/rounds/${round.round_id}`));
    };
  }
});
