// cnnlab explore: the page. Plain JavaScript, no library; every number comes from the
// server (cnnlab), this file only draws and asks.
"use strict";

const state = { info: null, digit: null, analysis: null, neuron: null, busy: false, again: false };
const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------ talking to the server

let inFlight = 0;

// True when no request is on its way and no drawing waits to be sent (for the tests).
function settled() { return inFlight === 0 && !state.busy && !state.again; }

async function api(path, body, raw) {
  inFlight++;
  try {
    return await request(path, body, raw);
  } finally {
    inFlight--;
  }
}

async function request(path, body, raw) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": raw ? "application/octet-stream" : "application/json" },
    body: raw ? body : JSON.stringify(body),
  };
  const response = await fetch(path, options);
  let answer;
  try {
    answer = await response.json();
  } catch (error) {
    throw new Error(`the server answered ${response.status} without JSON`);
  }
  if (!response.ok || answer.error !== undefined && path !== "/api/shape") {
    throw new Error(answer.error || `the server answered ${response.status}`);
  }
  return answer;
}

function message(text, isError) {
  const box = $("input-message");
  box.textContent = text;
  box.className = isError ? "error" : "caption";
}

// ------------------------------------------------------------ colours

const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

function viridis(t) {
  const x = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  const f = x - i;
  return VIRIDIS[i].map((v, k) => Math.round(v + f * (VIRIDIS[i + 1][k] - v)));
}

function diverging(t) { // t in [-1, 1]: blue, white, red
  const a = Math.min(Math.abs(t), 1);
  const [r, g, b] = t < 0 ? [33, 102, 172] : [178, 24, 43];
  return [255 + a * (r - 255), 255 + a * (g - 255), 255 + a * (b - 255)].map(Math.round);
}

// A colour function for values in [low, high]: diverging around 0 if any value is
// negative, viridis from low to high otherwise.
function palette(low, high) {
  if (low < 0) {
    const m = Math.max(Math.abs(low), Math.abs(high)) || 1;
    return (v) => diverging(v / m);
  }
  const span = high - low || 1;
  return (v) => viridis((v - low) / span);
}

function gray(low, high) {
  const span = high - low || 1;
  return (v) => { const g = Math.round(255 * (v - low) / span); return [g, g, g]; };
}

function drawGrid(canvas, grid, colour, scale) {
  const rows = grid.length, cols = grid[0].length;
  canvas.width = cols * scale;
  canvas.height = rows * scale;
  const context = canvas.getContext("2d");
  const image = context.createImageData(cols, rows);
  grid.forEach((line, r) => line.forEach((v, c) => {
    const [red, green, blue] = colour(v);
    image.data.set([red, green, blue, 255], 4 * (r * cols + c));
  }));
  const small = document.createElement("canvas");
  small.width = cols;
  small.height = rows;
  small.getContext("2d").putImageData(image, 0, 0);
  context.imageSmoothingEnabled = false;
  context.drawImage(small, 0, 0, cols * scale, rows * scale);
  return context;
}

function legend(low, high, grayscale) {
  const box = document.createElement("div");
  box.className = "legend";
  const bar = document.createElement("canvas");
  bar.width = 48;
  bar.height = 8;
  const colour = grayscale ? gray(low, high) : palette(low, high);
  const context = bar.getContext("2d");
  for (let x = 0; x < 48; x++) {
    context.fillStyle = `rgb(${colour(low + (high - low) * x / 47).join(",")})`;
    context.fillRect(x, 0, 1, 8);
  }
  const left = document.createElement("span"), right = document.createElement("span");
  left.textContent = format(low, 2);
  right.textContent = format(high, 2);
  box.append(left, bar, right);
  return box;
}

function format(v, digits) {
  if (v === null || v === undefined) return "pad";
  return Number(v).toFixed(digits === undefined ? 4 : digits);
}

// ------------------------------------------------------------ the input

function digitGrid(digit) {
  const grid = [];
  for (let r = 0; r < 28; r++) grid.push(digit.slice(28 * r, 28 * r + 28));
  return grid;
}

function setupDrawing() {
  const canvas = $("draw");
  const context = canvas.getContext("2d");
  const clear = () => { context.fillStyle = "#000"; context.fillRect(0, 0, 280, 280); };
  clear();
  let last = null;
  const point = (event) => {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * 280 / box.width, (event.clientY - box.top) * 280 / box.height];
  };
  canvas.addEventListener("pointerdown", (event) => {
    canvas.setPointerCapture(event.pointerId);
    last = point(event);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!last) return;
    const now = point(event);
    context.strokeStyle = "#fff";
    context.lineWidth = 20;
    context.lineCap = "round";
    context.beginPath();
    context.moveTo(...last);
    context.lineTo(...now);
    context.stroke();
    last = now;
    sendDrawing();
  });
  const end = () => { if (last) { last = null; sendDrawing(); } };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  $("clear").addEventListener("click", () => { clear(); message("", false); });
}

// Live prediction while drawing: one request in flight, the latest drawing sent next.
function sendDrawing() {
  if (state.busy) { state.again = true; return; }
  state.busy = true;
  $("draw").toBlob(async (blob) => {
    try {
      await useImage(blob, true);
    } catch (error) {
      message(error.message, true);
    } finally {
      state.busy = false;
      if (state.again) { state.again = false; sendDrawing(); }
    }
  }, "image/png");
}

async function useImage(blob, drawing) {
  const answer = await api("/api/image" + (drawing ? "?drawing=1" : ""), blob, true);
  $("input-notes").textContent = answer.notes.join("; ");
  await setDigit(answer.digit);
}

async function setDigit(digit) {
  state.digit = digit;
  drawGrid($("seen"), digitGrid(digit), (v) => [v, v, v], 5);
  state.analysis = await api("/api/analyse", { digit });
  showPrediction();
  showOverview();
  await showSaliency();
  if (state.neuron) await showNeuron(state.neuron);
}

function setupInputs() {
  $("upload").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (!file) return;
    if (file.size > state.info.max_upload) {
      message(`${file.name}: the file is ${file.size.toLocaleString()} bytes; at most ` +
        `${state.info.max_upload.toLocaleString()} are accepted`, true);
      return;
    }
    try {
      await useImage(file, false);
      message(`${file.name}: read`, false);
    } catch (error) {
      message(`${file.name}: ${error.message}`, true);
    }
  });
  $("test-pick").addEventListener("click", () => pickTest(Number($("test-index").value)));
  $("test-random").addEventListener("click",
    () => pickTest(Math.floor(Math.random() * state.info.test_images)));
}

async function pickTest(index) {
  try {
    const answer = await api(`/api/test?index=${index}`);
    $("test-index").value = answer.index;
    await setDigit(answer.digit);
    $("input-notes").textContent = `test image ${answer.index}, labelled ${answer.label}`;
    message("", false);
  } catch (error) {
    message(error.message, true);
  }
}

function showPrediction() {
  const a = state.analysis;
  $("prediction").textContent = `${a.label} (${format(a.probabilities[a.prediction], 3)})`;
  const box = $("probabilities");
  box.replaceChildren();
  a.probabilities.forEach((p, k) => {
    const row = document.createElement("div");
    row.className = "prob" + (k === a.prediction ? " best" : "");
    row.dataset.class = k;
    const name = document.createElement("span");
    name.textContent = String(k);
    const track = document.createElement("div");
    track.className = "track";
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = `${Math.max(1, Math.round(160 * p))}px`;
    track.append(bar);
    const value = document.createElement("span");
    value.textContent = format(p, 3);
    row.append(name, track, value);
    box.append(row);
  });
}

// ------------------------------------------------------------ the overview

function mapScale(height) { return Math.max(2, Math.ceil(56 / height)); }

function showOverview() {
  const box = $("overview");
  box.replaceChildren();
  state.analysis.layers.forEach((layer, index) => {
    const column = document.createElement("div");
    column.className = "layer";
    column.dataset.layer = index;
    const name = document.createElement("div");
    name.className = "name";
    name.textContent = layer.name;
    name.title = layer.module;
    const maps = document.createElement("div");
    maps.className = "maps";
    const colour = index === 0 ? gray(layer.min, layer.max) : palette(layer.min, layer.max);
    if (layer.maps) {
      const scale = mapScale(layer.shape[1]);
      maps.style.gridTemplateColumns = `repeat(${layer.maps.length > 8 ? 2 : 1}, auto)`;
      layer.maps.forEach((grid, channel) => {
        const canvas = document.createElement("canvas");
        canvas.dataset.layer = index;
        canvas.dataset.channel = channel;
        canvas.title = `${layer.name} channel ${channel}`;
        drawGrid(canvas, grid, colour, scale);
        canvas.addEventListener("click", (event) => {
          const box = canvas.getBoundingClientRect();
          const col = Math.min(layer.shape[2] - 1, Math.floor((event.clientX - box.left) / box.width * layer.shape[2]));
          const row = Math.min(layer.shape[1] - 1, Math.floor((event.clientY - box.top) / box.height * layer.shape[1]));
          showNeuron({ layer: index, channel, row, col });
        });
        maps.append(canvas);
      });
    } else {
      const canvas = document.createElement("canvas");
      const width = Math.max(1, Math.floor(360 / layer.vector.length));
      drawGrid(canvas, layer.vector.map((v) => [v]), colour, 1);
      canvas.style.width = "14px";
      canvas.style.height = `${Math.min(360, layer.vector.length * width)}px`;
      maps.append(canvas);
    }
    const shape = document.createElement("div");
    shape.className = "shape";
    shape.textContent = layer.shape.join("x");
    column.append(name, maps, shape, legend(layer.min, layer.max, index === 0));
    box.append(column);
  });
  if (state.neuron && state.neuronAnswer) outlineOverview(state.neuronAnswer);
}

// Outline the receptive field on every earlier layer's maps (and the clicked cell).
function outlineOverview(answer) {
  for (const field of answer.fields) {
    const layer = state.analysis.layers[field.layer];
    const scale = mapScale(layer.shape[1]);
    document.querySelectorAll(`#overview canvas[data-layer="${field.layer}"]`).forEach((canvas) => {
      const context = canvas.getContext("2d");
      context.strokeStyle = "#e6007e";
      context.lineWidth = 2;
      context.strokeRect(field.left * scale + 1, field.top * scale + 1,
        (field.right - field.left + 1) * scale - 2, (field.bottom - field.top + 1) * scale - 2);
    });
  }
}

// ------------------------------------------------------------ one neuron

function table(grid, classes) {
  const element = document.createElement("table");
  grid.forEach((line, r) => {
    const row = element.insertRow();
    line.forEach((v, c) => {
      const cell = row.insertCell();
      cell.textContent = format(v);
      if (classes && classes[r][c]) cell.className = classes[r][c];
    });
  });
  return element;
}

function paddingClasses(item, shape) {
  return item.rows.map((r) => item.cols.map((c) =>
    (r < 0 || c < 0 || r >= shape[1] || c >= shape[2]) ? "pad" : ""));
}

function labelled(text, element) {
  const box = document.createElement("div");
  const caption = document.createElement("div");
  caption.className = "caption";
  caption.textContent = text;
  box.append(caption, element);
  return box;
}

function line(id, text) {
  const p = document.createElement("p");
  p.id = id;
  p.textContent = text;
  return p;
}

async function showNeuron(unit) {
  state.neuron = unit;
  let answer;
  try {
    answer = await api("/api/neuron", { digit: state.digit, ...unit });
  } catch (error) {
    $("neuron-hint").textContent = error.message;
    return;
  }
  state.neuronAnswer = answer;
  $("neuron-hint").hidden = true;
  $("neuron").hidden = false;
  const name = `${answer.name}[${answer.channel}, ${answer.row}, ${answer.col}]`;
  $("neuron-title").textContent = `${name} = ${format(answer.value)}`;
  showOverview();
  showField(answer);
  const previous = state.analysis.layers[answer.layer - 1];
  const arithmetic = $("arithmetic");
  arithmetic.replaceChildren();
  const result = $("neuron-result");
  result.replaceChildren();
  if (answer.kind === "conv") {
    for (const item of answer.channels) {
      const box = document.createElement("div");
      box.className = "channel";
      const equation = document.createElement("div");
      equation.className = "eq";
      equation.append(
        labelled(`${previous.name} channel ${item.channel}: window`, table(item.window, paddingClasses(item, previous.shape))), "×",
        labelled("kernel", table(item.kernel)), "=",
        labelled("products", table(item.products)));
      const sum = document.createElement("div");
      sum.className = "caption";
      sum.textContent = `sum of the products: ${format(item.sum)}`;
      box.append(equation, sum);
      arithmetic.append(box);
    }
    const sums = answer.channels.map((item) => format(item.sum)).join(" + ");
    result.append(
      line("neuron-sum", `sum over ${answer.channels.length} input channel(s): ${sums} = ${format(answer.sum)}`),
      line("neuron-bias", `+ bias ${format(answer.bias)}`),
      line("neuron-total", `= ${format(answer.result)}`),
      line("neuron-model", `${answer.name}'s own output at [${answer.channel}, ${answer.row}, ${answer.col}]: ${format(answer.value)}`));
    if (answer.activation) {
      result.append(line("neuron-activation",
        `${answer.activation.function} (${answer.activation.name}): ${answer.activation.function === "ReLU" ? `max(0, ${format(answer.result)})` : format(answer.result)} = ${format(answer.activation.value)}`));
    }
  } else if (answer.kind === "pool") {
    arithmetic.append(labelled(`${previous.name} channel ${answer.channel}: window (pad: padding)`,
      table(answer.window, paddingClasses(answer, previous.shape))));
    result.append(line("neuron-total", `${answer.mode} of the window = ${format(answer.result)}`),
      line("neuron-model", `${answer.name}'s own output: ${format(answer.value)}`));
  } else if (answer.kind === "elementwise") {
    result.append(line("neuron-total", `${answer.function}(${format(answer.argument)}) = ${format(answer.value)}`));
  } else {
    result.append(line("neuron-total", `${answer.name}: an input pixel (normalised) = ${format(answer.value)}`));
  }
  startSlide(answer);
  await showNeuronSaliency(unit, answer);
}

function showField(answer) {
  const input = state.analysis.layers[0];
  const canvas = $("neuron-input");
  const scale = 8;
  drawGrid(canvas, input.maps[0], gray(input.min, input.max), scale);
  const field = answer.fields.find((f) => f.layer === 0);
  const outline = $("rf-outline");
  if (!field) { outline.style.display = "none"; return; }
  Object.assign(outline.dataset, { top: field.top, bottom: field.bottom, left: field.left, right: field.right });
  Object.assign(outline.style, {
    display: "block", left: `${1 + field.left * scale}px`, top: `${1 + field.top * scale}px`,
    width: `${(field.right - field.left + 1) * scale}px`, height: `${(field.bottom - field.top + 1) * scale}px`,
  });
  $("rf-text").textContent = `rows ${field.top}..${field.bottom}, columns ${field.left}..${field.right} ` +
    `of the input (receptive field ${field.size.join("x")}, jump ${field.jump.join("x")})`;
}

// The animation: the window slides over one channel of the previous layer while the
// clicked map fills in, cell by cell, up to the clicked cell.
let slideTimer = null;

function startSlide(answer) {
  clearInterval(slideTimer);
  const select = $("slide-channel");
  const previous = state.analysis.layers[answer.layer - 1];
  const target = state.analysis.layers[answer.layer];
  if (!previous || !previous.maps || !answer.kernel_size) {
    select.replaceChildren();
    [$("slide-previous"), $("slide-output")].forEach((c) => c.getContext("2d").clearRect(0, 0, c.width, c.height));
    return;
  }
  const channels = answer.kind === "conv" ? answer.channels.map((c) => c.channel) : [answer.channel];
  if (select.dataset.for !== `${answer.layer}/${answer.channel}`) {
    select.replaceChildren(...channels.map((c) => new Option(`channel ${c}`, c)));
    select.dataset.for = `${answer.layer}/${answer.channel}`;
  }
  const channel = Number(select.value || channels[0]);
  const [outH, outW] = target.shape.slice(1);
  const last = answer.row * outW + answer.col;
  let step = 0;
  const prevScale = Math.max(1, Math.floor(224 / Math.max(...previous.shape.slice(1))));
  const outScale = Math.max(1, Math.floor(224 / Math.max(outH, outW)));
  const frame = () => {
    const r = Math.floor(step / outW), c = step % outW;
    const context = drawGrid($("slide-previous"), previous.maps[channel], palette(previous.min, previous.max), prevScale);
    const [kh, kw] = answer.kernel_size, [sh, sw] = answer.stride;
    const top = (r * sh - (answer.padding ? answer.padding[0][0] : 0));
    const left = (c * sw - (answer.padding ? answer.padding[1][0] : 0));
    const [dh, dw] = answer.dilation || [1, 1];
    context.strokeStyle = "#e6007e";
    context.lineWidth = 2;
    context.strokeRect(left * prevScale, top * prevScale, ((kw - 1) * dw + 1) * prevScale, ((kh - 1) * dh + 1) * prevScale);
    const partial = target.maps[answer.channel].map((row, i) => row.map((v, j) => (i * outW + j <= step ? v : null)));
    const colour = palette(target.min, target.max);
    const out = drawGrid($("slide-output"), partial.map((row) => row.map((v) => (v === null ? 0 : v))),
      (v) => colour(v), outScale);
    partial.forEach((row, i) => row.forEach((v, j) => {
      if (v === null) { out.fillStyle = "#eee"; out.fillRect(j * outScale, i * outScale, outScale, outScale); }
    }));
    out.strokeStyle = "#e6007e";
    out.lineWidth = 2;
    out.strokeRect(c * outScale, r * outScale, outScale, outScale);
    if (step >= last) clearInterval(slideTimer);
    step++;
  };
  frame();
  slideTimer = setInterval(frame, Math.max(10, Math.min(120, 3000 / (last + 1))));
}

// ------------------------------------------------------------ gradients

function drawGradient(canvas, answer) {
  drawGrid(canvas, answer.gradient, (v) => diverging(v / (answer.max_abs || 1)), 8);
}

async function showSaliency() {
  const select = $("saliency-class");
  const choice = select.value === "" || select.value === "predicted" ? state.analysis.prediction : Number(select.value);
  try {
    const answer = await api("/api/saliency", { digit: state.digit, class: choice });
    drawGradient($("saliency"), answer);
    $("saliency-text").textContent = `d(${answer.about}) / d(input pixel); largest |gradient| ${format(answer.max_abs, 4)}`;
  } catch (error) {
    $("saliency-text").textContent = error.message;
  }
}

async function showNeuronSaliency(unit, neuron) {
  if (unit.layer === 0) return;
  const answer = await api("/api/saliency", { digit: state.digit, ...unit });
  const context = drawGradient($("neuron-saliency"), answer);
  const field = neuron.fields.find((f) => f.layer === 0);
  if (field) {
    const canvas = $("neuron-saliency").getContext("2d");
    canvas.strokeStyle = "#e6007e";
    canvas.lineWidth = 2;
    canvas.strokeRect(field.left * 8, field.top * 8, (field.right - field.left + 1) * 8, (field.bottom - field.top + 1) * 8);
  }
  $("neuron-saliency-text").textContent = `d(${answer.about}) / d(input pixel): zero outside its receptive field (outlined)`;
  return context;
}

// ------------------------------------------------------------ the playground

let playgroundTimer = null;
let playgroundAsked = 0;

async function updatePlayground() {
  const asked = ++playgroundAsked;
  const request = {
    operation: $("pg-operation").value, input: $("pg-input").value, kernel: $("pg-kernel").value,
    padding: $("pg-padding").value, stride: $("pg-stride").value, dilation: $("pg-dilation").value,
    ceil_mode: $("pg-ceil").checked,
  };
  let answer;
  try {
    answer = await api("/api/shape", request);
  } catch (error) {
    answer = { error: error.message };
  }
  if (asked !== playgroundAsked) return; // a later change has asked again
  $("pg-call").textContent = answer.call || "";
  clearInterval(playgroundTimer);
  if (answer.error !== undefined) {
    $("pg-error").textContent = answer.error;
    $("pg-output").textContent = "";
    $("pg-formula").textContent = "";
    $("pg-canvas").getContext("2d").clearRect(0, 0, 720, 320);
    return;
  }
  $("pg-error").textContent = "";
  $("pg-output").textContent = `output: ${answer.output[0]}x${answer.output[1]}`;
  $("pg-formula").textContent = answer.formula.join("\n");
  let step = 0;
  const total = answer.output[0] * answer.output[1];
  const frame = () => { drawPlayground(answer, step % total); step++; };
  frame();
  playgroundTimer = setInterval(frame, 600);
}

function drawPlayground(a, step) {
  const canvas = $("pg-canvas");
  const context = canvas.getContext("2d");
  const [[pt, pb], [pl, pr]] = a.padding;
  const rows = a.input[0] + pt + pb, cols = a.input[1] + pl + pr;
  const [oh, ow] = a.output;
  const cell = Math.max(4, Math.min(28, Math.floor(Math.min(300 / Math.max(rows, oh), 420 / (cols + ow + 3)))));
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.font = `${Math.max(9, Math.min(13, cell - 4))}px sans-serif`;
  const r0 = Math.floor(step / ow), c0 = step % ow;
  const taps = new Set();
  for (let i = 0; i < a.kernel[0]; i++) {
    for (let j = 0; j < a.kernel[1]; j++) {
      taps.add(`${r0 * a.stride[0] + i * a.dilation[0]},${c0 * a.stride[1] + j * a.dilation[1]}`);
    }
  }
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const inside = r >= pt && r < pt + a.input[0] && c >= pl && c < pl + a.input[1];
      context.fillStyle = taps.has(`${r},${c}`) ? "#1e5aa5" : inside ? "#a6cef0" : "#e8e8e8";
      context.fillRect(c * cell, 20 + r * cell, cell - 1, cell - 1);
    }
  }
  const x0 = (cols + 2) * cell;
  for (let r = 0; r < oh; r++) {
    for (let c = 0; c < ow; c++) {
      const index = r * ow + c;
      context.fillStyle = index === step ? "#008073" : index < step ? "#96ded4" : "#f4f4f4";
      context.fillRect(x0 + c * cell, 20 + r * cell, cell - 1, cell - 1);
    }
  }
  context.fillStyle = "#222";
  context.fillText(`input ${a.input.join("x")} + padding (grey)`, 0, 12);
  context.fillText(`output ${a.output.join("x")}`, x0, 12);
}

function setupPlayground() {
  const form = $("playground");
  form.addEventListener("input", updatePlayground);
  form.addEventListener("change", updatePlayground);
  form.addEventListener("submit", (event) => { event.preventDefault(); updatePlayground(); });
  $("pg-operation").addEventListener("change", () => {
    if ($("pg-operation").value !== "conv") $("pg-stride").value = "";
  });
  updatePlayground();
}

// ------------------------------------------------------------ start

async function start() {
  setupDrawing();
  setupInputs();
  setupPlayground();
  $("saliency-class").addEventListener("change", showSaliency);
  $("slide-replay").addEventListener("click", () => state.neuronAnswer && startSlide(state.neuronAnswer));
  $("slide-channel").addEventListener("change", () => state.neuronAnswer && startSlide(state.neuronAnswer));
  try {
    state.info = await api("/api/info");
  } catch (error) {
    $("model-description").textContent = `the server did not answer: ${error.message}`;
    return;
  }
  $("model-description").textContent = state.info.description;
  if (state.info.warning) {
    $("banner").textContent = state.info.warning;
    $("banner").hidden = false;
  }
  const select = $("saliency-class");
  select.append(new Option("the predicted one", "predicted"),
    ...state.info.classes.map((name, k) => new Option(name, k)));
  if (state.info.test_images > 0) {
    $("test-controls").hidden = false;
    $("test-index").max = state.info.test_images - 1;
  }
  // Start on a test image when there is a test set, so that every view has something.
  if (state.info.test_images > 0) await pickTest(0);
  else await setDigit(new Array(784).fill(0));
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", start);
