// The customs case page: each step's form is sent to the API as JSON.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form.step")) {
    form.onsubmit = (event) => {
      event.preventDefault();
      const body = {};
      for (const field of form.querySelectorAll("[name]")) {
        if (field.type === "checkbox") body[field.name] = field.checked;
        else if (field.value.trim() !== "") body[field.name] = field.value.trim();
      }
      const lots = [...form.querySelectorAll("input.qty")]
        .filter((q) => q.value.trim() !== "")
        .map((q) => ({ line_no: Number(q.dataset.line), lot_number: q.dataset.lot,
                       quantity: Number(q.value) }));
      if (form.dataset.lots === "hold") body.lots = lots;
      else if (form.dataset.lots === "choose") {
        if (lots.length) body.lots = lots; else body.everything = true;
      }
      aidport.send(form, `/api/v1/clearances/${form.dataset.case}/${form.dataset.step}`, body);
    };
  }
});
