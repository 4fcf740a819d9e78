/* /admin/objects: the new object's settings example follows the chosen kind, and an IVR API
   object's "Test connection" report (the API's answer: ok, URL, HTTP status, time, the IVR
   API's error number and message, attempts, signing) is shown under its row, no reload. */
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const messages = JSON.parse(document.getElementById("admin-data").textContent).messages;

  const kind = document.getElementById("object-kind");
  const settings = document.getElementById("object-settings");
  const keys = document.querySelector("#object-settings-keys [data-keys]");
  if (kind && settings) {
    kind.addEventListener("change", () => {
      const option = kind.selectedOptions[0];
      settings.placeholder = option.dataset.example || "";
      if (keys) keys.textContent = option.dataset.keys || "";
    });
  }

  /** One "term | value" row of the report. */
  function line(body, term, value) {
    const row = body.insertRow();
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = term;
    const td = document.createElement("td");
    td.textContent = value;
    row.append(th, td);
    return td;
  }

  function report(box, answer) {
    box.replaceChildren();
    const head = document.createElement("p");
    head.className = answer.ok ? "notice" : "error";
    head.dataset.outcome = answer.ok ? "ok" : "failed";
    head.textContent = answer.ok ? messages.objects_test_ok : messages.objects_test_failed;
    const table = document.createElement("table");
    table.className = "list compact test-details";
    const body = table.createTBody();
    line(body, messages.objects_test_url, answer.url || "").className = "mono";
    line(body, messages.objects_test_status,
      answer.status === null || answer.status === undefined ? messages.objects_test_no_status : String(answer.status));
    line(body, messages.objects_test_elapsed, Number(answer.elapsed_ms).toFixed(1) + " ms");
    if (answer.error) {
      const number = answer.error_no === null || answer.error_no === undefined ? "" : answer.error_no + ": ";
      line(body, messages.objects_test_error, number + answer.error).className = "mono";
    }
    line(body, messages.objects_test_attempts, String(answer.attempts));
    line(body, messages.objects_test_signed, answer.signed ? messages.objects_yes : messages.objects_no);
    box.append(head, table);
  }

  document.querySelectorAll("form.test-connection").forEach((form) => {
    form.addEventListener("callvault:answer", (event) => {
      const box = document.getElementById(form.dataset.report);
      if (!box) return;
      report(box, event.detail);
      const row = document.getElementById(form.dataset.report + "-row");
      if (row) row.hidden = false;
    });
  });
});
