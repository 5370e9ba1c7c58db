// gocart serve's one script: live updates. Pages work without it; with it, a
// directory that completes appears in the list (its row rendered and escaped
// by the server) and the title says so; an event's page reloads.
(function () {
  "use strict";
  var page = document.body.getAttribute("data-live");
  if (!page || !window.EventSource) {
    return;
  }
  var source = new EventSource("/live");
  // Says on the page that updates will come (tests wait for it, people may look).
  source.addEventListener("hello", function () {
    document.body.setAttribute("data-live-state", "connected");
  });
  source.addEventListener("alert", function (message) {
    var notice = JSON.parse(message.data);
    if (page === "list") {
      if (document.getElementById("row-" + notice.dir)) {
        return;
      }
      var holder = document.createElement("tbody");
      holder.innerHTML = notice.row;
      var row = holder.firstElementChild;
      if (!row) {
        return;
      }
      row.classList.add("new");
      var rows = document.getElementById("alerts");
      rows.insertBefore(row, rows.firstChild);
      var empty = document.getElementById("no-alerts");
      if (empty) {
        empty.parentNode.removeChild(empty);
      }
      var count = document.querySelector("h1 .count");
      if (count) {
        count.textContent = "(" + rows.children.length + ")";
      }
      document.title = "new: " + notice.event + " " + notice.type + " - gocart";
    } else if (page === "event:" + notice.event) {
      window.location.reload();
    }
  });
})();
