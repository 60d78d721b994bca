// The customer page's sections as ARIA tabs. Without JavaScript they are links (?tab=)
// and the server shows the chosen section; with it, the sections switch in place, the
// arrow keys, Home and End move between tabs, and the address keeps the chosen tab so a
// reload (and the live refresh, which fetches this address) shows the same one.
(function () {
  "use strict";
  var list = document.querySelector("[data-tabs]");
  if (!list) return;
  var tabs = Array.prototype.slice.call(list.querySelectorAll("a[aria-controls]"));
  list.setAttribute("role", "tablist");
  list.querySelectorAll("li").forEach(function (item) { item.setAttribute("role", "presentation"); });

  function panelOf(tab) { return document.getElementById(tab.getAttribute("aria-controls")); }

  function select(tab, focus) {
    tabs.forEach(function (other) {
      var chosen = other === tab;
      other.setAttribute("aria-selected", chosen ? "true" : "false");
      other.setAttribute("tabindex", chosen ? "0" : "-1");
      other.removeAttribute("aria-current");
      panelOf(other).hidden = !chosen;
    });
    if (focus) tab.focus();
    var url = new URL(window.location.href);
    url.searchParams.set("tab", tab.id.replace(/^tab-/, ""));
    url.hash = "";
    window.history.replaceState(null, "", url.toString());
  }

  tabs.forEach(function (tab) {
    tab.setAttribute("role", "tab");
    var panel = panelOf(tab);
    panel.setAttribute("role", "tabpanel");
    panel.setAttribute("tabindex", "0");
    tab.addEventListener("click", function (event) {
      event.preventDefault();
      select(tab, true);
    });
  });
  list.addEventListener("keydown", function (event) {
    var index = tabs.indexOf(document.activeElement);
    if (index < 0) return;
    var next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    select(tabs[(next + tabs.length) % tabs.length], true);
  });
  // Links elsewhere on the page that lead to a section ("Edit details", "Open requests").
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-tab]");
    if (!link) return;
    var tab = document.getElementById("tab-" + link.getAttribute("data-tab"));
    if (!tab) return;
    event.preventDefault();
    select(tab, false);
    var target = link.hash && document.getElementById(link.hash.slice(1));
    (target || panelOf(tab)).scrollIntoView();
    var focusable = target && target.querySelector("input:not([type=hidden]), select, textarea");
    (focusable || tab).focus();
  });
  var current = tabs.filter(function (tab) { return !panelOf(tab).hidden; })[0] || tabs[0];
  tabs.forEach(function (tab) {
    tab.setAttribute("aria-selected", tab === current ? "true" : "false");
    tab.setAttribute("tabindex", tab === current ? "0" : "-1");
  });
})();
