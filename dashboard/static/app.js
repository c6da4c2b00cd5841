// Cortex Bridge dashboard: small conveniences on top of pages that work without JavaScript.
(function () {
  "use strict";

  // "Set my own" secret: show the secret field only when that choice is selected.
  function syncSecret() {
    var field = document.getElementById("secret-field");
    if (!field) return;
    var set = document.querySelector('input[name="secret_mode"][value="set"]');
    var on = set && set.checked;
    field.hidden = !on;
    var input = document.getElementById("secret");
    if (input) input.disabled = !on;
  }
  document.querySelectorAll('input[name="secret_mode"]').forEach(function (r) {
    r.addEventListener("change", function () {
      syncSecret();
      if (r.value === "set" && r.checked) document.getElementById("secret").focus();
    });
  });
  syncSecret();

  // Copy buttons: copy the named field's value and say so.
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    if (!navigator.clipboard) return;
    b.hidden = false;
    b.addEventListener("click", function () {
      var input = document.getElementById(b.getAttribute("data-copy"));
      var status = document.querySelector(".copied");
      navigator.clipboard.writeText(input.value).then(function () {
        if (status) status.textContent = "Copied to the clipboard.";
      }, function () {
        input.select();
        if (status) status.textContent = "Select the text and copy it (Ctrl+C or ⌘C).";
      });
    });
  });

  // Move focus to an error summary so screen readers announce it.
  var problems = document.getElementById("problems");
  if (problems) problems.focus();
})();
