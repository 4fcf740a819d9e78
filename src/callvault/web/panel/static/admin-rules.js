/* /admin/rules: the dry run's answer (the decision, then each rule: matched or not, and why),
   and the "Edit" links opening their rule's form. */
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const messages = JSON.parse(document.getElementById("admin-data").textContent).messages;

  const { format, element } = window.callvault;

  /** "Recorded by rule X: stereo, opus, kept 90 days, announcement Y" or why not. */
  function verdict(answer) {
    if (!answer.rule) return messages.rules_no_match;
    if (!answer.record) return format(messages.rules_not_record, { rule: answer.rule });
    const how = answer.decision || {};
    const parts = [format(messages.rules_summary, {
      mode: messages["rules_mode_" + how.mode] || how.mode,
      format: how.format,
      days: how.retention_days,
    })];
    if (how.announcement) parts.push(format(messages.rules_announcement, { name: how.announcement }));
    return format(messages.rules_record, { rule: answer.rule }) + ": " + parts.join(", ");
  }

  function explanation(checks) {
    const list = document.getElementById("dry-run-explanation");
    list.replaceChildren();
    if (!checks.length) {
      list.appendChild(element("li", "skipped", messages.rules_no_rules));
      return;
    }
    for (const check of checks) {
      const state = check.matched ? "matched" : check.evaluated === false ? "skipped" : "not-matched";
      const item = element("li", state);
      item.dataset.rule = check.name;
      item.appendChild(element("strong", "", check.name));
      const label = check.matched ? messages.rules_matched
        : check.evaluated === false ? messages.rules_skipped : messages.rules_not_matched;
      item.appendChild(document.createTextNode(": " + label));
      const reasons = element("ul");
      for (const reason of check.reasons || []) reasons.appendChild(element("li", "", reason));
      item.appendChild(reasons);
      list.appendChild(item);
    }
  }

  const form = document.getElementById("dry-run");
  form.addEventListener("callvault:answer", (event) => {
    const answer = event.detail;
    const decision = document.getElementById("dry-run-decision");
    decision.textContent = verdict(answer);
    decision.className = answer.record ? "verdict record" : "verdict no-record";
    explanation(answer.explanation || []);
    document.getElementById("dry-run-result").hidden = false;
  });

  function open(id) {
    const target = document.getElementById(id);
    if (target && target.tagName === "DETAILS") {
      target.open = true;
      const first = target.querySelector("input:not([type=hidden])");
      if (first) first.focus();
    }
  }
  for (const link of document.querySelectorAll("a[data-open]")) {
    link.addEventListener("click", () => open(link.dataset.open));
  }
  if (window.location.hash) open(window.location.hash.slice(1));
});
