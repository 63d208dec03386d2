// The arrival form of an announced consignment.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("arrival");
  if (!form) return;
  // datetime-local wants the officer's wall clock: now, shifted by the zone offset.
  const now = new Date(Date.now() - new Date().getTimezoneOffset() * 60000);
  form.elements.arrived_at.value = now.toISOString().slice(0, 16);
  form.onsubmit = (event) => {
    event.preventDefault();
    const received = [...form.querySelectorAll(".received")].map((input, k) => {
      input.dataset.field = `received/${k}/quantity`;  // where the API points its errors
      return { line_no: Number(input.dataset.line), lot_number: input.dataset.lot, quantity: Number(input.value) };
    });
    aidport.send(form, form.dataset.url, {
      arrived_at: new Date(form.elements.arrived_at.value).toISOString(),
      received, remarks: form.elements.remarks.value.trim(),
    });
  };
});
