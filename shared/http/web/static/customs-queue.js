// The clearance queue: the fast-track form of each arrived case.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form.fast-track")) {
    form.onsubmit = (event) => {
      event.preventDefault();
      const f = form.elements;
      aidport.send(form, `/api/v1/clearances/${form.dataset.case}/fast-track`, {
        declaration_number: f.declaration_number.value.trim(), lane: f.lane.value,
        examination: f.examination.value, remarks: f.remarks.value.trim(),
      });
    };
  }
});
