/* Background jobs: the /jobs page's live rows, and the recordings list's "Export ZIP" button.

   On /jobs (the #jobs-data element gives the messages and the interval):
   while a job is queued or running, GET /api/v1/jobs every poll_ms and redraw
   each row's state, progress bar, percent and message; when a job ends, its
   result (the "Download ZIP" link, the erasure's report).  A job the page
   does not show yet (started elsewhere) reloads the page.  The notice that
   an admin form left for the next page (sessionStorage) is shown here.

   On /recordings: <button data-export="/api/v1/jobs/export?..."> starts the
   export of the list's current filters and goes to /jobs; a refusal is shown
   in #export-zip-error (data-failed: the message, then the API's reason). */
"use strict";
(function () {
  const FLASH = "callvault-admin-notice";
  const UNFINISHED = ["queued", "running"];

  const { format, element } = window.callvault;

  function summary(messages, job) {
    const result = job.result || {};
    if (job.state !== "done") return "";
    if (job.kind === "erase") {
      return format(messages.jobs_erase_summary, {
        found: result.found || 0, deleted: result.deleted || 0, held: result.held || 0,
        left: (result.pending || 0) + (result.gone || 0), errors: result.errors || 0,
      });
    }
    if (job.kind === "export" && "recordings" in result) {
      return format(messages.jobs_export_summary, {
        recordings: result.recordings, skipped: (result.skipped || []).length,
      });
    }
    return "";
  }

  function drawResult(messages, cell, job) {
    cell.replaceChildren();
    if (job.download) {
      const link = element("a", "button small", messages.jobs_download);
      link.href = job.download;
      link.setAttribute("download", "");
      cell.appendChild(link);
    }
    const text = summary(messages, job);
    if (text) cell.appendChild(element("p", "summary", text));
    const items = job.kind === "erase" && job.result ? job.result.items || [] : [];
    if (items.length) {
      const details = element("details");
      details.appendChild(element("summary", "", messages.jobs_details));
      const list = element("ul", "checks");
      for (const item of items) {
        const line = element("li");
        line.appendChild(element("span", "mono", item.recording_id));
        line.appendChild(document.createTextNode(": " + item.outcome + (item.note ? " (" + item.note + ")" : "")));
        list.appendChild(line);
      }
      details.appendChild(list);
      cell.appendChild(details);
    }
  }

  function drawRow(messages, row, job) {
    const changed = row.dataset.state !== job.state;
    row.dataset.state = job.state;
    const state = row.querySelector('[data-field="state"]');
    state.textContent = messages["jobs_state_" + job.state] || job.state;
    state.className = "badge job-" + job.state;
    row.querySelector("progress").value = job.progress;
    row.querySelector('[data-field="percent"]').textContent = job.progress + "%";
    const summarised = job.state === "done" && summary(messages, job);
    row.querySelector('[data-field="message"]').textContent = summarised ? "" : job.message || "";
    if (changed) drawResult(messages, row.querySelector('[data-field="result"]'), job);
  }

  function jobsPage(data) {
    const messages = data.messages;
    const table = document.getElementById("jobs");
    const rows = () => Array.from(table.querySelectorAll("tbody tr[data-job]"));
    const busy = () => rows().some((row) => UNFINISHED.includes(row.dataset.state));
    const refresh = document.getElementById("jobs-refresh");

    async function poll() {
      const answer = await window.callvault.api("GET", "/api/v1/jobs");
      if (answer.ok) {
        for (const job of answer.body) {
          const row = table.querySelector('tr[data-job="' + CSS.escape(job.id) + '"]');
          if (!row) {
            window.location.reload();
            return;
          }
          drawRow(messages, row, job);
        }
      }
      if (busy()) {
        window.setTimeout(poll, data.poll_ms);
      } else if (refresh) {
        refresh.hidden = true;
      }
    }

    const notice = sessionStorage.getItem(FLASH);
    const box = document.getElementById("jobs-notice");
    if (notice && box) {
      box.textContent = notice;
      box.hidden = false;
    }
    sessionStorage.removeItem(FLASH);
    if (busy()) window.setTimeout(poll, data.poll_ms);
  }

  function exportButton(button) {
    const problem = document.getElementById("export-zip-error");
    button.addEventListener("click", async () => {
      button.disabled = true;
      if (problem) problem.hidden = true;
      let answer;
      try {
        answer = await window.callvault.api("POST", button.dataset.export);
      } finally {
        button.disabled = false;
      }
      if (answer.ok) {
        if (button.dataset.done) sessionStorage.setItem(FLASH, button.dataset.done);
        window.location.assign("/jobs");
        return;
      }
      const reason = answer.body && answer.body.message ? " (" + answer.body.message + ")" : "";
      if (problem) {
        problem.textContent = button.dataset.failed + reason;
        problem.hidden = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const data = document.getElementById("jobs-data");
    if (data) jobsPage(JSON.parse(data.textContent));
    const button = document.querySelector("button[data-export]");
    if (button) exportButton(button);
  });
})();
