/* Cohort builder: live patient count and the save form's filters (no inline script: CSP). */
(function () {
  "use strict";
  var form = document.getElementById("cohort-builder");
  var output = document.getElementById("cohort-count");
  var saveFilters = document.getElementById("cohort-save-filters");
  if (!form || !output || !window.fetch) { return; }
  // The words come from the page (data-text-* on the form), in the reader's language.
  function text(name) { return form.getAttribute("data-text-" + name) || ""; }
  var timer = null;
  var latest = 0;

  function params() {
    var data = new FormData(form);
    var query = new URLSearchParams();
    data.forEach(function (value, key) {
      if (key !== "count" && String(value).trim() !== "") { query.append(key, value); }
    });
    return query;
  }

  function syncSaveForm(query) {
    if (!saveFilters) { return; }
    while (saveFilters.firstChild) { saveFilters.removeChild(saveFilters.firstChild); }
    query.forEach(function (value, key) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = key;
      input.value = value;
      saveFilters.appendChild(input);
    });
  }

  function update() {
    var query = params();
    var ticket = ++latest;
    fetch(form.dataset.countUrl + "?" + query.toString(), {
      headers: { "Accept": "application/json" }, credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      if (ticket !== latest) { return; }
      output.textContent = "";
      if (result.ok) {
        // "{count} matching patients.": the count (in bold) where the sentence puts it.
        var parts = text(result.body.count === 1 ? "one" : "many").split("{count}");
        var strong = document.createElement("strong");
        strong.textContent = String(result.body.count);
        if (parts[0]) { output.appendChild(document.createTextNode(parts[0])); }
        output.appendChild(strong);
        var rest = parts.slice(1).join("{count}");
        if (rest) { output.appendChild(document.createTextNode(rest)); }
        syncSaveForm(query);
      } else {
        var messages = Object.keys(result.body.errors || {}).map(function (key) {
          return result.body.errors[key];
        });
        output.textContent = messages.join(" ");
      }
    }).catch(function () {
      output.textContent = text("failed");
    });
  }

  form.addEventListener("change", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(update, 250);
  });
  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(update, 400);
  });
}());
