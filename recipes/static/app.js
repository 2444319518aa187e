// The page: a pad to draw on (mouse, touch, pen), a photo to drop, and what the model read.
// Everything goes through POST /predict, so a drawing is read by the same preprocessing as a
// photo: the 28x28 images shown are the ones the model was given.
"use strict";

const $ = (id) => document.getElementById(id);
const pad = $("pad"), ctx = pad.getContext("2d");
// MNIST's strokes are about an eighth of a digit's height: a digit drawn most of the pad
// tall gets strokes of about this many pixels (the reader evens them out in any case)
const LINE = 22;

let strokes = [];          // each a list of [x, y] in pad pixels: undo drops the last one
let current = null;        // the stroke being drawn
let source = "draw";       // what the result shows: "draw", or a File
let epoch = 0;             // bumped when the source changes: late answers to old ones are dropped
let busy = false, again = false;
let result = null, selected = 0;

// ---- the drawing pad -----------------------------------------------------------------------

function paint() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = ctx.fillStyle = "#000";
  ctx.lineWidth = LINE;
  ctx.lineCap = ctx.lineJoin = "round";
  for (const s of strokes) {
    ctx.beginPath();
    if (s.length === 1) {  // a dot
      ctx.arc(s[0][0], s[0][1], LINE / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.moveTo(...s[0]);
    for (const p of s.slice(1)) ctx.lineTo(...p);
    ctx.stroke();
  }
}

function point(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
}

pad.addEventListener("pointerdown", (e) => {
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  if (source !== "draw") { source = "draw"; epoch++; $("photo-panel").hidden = true; }
  current = [point(e)];
  strokes.push(current);
  paint();
  update();
});
pad.addEventListener("pointermove", (e) => {
  if (!current) return;
  // a pen reports more points than frames: take them all, for smooth curves
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  for (const ev of events.length ? events : [e]) current.push(point(ev));
  paint();
  update();
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => { if (current) { current = null; update(); } });
}

$("undo").addEventListener("click", () => { strokes.pop(); paint(); drawingChanged(); });
$("clear").addEventListener("click", () => { strokes = []; paint(); drawingChanged(); });

function drawingChanged() {
  source = "draw";
  $("photo-panel").hidden = true;
  update();
}

// ---- asking the server ---------------------------------------------------------------------

function modelQuery() {
  const m = $("model").value;
  return m ? "&model=" + encodeURIComponent(m) : "";
}

// One request at a time while drawing; the newest drawing is sent when the last answer is in.
function update() {
  if (source === "draw" && strokes.length === 0) {
    epoch++;
    show(null, "Draw in the box: the reading follows as you write.");
    return;
  }
  if (busy) { again = true; return; }
  send();
}

async function send() {
  busy = true;
  again = false;
  const mine = epoch;
  try {
    const body = source === "draw"
      ? await new Promise((ok) => pad.toBlob(ok, "image/png"))
      : source;
    const res = await fetch("/predict?inputs=true" + modelQuery(), {
      method: "POST", body, headers: { "Content-Type": body.type || "application/octet-stream" },
    });
    const answer = await res.json();
    if (mine !== epoch) return;
    if (res.ok) show(answer);
    else show(null, answer.detail || `error ${res.status}`, true);
  } catch (err) {
    if (mine === epoch) show(null, "no answer from the server: is it running?", true);
  } finally {
    busy = false;
    if (again) update();
  }
}

// ---- the answer ----------------------------------------------------------------------------

function show(answer, message, error = false) {
  result = answer;
  const status = $("status");
  status.classList.toggle("error", error);
  if (!answer) {
    $("digits").textContent = "\u2013";
    status.textContent = message;
    $("inputs").replaceChildren();
    bars(null);
    if (source !== "draw") boxes(null);
    return;
  }
  const n = answer.digits.length;
  $("digits").textContent = answer.digits;
  const p = answer.probabilities.map((row) => Math.max(...row));
  status.textContent = `${n} digit${n === 1 ? "" : "s"}, ${answer.model}: ` +
    p.map((x) => `${Math.round(100 * x)}%`).join(" ");
  // the digit just written when drawing; the first when reading a photo
  selected = source === "draw" ? n - 1 : 0;
  const figures = answer.inputs.map((b64, i) => {
    const fig = document.createElement("figure");
    const img = new Image(28, 28);
    img.src = "data:image/png;base64," + b64;
    img.alt = `input ${i + 1}, read as ${answer.digits[i]}`;
    const cap = document.createElement("figcaption");
    cap.textContent = answer.digits[i];
    fig.append(img, cap);
    fig.addEventListener("click", () => select(i));
    return fig;
  });
  $("inputs").replaceChildren(...figures);
  select(selected);
  if (source !== "draw") boxes(answer);
}

function select(i) {
  selected = i;
  [...$("inputs").children].forEach((f, j) => f.classList.toggle("selected", j === i));
  bars(result ? result.probabilities[i] : null);
}

function bars(proba) {
  const top = proba ? proba.indexOf(Math.max(...proba)) : -1;
  $("bars").replaceChildren(...Array.from({ length: 10 }, (_, d) => {
    const p = proba ? proba[d] : 0;
    const bar = document.createElement("div");
    bar.className = "bar" + (d === top ? " top" : "");
    bar.title = `${d}: ${(100 * p).toFixed(1)}%`;
    const pct = document.createElement("div");
    pct.className = "pct";
    pct.textContent = p >= 0.01 ? Math.round(100 * p) : "";
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.height = `${(100 * p).toFixed(1)}px`;
    const label = document.createElement("div");
    label.className = "label";
    label.textContent = d;
    bar.append(pct, fill, label);
    return bar;
  }));
}

// ---- a photo -------------------------------------------------------------------------------

let photo = null;  // the decoded image, drawn under the boxes

async function usePhoto(file) {
  if (!file) return;
  source = file;
  epoch++;
  $("photo-panel").hidden = false;
  photo = null;
  try {
    photo = await createImageBitmap(file);  // EXIF orientation applied, as the server does
  } catch (err) {
    photo = null;  // not something the browser shows: the server will say what it is
  }
  boxes(null);
  show(null, "reading the photo\u2026");
  update();
}

function boxes(answer) {
  const c = $("photo"), g = c.getContext("2d");
  if (!photo) { c.width = c.height = 0; c.dataset.boxes = 0; return; }
  const scale = Math.min(1, 720 / photo.width, 520 / photo.height);
  c.width = Math.round(photo.width * scale);
  c.height = Math.round(photo.height * scale);
  g.drawImage(photo, 0, 0, c.width, c.height);
  c.dataset.boxes = answer ? answer.boxes.length : 0;
  if (!answer) return;
  const sx = c.width / answer.width, sy = c.height / answer.height;
  g.lineWidth = 2;
  g.font = "bold 18px system-ui, sans-serif";
  g.textBaseline = "bottom";
  answer.boxes.forEach(([x0, y0, x1, y1], i) => {
    g.strokeStyle = "#e4572e";
    g.strokeRect(x0 * sx, y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy);
    const label = answer.digits[i], w = g.measureText(label).width + 8;
    const ty = Math.max(20, y0 * sy);
    g.fillStyle = "#e4572e";
    g.fillRect(x0 * sx - 1, ty - 20, w, 20);
    g.fillStyle = "#fff";
    g.fillText(label, x0 * sx + 3, ty - 1);
  });
}

$("file").addEventListener("change", (e) => usePhoto(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  usePhoto(e.dataTransfer.files[0]);
});

// ---- the model picker ----------------------------------------------------------------------

async function loadModels() {
  try {
    const res = await fetch("/models");
    const list = await res.json();
    $("model").replaceChildren(...list.models.map((m) => {
      const o = document.createElement("option");
      const acc = m.accuracy == null ? "" : ` \u00b7 ${(100 * m.accuracy).toFixed(2)}%`;
      const size = m.n_params == null ? "" : ` \u00b7 ${m.n_params.toLocaleString("en")} params`;
      o.value = m.name;
      o.textContent = m.name + acc + size;
      o.selected = m.default;
      return o;
    }));
  } catch (err) {
    show(null, "no answer from the server: is it running?", true);
  }
}

$("model").addEventListener("change", () => { epoch++; busy = false; update(); });

paint();
bars(null);
loadModels();
