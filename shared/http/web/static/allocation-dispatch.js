// The national store's dispatch desk: one form per notice; the lots go as allocated.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form.dispatch")) {
    form.onsubmit = (event) => {
      event.preventDefault();
      const when = form.elements.dispatched_at.value;
      const body = { carrier: form.elements.carrier.value.trim() };
      if (when) body.dispatched_at = new Date(when).toISOString();
      aidport.send(form, form.dataset.url, body);
    };
  }
});
