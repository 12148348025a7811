// Progressive enhancement for the console: every page works without this file.
// No inline scripts anywhere (the Content-Security-Policy forbids them); behaviour hangs off
// data-* attributes instead.
"use strict";

document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", function () {
  // The navigation collapses behind a Menu button on narrow screens.
  var toggle = document.querySelector(".nav-toggle");
  var nav = document.getElementById("site-nav");
  if (toggle && nav) {
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") === "true";
      toggle.setAttribute("aria-expanded", open ? "false" : "true");
      nav.classList.toggle("open", !open);
    });
  }

  // Forms that delete something ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });

  // Copy buttons: data-copy names the input whose value is copied.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source) { return; }
      var text = source.value !== undefined ? source.value : source.textContent;
      if (navigator.clipboard) {
        navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; });
      } else {
        source.select();
        document.execCommand("copy");
        button.textContent = "Copied";
      }
    });
  });

  // Single sign-on: the SSO callback page left the session token in localStorage (where
  // Fleet's own UI reads it); hand it to the server, which puts it in the session cookie.
  var sso = document.querySelector("form[data-sso-complete]");
  if (sso) {
    var key = "FLEET::auth_token";
    var token = window.localStorage.getItem(key) || "";
    window.localStorage.removeItem(key);
    sso.querySelector("input[name=token]").value = token;
    sso.submit();
  }
});
