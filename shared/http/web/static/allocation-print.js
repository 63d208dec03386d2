// The printable notice: the Print button opens the browser's print dialog.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("print");
  if (button) button.onclick = () => window.print();
});
