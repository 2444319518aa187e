// A plain reading of /openapi.json: FastAPI's Swagger page would load its scripts from a CDN.
"use strict";

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text != null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function table(head, rows) {
  const t = el("table");
  const tr = el("tr");
  head.forEach((h) => tr.append(el("th", h)));
  t.append(tr);
  rows.forEach((r) => {
    const row = el("tr");
    r.forEach((c) => row.append(el("td", c)));
    t.append(row);
  });
  return t;
}

function curl(path, method, op) {
  const base = location.origin + path;
  if (method === "get") return `curl ${base}`;
  const types = Object.keys((op.requestBody || {}).content || {});
  if (types.includes("application/json")) {
    return `curl -H 'Content-Type: application/json' -d '{"pixels": [[0, 0, ...784 values]]}' ${base}`;
  }
  return `curl -H 'Content-Type: image/png' --data-binary @digits.png '${base}?inputs=true'\n` +
         `curl -F file=@photo.jpg ${base}`;
}

async function main() {
  const spec = await (await fetch("/openapi.json")).json();
  const out = document.getElementById("routes");
  out.replaceChildren(el("p", spec.info.description || ""));
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const box = el("section", null, "route");
      const h = el("h2");
      h.append(el("span", method.toUpperCase(), "method " + method), path);
      box.append(h, el("p", op.summary || ""));
      if (op.description) box.append(el("p", op.description));
      const params = op.parameters || [];
      if (params.length) {
        box.append(table(["parameter", "in", "description"],
          params.map((p) => [p.name, p.in, p.description || ""])));
      }
      if (op.requestBody) {
        box.append(el("p", "body: " + Object.keys(op.requestBody.content).join(", ")));
      }
      const codes = Object.entries(op.responses || {}).map(([code, r]) => [code, r.description || ""]);
      box.append(table(["status", "meaning"], codes));
      box.append(el("pre", curl(path, method, op)));
      out.append(box);
    }
  }
}

main().catch((err) => {
  document.getElementById("routes").textContent = "could not read /openapi.json: " + err;
});
