/* /admin/tokens: show a new token's secret once (the API never shows it again). */
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("token-form");
  form.addEventListener("callvault:answer", (event) => {
    document.getElementById("token-value").textContent = event.detail.token;
    document.getElementById("token-secret").hidden = false;
    form.querySelector('button[type="submit"]').disabled = true;
  });
});
