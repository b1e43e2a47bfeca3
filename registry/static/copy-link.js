// "Copy link" buttons: copy the text of the input named by data-copy-target to the
// clipboard and say so in the live region the input is described by.  Without scripts
// the buttons stay hidden and the read-only field can be selected and copied by hand.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy-target]").forEach(function (button) {
    var input = document.getElementById(button.getAttribute("data-copy-target"));
    if (!input) { return; }
    var status = document.getElementById(input.getAttribute("aria-describedby"));
    // The words come from the page (data-text-* on the button), in the reader's language.
    var text = function (name) { return button.getAttribute("data-text-" + name) || ""; };
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function () { if (status) { status.textContent = text("copied"); } };
      input.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () {
          if (status) { status.textContent = text("by-hand"); }
        });
      } else if (document.execCommand("copy")) {
        done();
      }
    });
  });
})();
