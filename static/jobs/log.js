// The job log in the browser: follow the tail, keep the page small, resume where it stopped.
// A million-line log must not freeze the tab: the page holds at most MAX_LINES lines; older ones
// are dropped from the page (not from the log) and come back with "Load earlier lines".
(function () {
  "use strict";
  var MAX_LINES = 3000;
  var atBottom = true;

  function scroller() { return document.getElementById("log-scroll"); }

  function nearBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < 40; }

  // The page's button with this id, made on first use; `place(button)` puts a new one in the page.
  function buttonOnce(id, className, place) {
    var button = document.getElementById(id);
    if (!button) {
      button = document.createElement("button");
      button.type = "button";
      button.id = id;
      button.className = className;
      place(button);
    }
    return button;
  }

  function lastShownSeq(box) {
    var last = box && box.lastElementChild;
    return Number((last && last.getAttribute("data-seq")) || 0);
  }

  function trim(box) {
    var lines = box.querySelectorAll(":scope > .ln");
    var extra = lines.length - MAX_LINES;
    if (extra <= 0) return;
    for (var i = 0; i < extra; i++) lines[i].remove();
    var first = lines[extra].getAttribute("data-seq");
    // the page had the whole log; now it needs a way back to what was dropped
    var button = buttonOnce("log-earlier", "secondary earlier", function (made) {
      made.textContent = "Load earlier lines";
      made.setAttribute("hx-target", "this");
      made.setAttribute("hx-swap", "outerHTML");
      box.insertBefore(made, box.firstChild);
    });
    button.setAttribute("hx-get", box.dataset.logUrl + "?before=" + first);
    htmx.process(button);
  }

  // Someone scrolled up to read: new lines are held back rather than added (the page would grow
  // without bound during a busy job), counted on a button that reloads the page at the latest tail.
  // Once one line is held, all are (the button stays), so the page never shows a log with a gap.
  // The count is the event's last seq less the last seq on the page: an event carries many lines.
  function showHeld(held) {
    var button = buttonOnce("log-held", "held", function (made) {
      made.addEventListener("click", function () { window.location.reload(); });
      document.getElementById("job-log").appendChild(made);
    });
    button.textContent = held + " new line" + (held === 1 ? "" : "s") + " held while you read: show the latest";
  }

  document.addEventListener("htmx:sseBeforeMessage", function (evt) {
    var el = scroller();
    atBottom = !el || nearBottom(el);
    var box = evt.target;
    if (box && box.id === "log-lines" && (document.getElementById("log-held") || !atBottom)) {
      evt.preventDefault();
      showHeld(Number(evt.detail.lastEventId) - lastShownSeq(box));
    }
  });

  function afterLines(evt) {
    var box = document.getElementById("log-lines");
    if (!box) return;
    if (atBottom) trim(box); // someone reading older lines keeps them until they return to the tail
    var last = box.lastElementChild;
    var count = document.getElementById("log-count");
    if (last && count) count.textContent = last.getAttribute("data-seq");
    var el = scroller();
    if (el && atBottom) el.scrollTop = el.scrollHeight;
    // If htmx has to open a new EventSource (after an error) it reads sse-connect again:
    // keep the cursor there, so that it resumes after the last line instead of repeating.
    var source = document.querySelector("[sse-connect]");
    var id = evt && evt.detail && evt.detail.lastEventId;
    if (source && id) {
      source.setAttribute("sse-connect", source.getAttribute("sse-connect").replace(/after=\d*/, "after=" + id));
    }
  }

  document.addEventListener("htmx:sseMessage", afterLines);
  document.addEventListener("htmx:beforeSwap", function (evt) {
    if (evt.detail.target && evt.detail.target.id === "log-lines") {
      var el = scroller();
      atBottom = !el || nearBottom(el);
    }
  });
  document.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.detail.target && evt.detail.target.id === "log-lines") afterLines(null);
  });

  // Where server-sent events cannot get through (a buffering proxy), fall back to polling.
  var errors = 0;
  var opened = false;
  document.addEventListener("htmx:sseOpen", function () { opened = true; errors = 0; });
  document.addEventListener("htmx:sseError", function () {
    errors += 1;
    if (!opened && errors >= 3) {
      var url = new URL(window.location.href);
      url.searchParams.set("live", "poll");
      window.location.replace(url.toString());
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var el = scroller();
    if (el) el.scrollTop = el.scrollHeight;
  });
})();
