// Live queries: the target count follows the checkboxes (GET /live/count, the targets service),
// and on the results page the answers stream in over the results WebSocket
// (/api/v1/fleet/results/websocket: auth, select_campaign, then totals/status/result/error).
// Every value is put in the page as text (agent data is untrusted).
"use strict";

(function () {
  function updateCount(form) {
    var params = new URLSearchParams();
    form.querySelectorAll("input[type=checkbox]:checked").forEach(function (box) {
      params.append(box.name, box.value);
    });
    if (form.dataset.queryId) { params.append("query_id", form.dataset.queryId); }
    fetch("/live/count?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (metrics) {
        if (!metrics) { return; }
        ["total", "online", "offline"].forEach(function (key) {
          var el = document.querySelector("#target-count [data-count=" + key + "]");
          if (el) { el.textContent = String(metrics[key]); }
        });
      });
  }

  function cellText(value) {
    if (value === null || value === undefined) { return ""; }
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  function download(name, type, text) {
    var link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: type }));
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  function csvField(text) {
    return /[",\n\r]/.test(text) ? "\"" + text.replace(/"/g, "\"\"") + "\"" : text;
  }

  function startStream(root) {
    var campaignId = Number(root.dataset.liveCampaign);
    var rows = [];
    var columns = [];
    var responded = {};
    var respondedCount = 0;
    var stopped = false;
    var table = document.getElementById("live-results");
    var headRow = table.querySelector("thead tr");
    var body = table.querySelector("tbody");
    var errorsBody = document.querySelector("#live-errors tbody");

    function setProgress(key, value) {
      document.querySelectorAll("[data-progress=" + key + "]").forEach(function (el) { el.textContent = String(value); });
    }

    function addColumn(name) {
      columns.push(name);
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = name;
      headRow.appendChild(th);
      body.querySelectorAll("tr").forEach(function (tr) { tr.appendChild(document.createElement("td")); });
    }

    function addRow(row) {
      Object.keys(row).forEach(function (key) { if (columns.indexOf(key) < 0) { addColumn(key); } });
      var tr = document.createElement("tr");
      columns.forEach(function (key) {
        var td = document.createElement("td");
        td.textContent = cellText(row[key]);
        tr.appendChild(td);
      });
      body.appendChild(tr);
      rows.push(row);
      setProgress("rows", rows.length);
    }

    function onResult(data) {
      var host = data.host || {};
      if (!responded[host.id]) {
        responded[host.id] = true;
        respondedCount += 1;
        setProgress("responded", respondedCount);
      }
      if (data.error) {
        var tr = document.createElement("tr");
        tr.className = "live-error";
        var name = document.createElement("td");
        name.textContent = host.display_name || host.hostname || String(host.id);
        var reason = document.createElement("td");
        reason.textContent = String(data.error);
        tr.appendChild(name);
        tr.appendChild(reason);
        errorsBody.appendChild(tr);
      }
      (data.rows || []).forEach(addRow);
    }

    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + root.dataset.websocket);
    socket.addEventListener("open", function () {
      // No token: the server authenticates this same-origin socket with the HttpOnly session cookie.
      socket.send(JSON.stringify({ type: "auth", data: {} }));
      socket.send(JSON.stringify({ type: "select_campaign", data: { campaign_id: campaignId } }));
      setProgress("state", "running");
    });
    socket.addEventListener("message", function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === "result") {
        onResult(message.data);
      } else if (message.type === "totals") {
        setProgress("online", message.data.online);
        setProgress("total", message.data.count);
      } else if (message.type === "status") {
        if (!stopped) { setProgress("state", message.data.status === "finished" ? "finished" : "running"); }
      } else if (message.type === "error") {
        setProgress("state", "error: " + String(message.data));
      }
    });
    socket.addEventListener("close", function () {
      if (!stopped) { setProgress("state", "disconnected"); }
    });

    var stop = root.querySelector("[data-live-stop]");
    stop.addEventListener("click", function () {
      stopped = true;
      socket.close();
      setProgress("state", "stopped");
      stop.disabled = true;
    });
    root.querySelectorAll("[data-live-export]").forEach(function (button) {
      button.addEventListener("click", function () {
        var name = "live-query-" + campaignId;
        if (button.dataset.liveExport === "json") {
          download(name + ".json", "application/json", JSON.stringify(rows, null, 2));
        } else {
          var lines = [columns.map(csvField).join(",")];
          rows.forEach(function (row) {
            lines.push(columns.map(function (key) { return csvField(cellText(row[key])); }).join(","));
          });
          download(name + ".csv", "text/csv", lines.join("\n") + "\n");
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-live-targets]");
    if (form) {
      form.addEventListener("change", function (event) {
        if (event.target.type === "checkbox") { updateCount(form); }
      });
    }
    var root = document.querySelector("[data-live-campaign]");
    if (root) { startStream(root); }
  });
}());
