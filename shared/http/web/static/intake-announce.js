// The announce form: lines and lots added and removed, sent as one command.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("announce");
  const lines = document.getElementById("lines");
  const clone = (id) => document.getElementById(id).content.firstElementChild.cloneNode(true);
  const addLot = (line) => line.querySelector(".lots").append(clone("lot"));
  const renumber = () => lines.querySelectorAll(".line").forEach((line, i) => {
    line.querySelector(".line-no").textContent = i + 1;
  });
  const addLine = () => {
    const line = clone("line");
    lines.append(line);
    addLot(line);
    renumber();
    return line;
  };
  document.getElementById("add-line").onclick = () => addLine().querySelector("input").focus();
  lines.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.matches(".add-lot")) addLot(button.closest(".line"));
    if (button.matches(".remove-lot")) button.closest(".lot").remove();
    if (button.matches(".remove-line") && lines.children.length > 1) {
      button.closest(".line").remove();
      renumber();
    }
  });
  addLine();

  // Reads named inputs and tags each with its path as the API names it in errors
  // ("lines/0/lots/1/quantity"), so that aidport.send can show a message next to it.
  const read = (scope, path, names) => Object.fromEntries(names.map((name) => {
    const input = scope.querySelector(`[name=${name}]`);
    input.dataset.field = `${path}/${name}`;
    return [name, input.type === "number" ? Number(input.value) : input.value.trim()];
  }));
  const readLine = (element, i) => {
    element.dataset.field = `lines/${i}`;
    element.querySelector(".lots").dataset.field = `lines/${i}/lots`;
    const fields = ["product", "category", "unit", "pack_size", "quantity", "storage"];
    return {
      ...read(element.querySelector(".fields"), `lines/${i}`, fields),
      lots: [...element.querySelectorAll(".lot")].map((lot, j) =>
        read(lot, `lines/${i}/lots/${j}`, ["lot_number", "expiry_date", "quantity"])),
    };
  };
  form.onsubmit = (event) => {
    event.preventDefault();
    const f = form.elements;
    const body = {
      donor: f.donor.value, channel: f.channel.value, airport: f.airport.value,
      flight: f.flight.value, airway_bill: f.airway_bill.value, consignee: f.consignee.value,
      priority: f.priority.value,
      // datetime-local is the officer's clock; the API takes an instant.
      expected_arrival: new Date(f.expected_arrival.value).toISOString(),
      lines: [...lines.querySelectorAll(".line")].map(readLine),
    };
    aidport.send(form, "/api/v1/shipments", body, (s) => location.assign(`/shipments/${s.shipment_id}`));
  };
});
