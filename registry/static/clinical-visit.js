/* Visit entry helpers (progressive enhancement; the form works without this file).
 * - A digit key in a focused answer group chooses the answer whose code is that digit,
 *   when the group has one (codes come from the instrument catalogue, as rendered), and
 *   moves to the next question.
 * - The count of missing items per instrument updates as answers are given.
 */
(function () {
  "use strict";
  var form = document.getElementById("visit-form");
  if (!form) { return; }
  var groups = Array.prototype.slice.call(form.querySelectorAll("fieldset.item"));
  var items = Array.prototype.slice.call(form.querySelectorAll("[data-item]"));

  function checkedRadio(group) {
    return group.querySelector("input[type=radio]:checked") ||
      group.querySelector("input[type=radio]");
  }

  function isMissing(item) {
    var chosen = item.querySelector("input[type=radio]:checked");
    if (chosen) { return chosen.value === ""; }
    var typed = item.querySelector("input:not([type=radio])");
    return !typed || typed.value.trim() === "";
  }

  function updateCounts() {
    var counts = {};
    items.forEach(function (item) {
      var section = item.closest("section.instrument");
      var code = section ? section.getAttribute("data-instrument") : "";
      counts[code] = (counts[code] || 0) + (isMissing(item) ? 1 : 0);
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
    if (!/^[0-9]$/.test(event.key)) { return; }
    var target = event.target;
    if (!target || target.type !== "radio") { return; }
    var group = target.closest("fieldset.item");
    if (!group) { return; }
    var option = Array.prototype.find.call(
      group.querySelectorAll("input[type=radio]"),
      function (radio) { return radio.value === event.key; });
    if (!option) { return; }
    event.preventDefault();
    option.checked = true;
    option.dispatchEvent(new Event("change", { bubbles: true }));
    var next = groups[groups.indexOf(group) + 1];
    if (next) { checkedRadio(next).focus(); }
  });
  form.addEventListener("change", updateCounts);
  form.addEventListener("input", updateCounts);
  updateCounts();
}());
