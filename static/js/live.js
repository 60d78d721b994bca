// Keeps the regions marked data-live (with an id) current without a reload: every few
// seconds it fetches this same page and swaps in each region's new content (My customers,
// and a customer's page while it waits on BVNK). A region with a form the person has typed
// into, or whose field has the focus, is never replaced: what they typed matters more than
// what changed. A region whose link or button has the focus is replaced all the same (a
// page must not show an old state because someone clicked in it), and the focus goes to
// the same link or button in the new content, or to the region itself. A message that
// described a region's state (data-describes-state names the region) goes once its state
// (data-state) moves, and a form offered in that state gives way to its note. The fetches say so in
// a header, so they do not count as activity for the idle logout; once the session has
// ended, the page reloads (to the login page) instead of going on showing customers.
(function () {
  "use strict";
  var regions = document.querySelectorAll("[data-live][id]");
  if (!regions.length) return;
  var seconds = Math.max(1, Number(regions[0].getAttribute("data-live")) || 15);
  var busy = false;
  var timer = null;
  var edited = new Set();
  document.addEventListener("input", function (event) {
    var region = event.target.closest && event.target.closest("[data-live][id]");
    if (region) edited.add(region);
  });

  function typing(element) {
    return /^(INPUT|SELECT|TEXTAREA)$/.test(element.tagName) || element.isContentEditable;
  }

  function focusKey(element) {
    if (element.id) return "#" + element.id;
    return (element.getAttribute("href") || element.getAttribute("formaction") || "") +
      "|" + (element.textContent || "").trim();
  }

  function refocus(region, key) {
    var candidates = region.querySelectorAll("a, button, [tabindex]");
    for (var i = 0; i < candidates.length; i++) {
      if (focusKey(candidates[i]) === key) { candidates[i].focus(); return; }
    }
    region.setAttribute("tabindex", "-1");
    region.focus();
  }

  // What described a region's state is out of date once it moved: a message ("Submitted",
  // "USDC wallet requested") goes; a form offered in that state (data-stale) is replaced
  // by its note saying why.
  function outdate(id) {
    document.querySelectorAll("[data-describes-state]").forEach(function (element) {
      if (element.getAttribute("data-describes-state") !== id) return;
      var stale = element.getAttribute("data-stale");
      if (!stale) { element.remove(); return; }
      element.removeAttribute("data-describes-state");
      var note = document.createElement("p");
      note.className = "notice";
      note.textContent = stale;
      element.replaceChildren(note);
    });
  }

  // A region the new page no longer marks live (the customer's wait is over) gets its
  // last content and is left alone from then on; with none left, the refreshing stops.
  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    document.querySelectorAll("[data-live][id]").forEach(function (region) {
      var update = fresh.getElementById(region.id);
      var active = document.activeElement;
      var holds = active && active !== document.body && region.contains(active);
      if (!update || edited.has(region) || (holds && typing(active))) return;
      if (update.innerHTML !== region.innerHTML) {
        var key = holds ? focusKey(active) : null;
        // The region's data-state names its state (a status, say); without one, any
        // change counts. A clock in the region ("for 2 min") is no change of state.
        var moved = update.getAttribute("data-state") !== region.getAttribute("data-state") ||
          !region.hasAttribute("data-state");
        region.innerHTML = update.innerHTML;
        if (update.hasAttribute("data-state")) region.setAttribute("data-state", update.getAttribute("data-state"));
        if (key !== null) refocus(region, key);
        if (moved) outdate(region.id);
      }
      if (!update.hasAttribute("data-live")) region.removeAttribute("data-live");
    });
    if (!document.querySelector("[data-live][id]")) window.clearInterval(timer);
  }

  function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    // A redirect means the session ended: reload, so the login page (and its message
    // saying why) replaces this one.
    var options = { headers: { "X-Portal-Live": "1" }, credentials: "same-origin", redirect: "manual" };
    fetch(window.location.href, options)
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 403) {
          window.location.reload();
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) { if (html) swap(html); })
      .catch(function () { /* offline for a moment: the next tick tries again */ })
      .then(function () { busy = false; });
  }

  timer = window.setInterval(refresh, seconds * 1000);
  document.addEventListener("visibilitychange", refresh);
})();
