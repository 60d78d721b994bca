// Sends a form marked data-autosubmit once the page has loaded: the page a GET lands on
// (a redirect from BVNK's hosted page) changes nothing; the POST it makes does.
// Without JavaScript the form's button does the same.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosubmit]");
  if (form && !form.dataset.sent) {
    form.dataset.sent = "1";
    form.submit();
  }
})();
