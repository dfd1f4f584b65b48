// Regrade progress: poll the API until the batch is finished, then show whose score changed.
"use strict";

(function () {
  const root = document.getElementById("regrade");
  const bar = root.querySelector(".progress > div");
  const label = document.getElementById("regrade-label");
  const diff = document.getElementById("regrade-diff");
  const api = root.dataset.api;

  function cell(row, text, numeric) {
    const td = row.insertCell();
    td.textContent = text;
    if (numeric) td.className = "num";
  }

  function score(value) {
    return value === null || value === undefined ? "—" : String(value);
  }

  async function showDiff() {
    const changes = await (await fetch(api + "/diff", { credentials: "same-origin" })).json();
    const body = diff.querySelector("tbody");
    for (const change of changes) {
      const row = body.insertRow();
      const link = document.createElement("a");
      link.href = "/submissions/" + change.submission_id;
      link.textContent = "#" + change.submission_id;
      row.insertCell().appendChild(link);
      cell(row, change.student);
      cell(row, score(change.old_score), true);
      cell(row, score(change.new_score), true);
    }
    diff.querySelector(".empty").hidden = changes.length > 0;
    diff.hidden = false;
  }

  async function poll() {
    const progress = await (await fetch(api, { credentials: "same-origin" })).json();
    bar.style.width = progress.percent + "%";
    bar.parentElement.setAttribute("aria-valuenow", progress.percent);
    label.textContent = progress.done + " of " + progress.total + " done (" + progress.percent + "%)"
      + (progress.failed ? ", " + progress.failed + " failed" : "")
      + (progress.superseded ? ", " + progress.superseded + " superseded by a later regrade" : "")
      + " — " + progress.status;
    if (progress.status === "finished") {
      await showDiff();
    } else {
      setTimeout(poll, 1000);
    }
  }

  poll().catch(function (err) { label.textContent = "Could not read the progress: " + err; });
})();
