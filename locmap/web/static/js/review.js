// Review form: say what the chosen decision needs (no inline JS: the CSP forbids it).
(function () {
  "use strict";
  var form = document.getElementById("review-form");
  if (!form) { return; }
  var hint = document.getElementById("review-hint");
  var comment = document.getElementById("review-comment");
  var texts = {
    comment: "A comment needs text. It does not change the decision.",
    request_changes: "Say what should change; the practitioner will make a new version.",
    approve: "An approval may have no comment. Approved versions can no longer change."
  };
  function chosen() {
    var r = form.querySelector("input[name=decision]:checked");
    return r ? r.value : "comment";
  }
  function update() {
    var d = chosen();
    hint.textContent = texts[d] || "";
    comment.required = d !== "approve";
  }
  form.addEventListener("change", update);
  update();
})();
