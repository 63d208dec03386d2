// A recipient's inbox (a province's or a national recipient's): acknowledge a notice,
// confirm its receipt per lot, refresh the list when a notice arrives or changes.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const list = document.getElementById("notices");
  // One rejection line per reason given a quantity; each input is named by the line it
  // became, so that the server's message for "lots/0/rejections/1/quantity" lands on it.
  const receipt = (form) => ({
    lots: [...form.querySelectorAll("fieldset.lot")].map((lot, k) => {
      const note = lot.querySelector(".note").value.trim();
      const given = [...lot.querySelectorAll(".rejected")].filter((input) => {
        delete input.dataset.field;
        return input.value !== "" && Number(input.value) !== 0;
      });
      const rejections = given.map((input, index) => {
        input.dataset.field = `lots/${k}/rejections/${index}/quantity`;
        return { reason: input.dataset.reason, quantity: Number(input.value), note };
      });
      return {
        lot_number: lot.dataset.lot, counted: Number(lot.dataset.counted),
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
