// Keeps the bell's unread count current on every page: every few seconds it asks the
// portal for the count and updates the badge, and tells screen readers (politely) when
// new notifications arrived. The requests say they are automatic (X-Portal-Live), so they
// do not keep an idle session alive; once the session has ended the bell stops asking
// (the page itself is left alone: someone may be typing in it).
(function () {
  "use strict";
  var bell = document.getElementById("notifications-bell");
  var news = document.getElementById("bell-news");
  if (!bell || !bell.getAttribute("data-unread-url")) return;
  var seconds = Math.max(1, Number(bell.getAttribute("data-every")) || 15);
  var busy = false;
  var timer = null;

  function shown() {
    var count = bell.querySelector(".count");
    return count ? Number(count.textContent) || 0 : 0;
  }

  function show(unread) {
    var before = shown();
    if (unread === before) return;
    bell.querySelectorAll(".count, .count + .visually-hidden").forEach(function (old) {
      old.remove();
    });
    if (unread > 0) {
      var count = document.createElement("span");
      count.className = "count";
      count.textContent = String(unread);
      var words = document.createElement("span");
      words.className = "visually-hidden";
      words.textContent = " unread";
      bell.append(" ", count, words);
    }
    if (news && unread > before) {
      news.textContent = unread === 1 ? "1 unread notification" : unread + " unread notifications";
    }
  }

  function ask() {
    if (busy || document.hidden) return;
    busy = true;
    var options = { headers: { "X-Portal-Live": "1" }, credentials: "same-origin", redirect: "manual" };
    fetch(bell.getAttribute("data-unread-url"), options)
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 403) {
          window.clearInterval(timer);
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (data) { if (data && typeof data.unread === "number") show(data.unread); })
      .catch(function () { /* offline for a moment: the next tick asks again */ })
      .then(function () { busy = false; });
  }

  timer = window.setInterval(ask, seconds * 1000);
  document.addEventListener("visibilitychange", ask);
})();
