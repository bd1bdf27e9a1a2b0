// Client-side checks mirror the server's (which remain the authority); messages sit next to their field.
"use strict";
(function () {
  const form = document.getElementById("dnc-form");
  const textFields = ["first_name", "middle_name", "last_name", "phone", "email"];
  // The HTML standard's valid e-mail address (what input type=email accepts).
  const emailPattern = /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
  const controlChars = /[\u0000-\u001f\u007f-\u009f]/;

  function setError(field, message) {
    const input = document.getElementById(field);
    const slot = document.getElementById(field + "-error") || document.getElementById("form-error");
    slot.textContent = message || "";
    if (input) input.setAttribute("aria-invalid", message ? "true" : "false");
  }

  function checkName(value, required) {
    const nfc = value.normalize("NFC");
    if (nfc.trim().length === 0) return required ? "Required." : "";
    if (controlChars.test(nfc)) return "Must not contain control characters.";
    if ([...nfc].length > 100) return "Must be 1 to 100 characters.";
    return "";
  }

  function checkPhone(value) {
    const trimmed = value.trim();
    if (trimmed.length === 0) return "Required.";
    const digits = trimmed.replace(/[\s().-]/g, "");
    return /^\+[1-9][0-9]{6,14}$/.test(digits) ? "" : "Must be an international number in E.164 form, e.g. +15551234567.";
  }

  function checkEmail(value) {
    if (value.length === 0) return "Required.";
    return value.length <= 254 && emailPattern.test(value) ? "" : "Must be a valid e-mail address.";
  }

  function validate() {
    const values = Object.fromEntries(textFields.map(f => [f, document.getElementById(f).value]));
    const errors = {
      first_name: checkName(values.first_name, true),
      middle_name: checkName(values.middle_name, false),
      last_name: checkName(values.last_name, true),
      phone: checkPhone(values.phone),
      email: checkEmail(values.email),
    };
    textFields.forEach(f => setError(f, errors[f]));
    return Object.values(errors).every(e => e === "");
  }

  form.addEventListener("submit", async event => {
    event.preventDefault();
    setError("form", "");
    if (!validate()) {
      const first = form.querySelector("[aria-invalid=true]");
      if (first) first.focus();
      return;
    }
    const middle = document.getElementById("middle_name").value;
    const body = {
      first_name: document.getElementById("first_name").value,
      middle_name: middle.trim().length === 0 ? null : middle,
      last_name: document.getElementById("last_name").value,
      phone: document.getElementById("phone").value.trim(),
      email: document.getElementById("email").value,
      phone_dnc: document.getElementById("phone_dnc").checked,
      email_dnc: document.getElementById("email_dnc").checked,
    };
    const button = document.getElementById("submit");
    button.disabled = true;
    try {
      const response = await fetch("/api/dnc", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      if (response.status === 201) {
        form.reset();
        form.hidden = true;
        const confirmation = document.getElementById("confirmation");
        confirmation.hidden = false;
        confirmation.focus();
        return;
      }
      const problem = await response.json().catch(() => ({}));
      if (response.status === 400 && problem.errors) {
        for (const [field, messages] of Object.entries(problem.errors)) setError(textFields.includes(field) ? field : "form", messages.join(" "));
      } else if (response.status === 429) {
        setError("form", "Too many submissions from your network; please wait a moment and try again.");
      } else {
        setError("form", "Your preferences could not be saved; please try again later.");
      }
    } catch {
      setError("form", "Your preferences could not be saved; please try again later.");
    } finally {
      button.disabled = false;
    }
  });
})();
