/* Visit entry helpers (progressive enhancement; the form works without this file).
 * - Keys 0-4 in a focused answer group choose that answer and move to the next question.
 * - The count of missing items per instrument updates as answers are chosen.
 */
(function () {
  "use strict";
  var form = document.getElementById("visit-form");
  if (!form) { return; }
  var groups = Array.prototype.slice.call(form.querySelectorAll("fieldset.item"));

  function checkedRadio(group) {
    return group.querySelector("input[type=radio]:checked") ||
      group.querySelector("input[type=radio]");
  }

  function updateCounts() {
    var counts = {};
    groups.forEach(function (group) {
      var section = group.closest("section.instrument");
      var code = section ? section.getAttribute("data-instrument") : "";
      var chosen = group.querySelector("input[type=radio]:checked");
      counts[code] = (counts[code] || 0) + (!chosen || chosen.value === "" ? 1 : 0);
    });
    Array.prototype.forEach.call(document.querySelectorAll(".missing[data-instrument]"),
      function (span) {
        var code = span.getAttribute("data-instrument");
        var strong = span.querySelector("strong");
        if (strong && Object.prototype.hasOwnProperty.call(counts, code)) {
          strong.textContent = String(counts[code]);
        }
      });
  }

  form.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    if (!/^[0-4]$/.test(event.key)) { return; }
    var target = event.target;
    if (!target || target.type !== "radio") { return; }
    var group = target.closest("fieldset.item");
    if (!group) { return; }
    var option = group.querySelector("input[type=radio][value='" + event.key + "']");
    if (!option) { return; }
    event.preventDefault();
    option.checked = true;
    option.dispatchEvent(new Event("change", { bubbles: true }));
    var next = groups[groups.indexOf(group) + 1];
    if (next) { checkedRadio(next).focus(); }
  });
  form.addEventListener("change", updateCounts);
  updateCounts();
}());
