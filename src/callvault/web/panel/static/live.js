/* The live-calls table, refreshed from /live.json every few seconds. */
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("live-data").textContent);
  const messages = config.messages;
  const labels = config.labels;
  const body = document.querySelector("#live-calls tbody");
  const status = document.getElementById("live-status");
  const label = (group, value) => labels[group + "." + value] || value || "–";
  const format = (seconds) => {
    const total = Math.max(0, Math.round(seconds));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(s).padStart(2, "0");
  };
  const cell = (row, text, className) => {
    const td = row.insertCell();
    td.textContent = text;
    if (className) td.className = className;
    return td;
  };
  const badge = (td, text, className) => {
    const span = document.createElement("span");
    span.className = "badge " + className;
    span.textContent = text;
    td.replaceChildren(span);
  };

  function render(items) {
    body.replaceChildren();
    for (const call of items) {
      const row = body.insertRow();
      row.dataset.call = call.call_id;
      badge(cell(row, ""), label("direction", call.direction), "dir-" + call.direction);
      cell(row, call.from, "mono");
      cell(row, call.to, "mono");
      cell(row, call.parties.join(" ↔ ") || "–");
      cell(row, call.objects.map((hop) => label("object", hop.kind) + ": " + hop.login).join(" › ") || "–");
      cell(row, format(call.duration_s), "num").dataset.duration = call.duration_s;
      badge(cell(row, ""), call.recorded ? "● " + messages.live_recorded : messages.live_not_recorded,
            call.recorded ? "rec" : "");
    }
    if (!items.length) {
      const td = cell(body.insertRow(), messages.live_none, "empty");
      td.colSpan = 7;
    }
    status.textContent = messages.live_count.replace("{count}", items.length) + " · " +
      messages.live_refresh.replace("{seconds}", config.refresh_s);
  }

  async function refresh() {
    try {
      const response = await fetch("/live.json", { credentials: "same-origin" });
      if (response.status === 401) { location.href = "/login?next=/live&expired=1"; return; }
      if (response.ok) {
        const items = (await response.json()).items;
        fetchedAt = Date.now() / 1000;
        render(items);
      }
    } catch (e) { /* the next refresh tries again */ }
  }
  let fetchedAt = Date.now() / 1000;  // durations count from the server's answer (no clock skew)
  setInterval(() => {
    const since = Date.now() / 1000 - fetchedAt;
    body.querySelectorAll("[data-duration]").forEach((td) => {
      td.textContent = format(parseFloat(td.dataset.duration) + since);
    });
  }, 1000);
  setInterval(refresh, config.refresh_s * 1000);
})();
