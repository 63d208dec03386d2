// The province inbox: acknowledge a notice, refresh the list when a new one arrives.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const list = document.getElementById("notices");
  const wire = () => {
    for (const form of list.querySelectorAll("form.acknowledge")) {
      form.onsubmit = (event) => {
        event.preventDefault();
        aidport.send(form, form.dataset.url, {}, refresh);
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
