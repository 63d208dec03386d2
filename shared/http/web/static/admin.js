// The admin page: each Retry button POSTs to the admin API, then the page is reloaded.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const errors = document.getElementById("admin-errors");
  for (const button of document.querySelectorAll("button[data-post]")) {
    button.onclick = async () => {
      button.disabled = true;
      try {
        const response = await fetch(button.dataset.post, {
          method: "POST", credentials: "same-origin",
          headers: { "Accept": "application/json", "X-CSRF-Token": aidport.csrfToken() },
        });
        if (response.status === 401) { location.assign("/login"); return; }
        const payload = (await response.json().catch(() => null)) || {};
        if (!response.ok) { errors.textContent = payload.detail || payload.title || response.status; return; }
        location.reload();
      } catch (failure) {
        errors.textContent = String(failure);
      } finally {
        button.disabled = false;
      }
    };
  }
});
