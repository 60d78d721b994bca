// Each document slot of a form marked data-drop-slots takes a file dropped anywhere on it,
// not only on its small file field: the file goes into that slot's field, exactly as if
// it had been chosen there, and the slot's note (.drop-note) says which file it now holds.
// The listeners sit on the document, so a slot the live refresh (live.js) rendered anew
// works the same. File fields and the keyboard work as before; without JavaScript
// nothing changes.
(function () {
  "use strict";

  function slotOf(event) {
    var slot = event.target.closest && event.target.closest("form[data-drop-slots] .slot");
    return slot && slot.querySelector("input[type=file]") ? slot : null;
  }

  function carries(event) {
    return event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") !== -1;
  }

  document.addEventListener("dragover", function (event) {
    var slot = slotOf(event);
    if (!slot || !carries(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    slot.classList.add("drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    var slot = slotOf(event);
    if (slot && !slot.contains(event.relatedTarget)) slot.classList.remove("drop-target");
  });

  document.addEventListener("drop", function (event) {
    var slot = slotOf(event);
    if (!slot) return;
    slot.classList.remove("drop-target");
    if (!carries(event) || !event.dataTransfer.files.length) return;
    event.preventDefault();
    var input = slot.querySelector("input[type=file]");
    var files = new DataTransfer();
    var limit = input.multiple ? event.dataTransfer.files.length : 1;
    for (var i = 0; i < limit; i++) files.items.add(event.dataTransfer.files[i]);
    input.files = files.files;
    // As a file chosen in the field would: "input" also tells live.js not to replace
    // what the person is filling in.
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("form[data-drop-slots] .slot input[type=file]")) return;
    var note = input.closest(".slot").querySelector(".drop-note");
    if (!note) return;
    var names = Array.prototype.map.call(input.files || [], function (file) { return file.name; });
    note.textContent = names.length ? "Chosen: " + names.join(", ") : "";
  });
})();
