/* /admin/users: the data scope fields of a user form become the API's nested data_scope.

   A form[data-scope] holds a kind select [data-scope-kind], the team's object
   logins [data-scope-objects] and the numbers [data-scope-numbers] (fields
   without a name, so admin.js does not send them), and a hidden
   <input name="data_scope" data-type="json"> that this script keeps as
   {"kind", "objects", "numbers"} -- or empty (left out: the role's default)
   when no kind is chosen.  Only the fields the kind uses are shown.  A
   button[data-edit] shows or hides the user's edit row (the id it names). */
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const words = (input) => input.value.split(/[\n,;]/).map((s) => s.trim()).filter(Boolean);
  for (const form of document.querySelectorAll("form[data-scope]")) {
    const kind = form.querySelector("[data-scope-kind]");
    const objects = form.querySelector("[data-scope-objects]");
    const numbers = form.querySelector("[data-scope-numbers]");
    const target = form.querySelector('input[name="data_scope"]');
    const update = () => {
      const chosen = kind.value;
      for (const part of form.querySelectorAll("[data-scope-part]")) {
        part.hidden = part.dataset.scopePart !== chosen;
      }
      target.value = chosen
        ? JSON.stringify({
          kind: chosen,
          objects: chosen === "team" ? words(objects) : [],
          numbers: chosen === "numbers" ? words(numbers) : [],
        })
        : "";
    };
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
  }
  for (const button of document.querySelectorAll("button[data-edit]")) {
    const row = document.getElementById(button.dataset.edit);
    button.addEventListener("click", () => {
      row.hidden = !row.hidden;
      button.setAttribute("aria-expanded", String(!row.hidden));
      if (!row.hidden) row.querySelector("input, select").focus();
    });
  }
});
