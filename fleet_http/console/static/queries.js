// SQL editing for the query and live query pages: syntax highlighting behind the textarea
// (a <pre> the textarea's transparent text sits on) and a platform compatibility note from the
// osquery tables the SQL names. No library, no innerHTML: every token is a text node.
"use strict";

(function () {
  var KEYWORDS = ("select from where and or not in is null like glob regexp join left right inner outer cross on " +
    "using as group by order having limit offset union all distinct case when then else end asc desc " +
    "exists between with values insert update delete create table view index cast collate").split(" ");
  var KEYWORD_SET = {};
  KEYWORDS.forEach(function (word) { KEYWORD_SET[word] = true; });
  // Tables that exist on some platforms only (osquery's schema); anything else runs everywhere.
  var TABLE_PLATFORMS = {
    apps: ["darwin"], launchd: ["darwin"], keychain_items: ["darwin"], plist: ["darwin"],
    alf: ["darwin"], disk_encryption: ["darwin", "linux"], homebrew_packages: ["darwin", "linux"],
    deb_packages: ["linux"], rpm_packages: ["linux"], apt_sources: ["linux"], yum_sources: ["linux"],
    iptables: ["linux"], kernel_modules: ["linux"], systemd_units: ["linux"], selinux_settings: ["linux"],
    programs: ["windows"], registry: ["windows"], services: ["windows"], windows_security_center: ["windows"],
    bitlocker_info: ["windows"], patches: ["windows"], wmi_cli_event_consumers: ["windows"],
    chrome_extensions: ["darwin", "windows", "linux", "chrome"],
    python_packages: ["darwin", "windows", "linux"]
  };
  var NAMES = { darwin: "macOS", windows: "Windows", linux: "Linux", chrome: "ChromeOS" };
  var TOKEN = /(--[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|('(?:[^']|'')*'?|"(?:[^"]|"")*"?)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)|([\s\S])/g;

  function highlight(code, sql) {
    while (code.firstChild) { code.removeChild(code.firstChild); }
    var match;
    TOKEN.lastIndex = 0;
    while ((match = TOKEN.exec(sql)) !== null) {
      var kind = match[1] ? "comment" : match[2] ? "string" : match[3] ? "number" :
        (match[4] && KEYWORD_SET[match[4].toLowerCase()]) ? "keyword" : "";
      if (kind) {
        var span = document.createElement("span");
        span.className = "sql-" + kind;
        span.textContent = match[0];
        code.appendChild(span);
      } else {
        code.appendChild(document.createTextNode(match[0]));
      }
    }
    // A trailing newline needs a character after it to take up a line in the <pre>.
    code.appendChild(document.createTextNode("\n"));
  }

  function compatibility(sql) {
    var platforms = ["darwin", "windows", "linux", "chrome"];
    var tables = /\b(?:from|join)\s+([A-Za-z_][A-Za-z0-9_]*)/gi;
    var match;
    var named = false;
    while ((match = tables.exec(sql)) !== null) {
      named = true;
      var only = TABLE_PLATFORMS[match[1].toLowerCase()];
      if (only) {
        platforms = platforms.filter(function (p) { return only.indexOf(p) >= 0; });
      }
    }
    if (!named) { return ""; }
    if (!platforms.length) { return "No platform has every table this query uses."; }
    return "Compatible with: " + platforms.map(function (p) { return NAMES[p]; }).join(", ");
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-sql-editor]").forEach(function (area) {
      var editor = area.closest(".sql-editor");
      var code = editor ? editor.querySelector("code") : null;
      var note = document.getElementById("sql-compatibility");
      if (!code) { return; }
      editor.classList.add("highlighting");
      var update = function () {
        highlight(code, area.value);
        if (note) { note.textContent = compatibility(area.value); }
      };
      area.addEventListener("input", update);
      area.addEventListener("scroll", function () {
        code.parentNode.scrollTop = area.scrollTop;
        code.parentNode.scrollLeft = area.scrollLeft;
      });
      update();
    });
  });
}());
