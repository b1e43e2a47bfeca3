/* The patient's pages: progressive enhancements only; everything works without them.
 *
 * - The 0-100 line (VAS): a slider (role="slider") kept in sync with the number box the
 *   page already has.  It starts UNMARKED: no thumb and no value until the patient touches
 *   the line or uses the keys (a preset mark would bias the answer).  Keys once focused:
 *   arrows (1), Page Up/Down (10), Home (minimum), End (maximum).
 * - "Skip this question" clears the question's answer; answering clears the skip.
 * - The "Send my answers" button is disabled after the first press (the server saves
 *   once anyway).
 * - After a refused save, focus moves to the summary of what needs attention.
 */
(function () {
  "use strict";

  function clamp(value, min, max) { return Math.min(max, Math.max(min, value)); }

  function buildSlider(slot) {
    var input = document.getElementById(slot.dataset.input);
    if (!input) { return; }
    var min = parseInt(slot.dataset.min, 10);
    var max = parseInt(slot.dataset.max, 10);
    var slider = document.createElement("div");
    slider.className = "sr-slider";
    slider.setAttribute("role", "slider");
    slider.setAttribute("tabindex", "0");
    slider.setAttribute("aria-labelledby", slot.dataset.label);
    slider.setAttribute("aria-valuemin", String(min));
    slider.setAttribute("aria-valuemax", String(max));
    slider.setAttribute("aria-orientation", "horizontal");
    var low = document.createElement("span");
    low.className = "sr-slider-end sr-min";
    var high = document.createElement("span");
    high.className = "sr-slider-end sr-max";
    var thumb = document.createElement("span");
    thumb.className = "sr-slider-thumb";
    thumb.hidden = true;
    slider.appendChild(low);
    slider.appendChild(high);
    slider.appendChild(thumb);
    var status = document.createElement("p");
    status.className = "sr-slider-status";
    status.setAttribute("aria-hidden", "true");
    slot.appendChild(slider);
    slot.appendChild(status);

    function valueText(value) {
      var text = String(value);
      if (value === min && slot.dataset.anchorMin) { text += " (" + slot.dataset.anchorMin + ")"; }
      if (value === max && slot.dataset.anchorMax) { text += " (" + slot.dataset.anchorMax + ")"; }
      return text;
    }

    function current() {
      var raw = input.value.trim();
      if (!/^\d+$/.test(raw)) { return null; }
      var value = parseInt(raw, 10);
      return value >= min && value <= max ? value : null;
    }

    function show(value) {
      if (value === null) {
        thumb.hidden = true;
        slider.removeAttribute("aria-valuenow");
        slider.setAttribute("aria-valuetext", slot.dataset.unmarked);
        status.textContent = slot.dataset.unmarked;
        return;
      }
      thumb.hidden = false;
      thumb.style.left = ((value - min) / (max - min) * 100) + "%";
      slider.setAttribute("aria-valuenow", String(value));
      slider.setAttribute("aria-valuetext", valueText(value));
      status.textContent = String(value);
    }

    function set(value) {
      input.value = String(value);
      input.dispatchEvent(new Event("input", { bubbles: true }));
    }

    function fromPointer(event) {
      var box = slider.getBoundingClientRect();
      var ratio = clamp((event.clientX - box.left) / box.width, 0, 1);
      set(Math.round(min + ratio * (max - min)));
    }

    slider.addEventListener("pointerdown", function (event) {
      slider.focus();
      slider.setPointerCapture(event.pointerId);
      fromPointer(event);
    });
    slider.addEventListener("pointermove", function (event) {
      if (slider.hasPointerCapture(event.pointerId)) { fromPointer(event); }
    });
    slider.addEventListener("keydown", function (event) {
      var value = current();
      var steps = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1, PageUp: 10, PageDown: -10 };
      if (event.key === "Home") { set(min); }
      else if (event.key === "End") { set(max); }
      else if (event.key in steps) {
        // Unmarked: the first press starts from the end the key moves away from.
        var start = value === null ? (steps[event.key] > 0 ? min : max) : value;
        set(clamp(start + steps[event.key], min, max));
      } else { return; }
      event.preventDefault();
    });
    input.addEventListener("input", function () { show(current()); });
    show(current());
  }

  function linkSkips() {
    document.querySelectorAll("input[data-skip-for]").forEach(function (skip) {
      var question = document.querySelector("[data-question='" + skip.dataset.skipFor + "']");
      if (!question) { return; }
      var answers = question.querySelectorAll("input[type=radio], input[type=number]");
      skip.addEventListener("change", function () {
        if (!skip.checked) { return; }
        answers.forEach(function (answer) {
          if (answer.type === "radio") { answer.checked = false; }
          else { answer.value = ""; answer.dispatchEvent(new Event("input", { bubbles: true })); }
        });
      });
      answers.forEach(function (answer) {
        answer.addEventListener(answer.type === "radio" ? "change" : "input", function () {
          if (answer.type === "radio" ? answer.checked : answer.value !== "") { skip.checked = false; }
        });
      });
    });
  }

  function submitOnce() {
    document.querySelectorAll("button[data-once]").forEach(function (button) {
      var form = button.form;
      if (!form) { return; }
      form.addEventListener("submit", function () {
        window.setTimeout(function () { button.disabled = true; }, 0);
      });
    });
  }

  document.querySelectorAll(".sr-slider-slot").forEach(buildSlider);
  linkSkips();
  submitOnce();
  var summary = document.getElementById("sr-error-summary");
  if (summary) { summary.focus(); }
}());
