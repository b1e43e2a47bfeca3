/* Warning before an idle session ends (progressive enhancement).
 *
 * The page says how many seconds its session has left (data-seconds-left, from the idle
 * limit in data-idle-seconds and the absolute lifetime).  data-warn-seconds before the
 * end, a visible message is shown and announced (role="alert") with a "Stay signed in"
 * button; the button asks the server (data-keepalive-url, a cheap GET) to restart the
 * idle limit, and the countdown starts again from the seconds it answers.  When the time
 * is up the message says so: a form saved then is kept and given back after signing in.
 */
(function () {
  "use strict";
  var box = document.getElementById("session-expiry");
  var message = document.getElementById("session-expiry-message");
  var button = document.getElementById("session-expiry-stay");
  if (!box || !message || !button || !window.fetch) { return; }
  var warnSeconds = parseInt(box.getAttribute("data-warn-seconds"), 10) || 120;
  var url = box.getAttribute("data-keepalive-url");
  // The words come from the page (data-text-*), in the reader's language.
  function text(name) { return box.getAttribute("data-text-" + name) || ""; }
  var deadline = 0;
  var timer = null;

  function minutesText(seconds) {
    var minutes = Math.max(1, Math.round(seconds / 60));
    return minutes === 1 ? text("minute") : text("minutes").replace("{n}", minutes);
  }

  function say(text, warning) {
    message.textContent = text;
    box.classList.toggle("is-shown", text !== "");
    box.classList.toggle("is-warning", !!warning);
  }

  function ended() {
    button.hidden = true;
    say(text("ended"), true);
  }

  function warn() {
    var left = Math.round((deadline - Date.now()) / 1000);
    if (left <= 0) { ended(); return; }
    button.hidden = false;
    say(text("warning").replace("{minutes}", minutesText(left)), true);
    var active = document.activeElement;
    if (!active || active === document.body || active.tagName === "A") {
      button.focus();  // not while someone is typing into a form
    }
    timer = window.setTimeout(ended, left * 1000);
  }

  function schedule(secondsLeft) {
    window.clearTimeout(timer);
    deadline = Date.now() + secondsLeft * 1000;
    timer = window.setTimeout(warn, Math.max(0, secondsLeft - warnSeconds) * 1000);
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    window.fetch(url, { credentials: "same-origin", redirect: "manual",
                        headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("session ended"); }
        return response.json();
      })
      .then(function (data) {
        var left = parseInt(data.seconds_left, 10) || 0;
        button.hidden = true;
        if (left <= warnSeconds) {  // the absolute lifetime is reached
          say(text("limit"), true);
          window.clearTimeout(timer);
          timer = window.setTimeout(ended, left * 1000);
          return;
        }
        say(text("still"), false);
        window.setTimeout(function () {
          if (message.textContent === text("still")) { say("", false); }
        }, 5000);
        schedule(left);
      })
      .catch(ended)
      .then(function () { button.disabled = false; });
  });

  schedule(parseInt(box.getAttribute("data-seconds-left"), 10) || 0);
}());
