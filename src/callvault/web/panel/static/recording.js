/* The recording page's forms: notes, tags, share links and deletion, sent to the REST API. */
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("recording-data").textContent);
  const messages = data.messages;
  const base = "/api/v1/recordings/" + encodeURIComponent(data.id);
  const box = document.getElementById("message");
  const { api, errorText } = window.callvault;

  function show(text, kind) {
    box.textContent = text;
    box.className = kind === "ok" ? "notice" : "error";
    box.hidden = !text;
  }
  async function send(method, url, body) {
    const answer = await api(method, url, body);
    if (!answer.ok) show(errorText(messages, answer), "error");
    return answer;
  }
  const when = (iso) => new Intl.DateTimeFormat(data.lang === "pl" ? "pl-PL" : "en-GB", {
    dateStyle: "short", timeStyle: "short", timeZone: data.timezone,
  }).format(new Date(iso));

  const noteForm = document.getElementById("note-form");
  if (noteForm) noteForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = noteForm.elements.text.value.trim();
    if (!text) return;
    if ((await send("POST", base + "/notes", { text })).ok) location.reload();
  });

  const tagForm = document.getElementById("tag-form");
  if (tagForm) tagForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = tagForm.elements.key.value.trim();
    if (!key) return;
    if ((await send("PATCH", base + "/tags", { [key]: tagForm.elements.value.value })).ok) {
      location.reload();
    }
  });
  document.querySelectorAll("[data-remove-tag]").forEach((button) => {
    button.addEventListener("click", async () => {
      const key = button.dataset.removeTag;
      if ((await send("PATCH", base + "/tags", { [key]: null })).ok) location.reload();
    });
  });

  const share = document.getElementById("share");
  async function loadLinks() {
    const answer = await send("GET", share.dataset.url);
    if (!answer.ok) return;
    const body = share.querySelector("#share-links tbody");
    body.replaceChildren();
    const now = Date.now();
    for (const link of answer.body) {
      const row = body.insertRow();
      row.dataset.share = link.id;
      row.insertCell().textContent = when(link.created_at);
      row.insertCell().textContent = when(link.expires_at);
      const state = row.insertCell();
      const action = row.insertCell();
      if (link.revoked_at) state.textContent = messages.share_revoked;
      else if (Date.parse(link.expires_at) <= now) state.textContent = messages.share_expired;
      else {
        state.textContent = messages.share_active;
        const revoke = document.createElement("button");
        revoke.type = "button";
        revoke.className = "small";
        revoke.textContent = messages.share_revoke;
        revoke.setAttribute("aria-label", messages.share_revoke + " " + when(link.created_at));
        revoke.addEventListener("click", async () => {
          const done = await send("DELETE", share.dataset.url + "/" + encodeURIComponent(link.id));
          if (done.ok) { show(messages.share_revoked_ok, "ok"); loadLinks(); }
        });
        action.append(revoke);
      }
    }
    if (!answer.body.length) {
      const cell = body.insertRow().insertCell();
      cell.colSpan = 4;
      cell.className = "empty";
      cell.textContent = messages.share_none;
    }
  }
  if (share) {
    loadLinks();
    document.getElementById("share-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const seconds = parseInt(document.getElementById("share-expiry").value, 10);
      const answer = await send("POST", share.dataset.url, { expires_in_s: seconds });
      if (!answer.ok) return;
      document.getElementById("share-new").hidden = false;
      const url = document.getElementById("share-url");
      url.value = answer.body.url;
      url.focus();
      url.select();
      show(messages.share_created, "ok");
      loadLinks();
    });
    document.getElementById("share-copy").addEventListener("click", async () => {
      const url = document.getElementById("share-url");
      try { await navigator.clipboard.writeText(url.value); show(messages.share_copied, "ok"); }
      catch (e) { url.select(); }
    });
  }

  const remove = document.getElementById("delete");
  if (remove) remove.addEventListener("click", async () => {
    if (!window.confirm(messages.confirm_delete)) return;
    const answer = await send("DELETE", remove.dataset.url);
    if (answer.ok) location.href = "/recordings?deleted=" + encodeURIComponent(data.id);
  });
})();
