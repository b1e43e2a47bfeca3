/* Enrolment: show the "outside the usual indication" warning as soon as the KL grade or a
 * checklist answer makes it apply (the server checks it again and requires the justification).
 */
(function () {
  "use strict";
  var form = document.getElementById("enrol-form");
  var panel = document.getElementById("indication-live");
  if (!form || !panel) { return; }
  var usualGrades = ["2", "3"];

  function outside() {
    var grade = form.querySelector("#kl_grade");
    if (grade && grade.value.trim() !== "" && usualGrades.indexOf(grade.value.trim()) < 0) {
      return true;
    }
    var groups = form.querySelectorAll("fieldset[data-expected]");
    for (var i = 0; i < groups.length; i += 1) {
      var chosen = groups[i].querySelector("input[type=radio]:checked");
      if (chosen && chosen.value !== groups[i].getAttribute("data-expected")) { return true; }
    }
    return false;
  }

  function update() { panel.hidden = !outside(); }
  form.addEventListener("change", update);
  form.addEventListener("input", update);
  update();
}());
