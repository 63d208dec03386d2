// The national dashboard: follow the live feed, and sort the province table in place.
// Without JavaScript the page still works: sorting is a link, refreshing is a reload.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const body = document.getElementById("dashboard");
  if (!body) return;

  const sortable = () => {
    for (const table of body.querySelectorAll("table.sortable")) {
      const headers = [...table.querySelectorAll("th[data-sort]")];
      for (const th of headers) {
        const link = th.querySelector("a");
        link.onclick = (event) => {
          event.preventDefault();
          const ascending = th.getAttribute("aria-sort") !== "ascending";
          const column = [...th.parentNode.children].indexOf(th);
          const value = (row) => row.children[column].dataset.value || "";
          const rows = [...table.tBodies[0].rows];
          rows.sort((a, b) => {
            const x = value(a), y = value(b);
            const order = isNaN(x) || isNaN(y) ? x.localeCompare(y) : Number(x) - Number(y);
            return ascending ? order : -order;
          });
          table.tBodies[0].append(...rows);
          for (const other of headers) other.removeAttribute("aria-sort");
          th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
          body.dataset.fragment = `/fragment?sort=${encodeURIComponent(th.dataset.sort)}`;
        };
      }
    }
  };

  // Many events in a burst make one refresh, at most one a second.
  let timer = null;
  const refresh = () => {
    if (timer) return;
    timer = setTimeout(async () => {
      timer = null;
      const response = await fetch(body.dataset.fragment, { credentials: "same-origin" });
      if (response.redirected) { location.assign(response.url); return; }
      if (response.ok) { body.innerHTML = await response.text(); sortable(); }
    }, 1000);
  };

  sortable();
  if (body.dataset.stream && self.EventSource) {
    const status = document.getElementById("live");
    const source = new EventSource(body.dataset.stream);
    let dropped = false;
    source.addEventListener("changed", refresh);
    source.onopen = () => { if (status) status.dataset.state = "on"; if (dropped) refresh(); dropped = false; };
    source.onerror = () => { if (status) status.dataset.state = "off"; dropped = true; };
  }
});
