// Intake's command forms (inspection, VAR, amend, cancel, close): every input names its place
// in the JSON body with data-path ("lots/0/rejections/2/quantity"), the same path the API
// names in its errors, so that aidport.send shows each message next to its field.
"use strict";
(() => {
  const value = (input) => {
    const raw = input.type === "checkbox" ? input.checked : input.value.trim();
    if (raw === "" || raw === null) return undefined;
    switch (input.dataset.type) {
      case "int": return Number(raw);
      case "bool": return raw === "yes" ? true : raw === "no" ? false : undefined;
      case "instant": return new Date(raw).toISOString();  // datetime-local: the officer's clock
      case "json": return JSON.parse(raw);
      case "list": return input.type === "checkbox" ? (input.checked ? [input.value] : undefined) : [raw];
      default: return raw;
    }
  };
  const put = (body, path, v) => {
    const keys = path.split("/");
    let here = body;
    keys.slice(0, -1).forEach((key, i) => {
      if (here[key] === undefined) here[key] = /^\d+$/.test(keys[i + 1]) ? [] : {};
      here = here[key];
    });
    const last = keys[keys.length - 1];
    here[last] = Array.isArray(here[last]) && Array.isArray(v) ? here[last].concat(v) : v;
  };
  // An object whose "key" input (data-key) is empty was not filled in: leave it out.
  const prune = (node) => {
    if (Array.isArray(node)) return node.map(prune).filter((x) => x !== undefined && x !== null);
    if (node && typeof node === "object") {
      if (node.__drop) return undefined;
      for (const key of Object.keys(node)) node[key] = prune(node[key]);
    }
    return node;
  };
  const read = (form) => {
    const body = {};
    for (const input of form.querySelectorAll("[data-path]")) {
      input.dataset.field = input.dataset.path;
      const v = value(input);
      if (v !== undefined) put(body, input.dataset.path, v);
      else if (input.dataset.key !== undefined) {
        put(body, input.dataset.path.split("/").slice(0, -1).concat("__drop").join("/"), true);
      }
    }
    return prune(body);
  };
  document.addEventListener("DOMContentLoaded", () => {
    for (const form of document.querySelectorAll("form[data-command]")) {
      for (const input of form.querySelectorAll("input[data-now]")) {
        if (!input.value) {  // datetime-local wants the wall clock: now, shifted by the zone
          input.value = new Date(Date.now() - new Date().getTimezoneOffset() * 60000)
            .toISOString().slice(0, 16);
        }
      }
      form.onsubmit = (event) => {
        event.preventDefault();
        let body;
        try { body = read(form); } catch (failure) { aidport.top(form, String(failure)); return; }
        aidport.send(form, form.dataset.command, body, form.dataset.then);
      };
    }
  });
})();
