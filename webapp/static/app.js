// The page's only script. CSP forbids inline scripts and styles, so everything the page
// does is here, and nothing sets style attributes.
"use strict";

// Records Content-Security-Policy violations so the browser test can assert there were none.
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});

const FEATURES = ["CHAS", "RM", "TAX", "PTRATIO", "B", "LSTAT"];

const dollars = new Intl.NumberFormat("en-US", {
  style: "currency",
  currency: "USD",
  maximumFractionDigits: 0,
});

/** Shows an error message in `el`, or hides it when `message` is empty. */
function showError(el, message) {
  el.textContent = message;
  el.hidden = message === "";
}

/** Sends a request; resolves to the response and its text, or throws when the server
 * cannot be reached. */
async function send(path, init) {
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new Error(`The server could not be reached: ${e.message}`);
  }
  return { response, text: await response.text() };
}

/** The API's error message in an error answer, or its status line when there is none. */
function errorMessage(response, text) {
  try {
    return JSON.parse(text).error.message;
  } catch (_) {
    return `The server answered ${response.status}.`;
  }
}

/** POSTs to /predict; resolves to the response text, or throws the API's error message. */
async function predict(contentType, body) {
  const { response, text } = await send("/predict", {
    method: "POST",
    headers: { "Content-Type": contentType },
    body,
  });
  if (!response.ok) throw new Error(errorMessage(response, text));
  return text;
}

async function predictOne(event) {
  event.preventDefault();
  const price = document.getElementById("price");
  const error = document.getElementById("predict-error");
  showError(error, "");
  price.textContent = "";
  delete price.dataset.medv;
  const record = {};
  for (const name of FEATURES) {
    const input = document.getElementById(name);
    const value = input.value.trim();
    if (value === "") {
      showError(error, `${name} is empty: enter a number.`);
      input.focus();
      return;
    }
    // Sent as typed: the API validates, and its message names the column at fault.
    record[name] = Number(value);
    if (!Number.isFinite(record[name])) {
      showError(error, `${name} is not a number.`);
      input.focus();
      return;
    }
  }
  try {
    const text = await predict("application/json", JSON.stringify(record));
    const medv = JSON.parse(text).prediction[0];
    price.dataset.medv = String(medv);
    price.textContent = dollars.format(medv * 1000);
  } catch (e) {
    showError(error, e.message);
  }
}

/** Parses CSV (RFC 4180: quoted fields, doubled quotes) into rows of strings. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else {
      field += c;
    }
  }
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function renderTable(rows) {
  const table = document.getElementById("batch-table");
  const head = table.tHead;
  const body = table.tBodies[0];
  head.replaceChildren();
  body.replaceChildren();
  const [header, ...data] = rows;
  const predictionColumn = header.indexOf("prediction");
  const headRow = head.insertRow();
  for (const name of header) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = name;
    headRow.append(th);
  }
  for (const cells of data) {
    const tr = body.insertRow();
    cells.forEach((value, i) => {
      const td = tr.insertCell();
      td.textContent = value;
      if (i === predictionColumn) td.className = "prediction";
    });
  }
  table.hidden = false;
}

/** How often a background job's status is asked for, and for how long. */
const POLL_EVERY_MS = 500;
const POLL_FOR_MS = 2 * 60 * 1000;

/** Counts batch submissions, so a job still being polled stops when a newer one starts. */
let submissions = 0;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Shows a job's progress, or hides the line when `message` is empty. */
function showJobStatus(message, jobId, state) {
  const el = document.getElementById("job-status");
  el.textContent = message;
  el.hidden = message === "";
  if (jobId) el.dataset.jobId = jobId;
  else delete el.dataset.jobId;
  if (state) el.dataset.state = state;
  else delete el.dataset.state;
}

/** The submitted CSV with the job's predictions as a last column, like /predict answers;
 * just row numbers when the rows cannot be matched up one to one. */
function tableOfJob(csv, predictions) {
  const rows = parseCsv(csv).filter((r) => !(r.length === 1 && r[0].trim() === ""));
  const [header, ...data] = rows;
  if (header && data.length === predictions.length) {
    return [
      [...header, "prediction"],
      ...data.map((cells, i) => [...cells, String(predictions[i])]),
    ];
  }
  return [["row", "prediction"], ...predictions.map((p, i) => [String(i + 1), String(p)])];
}

/** Queues the CSV as a background job, polls its status, and shows the result. */
async function runJob(csv, submission) {
  const { response, text } = await send("/jobs", {
    method: "POST",
    headers: { "Content-Type": "text/csv" },
    body: csv,
  });
  if (response.status !== 202) throw new Error(errorMessage(response, text));
  const job = JSON.parse(text);
  showJobStatus(`Job ${job.jobId} queued: waiting for its result…`, job.jobId, "queued");
  const deadline = Date.now() + POLL_FOR_MS;
  for (;;) {
    await sleep(POLL_EVERY_MS);
    if (submission !== submissions) return;
    const poll = await send(job.statusUrl, { headers: { Accept: "application/json" } });
    if (submission !== submissions) return;
    // 404: no result yet. 503: storage is briefly unreachable; the job is still queued.
    if (poll.response.ok) {
      const result = JSON.parse(poll.text);
      if (result.status === "succeeded") {
        renderTable(tableOfJob(csv, result.predictions));
        showJobStatus(
          `Job ${job.jobId} succeeded: ${result.predictions.length} predictions.`,
          job.jobId,
          "succeeded",
        );
        return;
      }
      if (result.status === "failed") {
        showJobStatus(`Job ${job.jobId} failed.`, job.jobId, "failed");
        throw new Error(result.error ? result.error.message : "The job failed.");
      }
      throw new Error(`Job ${job.jobId} has an unknown status "${result.status}".`);
    }
    // 429: this address asked too often; wait as long as the server says, then go on.
    if (poll.response.status === 429) {
      const seconds = Number(poll.response.headers.get("Retry-After")) || 1;
      await sleep(seconds * 1000);
    } else if (poll.response.status !== 404 && poll.response.status !== 503) {
      throw new Error(errorMessage(poll.response, poll.text));
    }
    if (Date.now() > deadline) {
      showJobStatus(`Job ${job.jobId} is still queued.`, job.jobId, "timed-out");
      throw new Error(
        `Job ${job.jobId} has no result after ${POLL_FOR_MS / 60000} minutes. ` +
          `It may still finish: its status is at ${job.statusUrl}.`,
      );
    }
  }
}

async function predictBatch(event) {
  event.preventDefault();
  const error = document.getElementById("batch-error");
  const table = document.getElementById("batch-table");
  const csv = document.getElementById("batch-csv").value;
  const submission = ++submissions;
  showError(error, "");
  showJobStatus("");
  table.hidden = true;
  try {
    if (document.getElementById("batch-background").checked) {
      await runJob(csv, submission);
    } else {
      renderTable(parseCsv(await predict("text/csv", csv)));
    }
  } catch (e) {
    if (submission === submissions) showError(error, e.message);
  }
}

/** Shows where an upload is, or hides the line when `message` is empty. */
function showFileStatus(message, state, uploadId) {
  const el = document.getElementById("file-status");
  el.textContent = message;
  el.hidden = message === "";
  el.dataset.state = state || "";
  if (uploadId) el.dataset.uploadId = uploadId;
}

/** Sends `file` to POST /uploads, reporting upload progress in `progress`; resolves to the
 * response status and text. XMLHttpRequest, since fetch reports no upload progress. */
function uploadFile(file, progress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/uploads");
    xhr.setRequestHeader("Content-Type", "text/csv");
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) progress.value = e.loaded / e.total;
    });
    xhr.addEventListener("load", () => resolve({ status: xhr.status, text: xhr.responseText }));
    xhr.addEventListener("error", () => reject(new Error("The server could not be reached.")));
    xhr.send(file);
  });
}

/** Uploads the chosen file, polls its status until it is scored, then offers the result. */
async function scoreFile(event) {
  event.preventDefault();
  const error = document.getElementById("file-error");
  const progress = document.getElementById("file-progress");
  const download = document.getElementById("file-download");
  const file = document.getElementById("file-input").files[0];
  const limit = Number(document.getElementById("file-limit").dataset.bytes);
  showError(error, "");
  download.hidden = true;
  try {
    if (!file) throw new Error("Choose a CSV file first.");
    if (file.size > limit) {
      throw new Error(`The file is ${Math.ceil(file.size / 1048576)} MiB; the limit is ${Math.floor(limit / 1048576)} MiB.`);
    }
    progress.removeAttribute("value");
    progress.value = 0;
    progress.hidden = false;
    showFileStatus(`Uploading ${file.name}…`, "uploading");
    const sent = await uploadFile(file, progress);
    if (sent.status !== 202) {
      throw new Error(errorMessage({ status: sent.status }, sent.text));
    }
    const upload = JSON.parse(sent.text);
    // Indeterminate while the Functions app scores it.
    progress.removeAttribute("value");
    const started = Date.now();
    for (;;) {
      showFileStatus(
        `Scoring ${file.name}… ${Math.round((Date.now() - started) / 1000)} s`,
        "scoring",
        upload.uploadId,
      );
      const poll = await send(upload.statusUrl, { headers: { Accept: "application/json" } });
      if (poll.response.ok) {
        const status = JSON.parse(poll.text);
        if (status.status === "succeeded") {
          download.href = status.resultUrl;
          download.hidden = false;
          showFileStatus(`${file.name} is scored.`, "succeeded");
          break;
        }
        if (status.status === "failed") {
          showFileStatus(`${file.name} could not be scored.`, "failed");
          throw new Error(status.error ? status.error.message : "The file could not be scored.");
        }
      } else if (poll.response.status === 429) {
        await sleep((Number(poll.response.headers.get("Retry-After")) || 1) * 1000);
      } else if (poll.response.status !== 503) {
        throw new Error(errorMessage(poll.response, poll.text));
      }
      await sleep(1000);
    }
  } catch (e) {
    showError(error, e.message);
  } finally {
    progress.hidden = true;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("predict-form").addEventListener("submit", predictOne);
  document.getElementById("batch-form").addEventListener("submit", predictBatch);
  document.getElementById("file-form").addEventListener("submit", scoreFile);
});
