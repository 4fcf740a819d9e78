/* The admin screens' forms: each is sent to the REST API and the page reloads with a notice.

   <form data-api="POST /api/v1/numbers"> sends its fields as JSON (multipart
   when it holds a file input).  A field's data-type says how it is read:
   "int", "float", "bool" (a checkbox), "bool-true" / "bool-false" (a hidden flag), "json" (a textarea holding JSON),
   "list" (comma- or line-separated words), "set" (every checked checkbox of
   that name, as a list).  Empty fields are left out unless data-keep-empty.
   "{name}" in the URL is filled from the field of that name (which is then
   not sent).  After success: data-then="reload" (the default; data-done is
   the notice shown after the reload), "show" (the answer is given to the
   screen's script as a "callvault:answer" event on the form, and the form
   stays), or a URL to go to.  data-confirm asks first.  A button with
   data-api (outside a form) works the same with no body.  Errors are shown
   in the form's [data-error] element (made when missing; for a button,
   right after it), with the API's
   message and the field problems it lists. */
"use strict";
(function () {
  const FLASH = "callvault-admin-notice";
  const data = JSON.parse(document.getElementById("admin-data").textContent);
  const messages = data.messages;

  function readValue(field) {
    const type = field.dataset.type || (field.type === "checkbox" ? "bool" : "text");
    if (type === "bool") return field.checked;
    if (type === "bool-true") return true;
    if (type === "bool-false") return false;
    const raw = field.value.trim();
    if (raw === "" && !("keepEmpty" in field.dataset)) return undefined;
    if (type === "int") return parseInt(raw, 10);
    if (type === "float") return parseFloat(raw.replace(",", "."));
    if (type === "json") return JSON.parse(raw);
    if (type === "list") return raw.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
    return field.value;
  }

  /** The form's fields as an object, and the URL with its {placeholders} filled. */
  function collect(form, url) {
    const body = {};
    const used = new Set();
    const filled = url.replace(/\{(\w+)\}/g, (_, name) => {
      used.add(name);
      const field = form.elements.namedItem(name);
      return encodeURIComponent(field ? field.value.trim() : "");
    });
    for (const field of form.elements) {
      if (!field.name || used.has(field.name) || field.disabled || field.type === "submit") continue;
      if (field.dataset.type === "set") {
        if (!(field.name in body)) body[field.name] = [];
        if (field.checked) body[field.name].push(field.value);
        continue;
      }
      if (field.type === "radio" && !field.checked) continue;
      const value = readValue(field);
      if (value !== undefined) body[field.name] = value;
    }
    return { url: filled, body };
  }

  function showError(host, text) {
    const button = host.matches("button");
    let box = button ? host.nextElementSibling : host.querySelector("[data-error]");
    if (!box || !("error" in box.dataset)) {
      if (!text) return;
      box = document.createElement("p");
      box.dataset.error = "";
      box.className = "error";
      box.setAttribute("role", "alert");
      if (button) host.after(box);
      else host.appendChild(box);
    }
    box.textContent = text;
    box.hidden = !text;
  }

  function problemText(answer) {
    const text = window.callvault.errorText(messages, answer);
    const details = (answer.body && answer.body.details) || {};
    const problems = (details.problems || []).map((p) => p.where + ": " + p.problem);
    const message = answer.body && answer.body.message;
    const extra = problems.length ? problems.join("; ") : message && !text.includes(message) ? message : "";
    return extra ? text + " " + extra : text;
  }

  async function send(host, spec, build) {
    if (host.dataset.confirm && !window.confirm(host.dataset.confirm)) return;
    const space = spec.indexOf(" ");
    const method = spec.slice(0, space);
    let request;
    try {
      request = build(spec.slice(space + 1));
    } catch (error) {
      showError(host, messages.admin_bad_json + " " + error.message);
      return;
    }
    const buttons = host.matches("button") ? [host] : host.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    showError(host, "");
    let answer;
    try {
      answer = request.form
        ? await upload(method, request.url, request.form)
        : await window.callvault.api(method, request.url, request.body);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
    if (!answer.ok) {
      showError(host, problemText(answer));
      return;
    }
    const then = host.dataset.then || "reload";
    if (then === "show") {
      host.dispatchEvent(new CustomEvent("callvault:answer", { detail: answer.body, bubbles: true }));
      return;
    }
    sessionStorage.setItem(FLASH, host.dataset.done || messages.admin_saved);
    if (then === "reload") window.location.reload();
    else window.location.assign(then);
  }

  async function upload(method, url, form) {
    const csrf = document.querySelector('meta[name="csrf-token"]');
    const response = await fetch(url, {
      method, body: form, credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf ? csrf.content : "" },
    });
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    return { ok: response.ok, status: response.status, body };
  }

  function wire() {
    for (const form of document.querySelectorAll("form[data-api]")) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const multipart = form.querySelector('input[type="file"]');
        send(form, form.dataset.api, (url) => {
          if (!multipart) return collect(form, url);
          const filled = collect(form, url);
          return { url: filled.url, form: new FormData(form) };
        });
      });
    }
    for (const button of document.querySelectorAll("button[data-api]")) {
      if (button.form) continue;
      button.addEventListener("click", () => send(button, button.dataset.api, (url) => ({ url })));
    }
    const notice = sessionStorage.getItem(FLASH);
    const flash = document.getElementById("admin-notice");
    if (notice && flash) {
      flash.textContent = notice;
      flash.hidden = false;
    }
    sessionStorage.removeItem(FLASH);
  }

  window.callvault.admin = { collect, send, problemText };
  document.addEventListener("DOMContentLoaded", wire);
})();
