// Copy buttons beside values (a wallet's account details): each copies the text of the
// element its data-copy names and says so in the page's status line. The buttons stay
// hidden without JavaScript or a clipboard, where selecting the text is the way.
(function () {
  "use strict";
  if (!navigator.clipboard) return;
  var status = document.querySelector("[data-copy-status]");
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) return;
      var label = button.textContent.replace(/^Copy\s*/, "");
      navigator.clipboard.writeText(source.textContent.trim()).then(
        function () { if (status) status.textContent = "Copied" + (label ? ": " + label : "") + "."; },
        function () { if (status) status.textContent = "Could not copy; select the text instead."; }
      );
    });
  });
})();
