// The province inbox: acknowledge a notice, confirm its receipt per lot, refresh the list
// when a notice arrives or changes.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const list = document.getElementById("notices");
  const receipt = (form) => ({
    lots: [...form.querySelectorAll("fieldset.lot")].map((lot) => {
      const counted = Number(lot.dataset.counted);
      const rejected = Number(lot.querySelector(".rejected").value || 0);
      const rejections = rejected > 0 ? [{
        reason: lot.querySelector(".reason").value, quantity: rejected,
        note: lot.querySelector(".note").value.trim(),
      }] : [];
      return {
        lot_number: lot.dataset.lot, counted,
        accepted: Number(lot.querySelector(".accepted").value), rejections,
      };
    }),
  });
  const wire = () => {
    for (const form of list.querySelectorAll("form.acknowledge")) {
      form.onsubmit = (event) => {
        event.preventDefault();
        aidport.send(form, form.dataset.url, {}, refresh);
      };
    }
    for (const form of list.querySelectorAll("form.receipt")) {
      form.onsubmit = (event) => {
        event.preventDefault();
        aidport.send(form, form.dataset.url, receipt(form), refresh);
      };
    }
  };
  // Fetches the list again; a session that ran out lands on the login page instead.
  const refresh = async () => {
    const response = await fetch(list.dataset.fragment, { credentials: "same-origin" });
    if (response.redirected) { location.assign(response.url); return; }
    if (response.ok) { list.innerHTML = await response.text(); wire(); }
  };
  wire();
  aidport.follow(list.dataset.stream, refresh, document.getElementById("live"));
});
