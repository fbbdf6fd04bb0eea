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

/** POSTs to /predict; resolves to the response text, or throws the API's error message. */
async function predict(contentType, body) {
  let response;
  try {
    response = await fetch("/predict", {
      method: "POST",
      headers: { "Content-Type": contentType },
      body,
    });
  } catch (e) {
    throw new Error(`The server could not be reached: ${e.message}`);
  }
  const text = await response.text();
  if (!response.ok) {
    let message = `The server answered ${response.status}.`;
    try {
      message = JSON.parse(text).error.message;
    } catch (_) {
      // Not our JSON error body: keep the status line.
    }
    throw new Error(message);
  }
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

async function predictBatch(event) {
  event.preventDefault();
  const error = document.getElementById("batch-error");
  const table = document.getElementById("batch-table");
  showError(error, "");
  table.hidden = true;
  try {
    const text = await predict("text/csv", document.getElementById("batch-csv").value);
    renderTable(parseCsv(text));
  } catch (e) {
    showError(error, e.message);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("predict-form").addEventListener("submit", predictOne);
  document.getElementById("batch-form").addEventListener("submit", predictBatch);
});
