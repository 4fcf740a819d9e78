/* /admin/webhooks: show a new webhook's signing secret once (the API never shows it again). */
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("webhook-form");
  if (!form) return;
  form.addEventListener("callvault:answer", (event) => {
    document.getElementById("webhook-secret-value").textContent = event.detail.secret;
    document.getElementById("webhook-secret").hidden = false;
    form.querySelector('button[type="submit"]').disabled = true;
  });
});
