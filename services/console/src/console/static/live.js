// The console's live pages (issue 40): told by the server that what this page shows changed, it reads itself
// again and puts the new content in place, unless the officer has started typing into one of its forms; then it
// says so and leaves the page as it is. Without this script every page still works: it is read again by hand.
(function () {
  "use strict";
  var body = document.body;
  var watch = body.getAttribute("data-watch");
  if (!watch || !window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  var status = document.getElementById("live-status");
  var typed = false;
  var source = null;
  var reading = false;
  var again = false;

  document.addEventListener("input", function () { typed = true; });
  document.addEventListener("change", function () { typed = true; });

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function listen(since) {
    if (source) {
      source.close();
    }
    var address = body.getAttribute("data-live") + "?watch=" + encodeURIComponent(watch) + "&since=" + since;
    source = new EventSource(address);
    source.addEventListener("changed", read);
  }

  function read() {
    if (typed) {
      say("This page has changed since you opened it. Reload it to see the latest (what you typed is kept until then).");
      return;
    }
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) { return answer.ok && !answer.redirected ? answer.text() : null; })
      .then(function (text) {
        if (text === null || typed) {
          return;
        }
        var page = new DOMParser().parseFromString(text, "text/html");
        var fresh = page.getElementById("main");
        var main = document.getElementById("main");
        if (!fresh || !main) {
          return;
        }
        main.replaceWith(fresh);
        document.title = page.title;
        say("Updated " + new Date().toLocaleTimeString() + ".");
        listen(page.body.getAttribute("data-since") || "0");
      })
      .catch(function () { say("This page could not be brought up to date: reload it."); })
      .finally(function () {
        reading = false;
        if (again) {
          again = false;
          read();
        }
      });
  }

  listen(body.getAttribute("data-since") || "0");
}());
