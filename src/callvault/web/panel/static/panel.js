/* The panel's shared script: the REST API with the session's CSRF token, messages, filters. */
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]');

  /** Call the REST API; resolves to {ok, status, body}. Unsafe methods carry X-CSRF-Token. */
  async function api(method, url, body) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrf ? csrf.content : "";
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (e) { data = null; }
    }
    return { ok: response.ok, status: response.status, body: data };
  }

  /** A readable message for an API error, in the page's language. */
  function errorText(messages, answer) {
    const code = answer.body && answer.body.error;
    const known = code && messages["error_" + code];
    if (known) return known;
    if (answer.status === 401) return messages.error_unauthorized;
    if (answer.status === 403) return messages.error_forbidden;
    if (answer.status === 404) return messages.error_not_found;
    const detail = answer.body && answer.body.message ? " (" + answer.body.message + ")" : "";
    return messages.error_generic + detail;
  }

  /** The custom date range is shown only with the "custom" period (always without scripts). */
  function customRange() {
    const range = document.querySelector("[data-custom-range]");
    if (!range) return;
    const radios = document.querySelectorAll('input[name="period"]');
    const update = () => {
      const custom = document.getElementById("period-custom");
      range.hidden = !(custom && custom.checked);
    };
    radios.forEach((radio) => radio.addEventListener("change", update));
    ["date_from", "date_to"].forEach((id) => {
      const input = document.getElementById(id);
      if (input) input.addEventListener("change", () => {
        const custom = document.getElementById("period-custom");
        if (custom && input.value) custom.checked = true;
      });
    });
    update();
  }

  /** ``text`` with its {name} placeholders filled from ``params`` (unknown ones kept). */
  function format(text, params) {
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
  }

  /** A new element with a class and text (never HTML). */
  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  window.callvault = { api, errorText, format, element };
  document.addEventListener("DOMContentLoaded", customRange);
})();
