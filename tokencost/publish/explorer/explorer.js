// The cost explorer's script (tokencost/publish/explorer.py embeds it with the table's data).
// Money math mirrors tokencost.pricing.hourly line for line, so that every figure equals what
// `tokencost quote --json` gives for the same row and assumptions (tests/browser/test_explorer.py checks it).
"use strict";

const DATA = JSON.parse(document.getElementById("data").textContent);
const HOURS_PER_YEAR = 8760;
const FLOOR = DATA.floor;
const NS = "http://www.w3.org/2000/svg";
// Okabe-Ito (told apart with colour blindness), then more; one colour per model on every chart of the page
const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000", "#56B4E9", "#E69F00", "#7E22CE", "#4D7C0F", "#B91C1C"];

// ---- rows -------------------------------------------------------------------------------------------------
function expand(table, basis) {
  const rows = [];
  for (let i = 0; i < table.length; i++) {
    const row = { index: i, basis: basis, file: DATA.files[basis] };
    for (const [column, values] of Object.entries(table.columns)) row[column] = values[i];
    row.label = table.labels[row.label];
    rows.push(row);
  }
  return rows;
}
const PROJECTED = expand(DATA.projected, "projected");
const MEASURED = expand(DATA.measured, "measured");
const MODELS = [...new Set([...PROJECTED, ...MEASURED].map((r) => r.model))];
const KIND = Object.fromEntries([...PROJECTED, ...MEASURED].map((r) => [r.model, r.kind]));
const GPUS = Object.keys(DATA.hardware);
const COLOR = Object.fromEntries(MODELS.map((m, i) => [m, PALETTE[i % PALETTE.length]]));
const SHAPES = [...new Set(PROJECTED.map((r) => r.isl + "x" + r.osl))];
const PRECISIONS = [...new Set([...PROJECTED, ...MEASURED].map((r) => r.precision || "bf16"))];
const COUNTS = [...new Set([...PROJECTED, ...MEASURED].map((r) => r.accelerator_count))].sort((a, b) => a - b);
const LABELS = [...new Set([...PROJECTED, ...MEASURED].map((r) => r.label))];

// ---- money math: tokencost.pricing.hourly ------------------------------------------------------------------
class Unpriced extends Error {} // a figure the catalog or preset lacks (hourly.py raises UserError there)

// mirrors tokencost.pricing.hourly.capital_recovery_factor
function capitalRecoveryFactor(rate, years) {
  if (rate === 0) return 1 / years;
  return rate / (1 - Math.pow(1 + rate, -years));
}
// mirrors tokencost.pricing.hourly.amortised_per_hour
function amortisedPerHour(usd, a) {
  return (usd * capitalRecoveryFactor(a.cost_of_capital, a.life_years)) / (HOURS_PER_YEAR * a.utilization);
}
// mirrors tokencost.pricing.hourly.fabric_units
function fabricUnits(units, nodes) {
  return nodes > 1 ? units : 0.0;
}
function required(hw, name) {
  const value = hw[name];
  if (value === null || value === undefined) throw new Unpriced(`${hw.name} has no ${name} in the catalog`);
  return value;
}
// mirrors tokencost.pricing.hourly.unit_price
function unitPrice(hw, a) {
  let price = required(hw, "price_usd");
  if (a.include_server_share) price += hw.server_share_usd || 0.0;
  return price;
}
// mirrors tokencost.pricing.hourly.rental_rate
function rentalRate(hw, a) {
  if (a.usd_per_gpu_hour !== null && a.usd_per_gpu_hour !== undefined) return a.usd_per_gpu_hour;
  if (a.rate === "rates") {
    if (!(hw.key in a.rates)) throw new Unpriced(`preset ${a.name} has no rate for ${hw.key}`);
    return a.rates[hw.key];
  }
  return required(hw, a.rate);
}
// mirrors tokencost.pricing.hourly.host_w_per_unit
function hostWPerUnit(hw, a) {
  return hw.key in a.host_w_by_hardware ? a.host_w_by_hardware[hw.key] : a.host_w_per_gpu;
}
// mirrors tokencost.pricing.hourly.boundary_power; returns billed W (device + host), what the bill reads
function billedW(units, hw, deviceW, a, nodes) {
  if (a.power_boundary === "gpu") return deviceW + 0.0;
  const host = units * hostWPerUnit(hw, a) + fabricUnits(units, nodes) * a.interconnect_w_per_gpu;
  return deviceW + host;
}
// mirrors tokencost.pricing.hourly.idle_device_w
function idleDeviceW(units, hw, a) {
  return units * (hw.idle_w || a.idle_power_fraction * required(hw, "tdp_w"));
}
// mirrors tokencost.pricing.hourly.hourly_cost: one serving hour of `units` GPUs drawing busyPowerW in all
function hourlyCost(units, hw, busyPowerW, a, idlePowerW = null, nodes = 1) {
  const u = a.utilization;
  const fabric = fabricUnits(units, nodes);
  if (a.ownership === "rented") {
    const rental = (units * rentalRate(hw, a)) / u;
    const interconnect = (fabric * a.interconnect_usd_per_gpu_hour) / u;
    return 0.0 + 0.0 + 0.0 + rental + interconnect; // HourlyCost.total: capital + energy + hosting + rental + interconnect
  }
  const capital = amortisedPerHour(units * unitPrice(hw, a), a);
  if (idlePowerW === null) idlePowerW = idleDeviceW(units, hw, a);
  const busy = billedW(units, hw, busyPowerW, a, nodes);
  const idle = billedW(units, hw, idlePowerW, a, nodes);
  const energy = ((busy + (idle * (1 - u)) / u) / 1000) * a.pue * a.usd_per_kwh;
  const provisionedKw = billedW(units, hw, units * required(hw, "tdp_w"), a, nodes) / 1000;
  const hosting = (provisionedKw * a.hosting_usd_per_kw_month * 12) / (HOURS_PER_YEAR * u);
  const interconnect = amortisedPerHour(fabric * a.interconnect_usd_per_gpu, a);
  return capital + energy + hosting + 0.0 + interconnect;
}
// mirrors tokencost.pricing.hourly.usd_per_mtok (with mtok_per_hour)
function usdPerMtok(hourlyUsd, tokensPerS) {
  return hourlyUsd / ((tokensPerS * 3600) / 1e6);
}

// ---- assumptions: tokencost.pricing.assumptions.load_assumptions with its pricing flags ----------------------
const FLAGS = {
  usd_per_gpu_hour: { flag: "--usd-per-gpu-hour", low: 0, high: 10000, lowOpen: true },
  usd_per_kwh: { flag: "--usd-per-kwh", low: 0, high: 10, lowOpen: false },
  utilization: { flag: "--utilization", low: 0, high: 1, lowOpen: true },
  life_years: { flag: "--years", low: 0, high: 50, lowOpen: true },
};
const OWNED_ONLY = new Set(["life_years", "usd_per_kwh"]); // tokencost.pricing.reads.OWNED_ONLY, of FLAGS

// The preset with the reader's values; a value the result does not read (the CLI refuses it) is set aside.
function assumptionsFor(preset, given) {
  const a = { ...DATA.presets[preset], rates: { ...DATA.presets[preset].rates } };
  const applied = {};
  const refused = {};
  if (given.usd_per_gpu_hour !== null) {
    a.usd_per_gpu_hour = given.usd_per_gpu_hour;
    if (a.ownership === "owned") a.ownership = "rented"; // a price per GPU-hour rents the hardware
    applied.usd_per_gpu_hour = given.usd_per_gpu_hour;
  }
  for (const key of ["usd_per_kwh", "utilization", "life_years"]) {
    if (given[key] === null) continue;
    if (OWNED_ONLY.has(key) && a.ownership === "rented") {
      refused[key] = "not read: the hardware is rented, and the rate covers its purchase, power and hosting";
      continue;
    }
    a[key] = given[key];
    applied[key] = given[key];
  }
  return { a, applied, refused };
}

// ---- state, kept in the URL's hash -------------------------------------------------------------------------
const DEFAULTS = {
  models: MODELS.filter((m) => PROJECTED.some((r) => r.model === m)),
  gpus: GPUS.includes("h100-sxm") ? ["h100-sxm"] : GPUS.slice(0, 1),
  count: "any",
  precision: PRECISIONS[0],
  tier: "ix-30" in DATA.tiers ? "ix-30" : FLOOR,
  basis: "input+output",
  shape: SHAPES[0],
  preset: DATA.main_preset,
  usd_per_gpu_hour: "",
  usd_per_kwh: "",
  utilization: "",
  life_years: "",
};
const $ = (id) => document.getElementById(id);

function readHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const state = { ...DEFAULTS };
  const list = (text, known) => text.split(",").filter((v) => known.includes(v));
  if (params.has("models")) state.models = list(params.get("models"), MODELS);
  if (params.has("gpus")) state.gpus = list(params.get("gpus"), GPUS);
  const pick = (key, known) => {
    if (params.has(key) && known.includes(params.get(key))) state[key] = params.get(key);
  };
  pick("count", ["any", ...COUNTS.map(String)]);
  pick("precision", PRECISIONS);
  pick("tier", Object.keys(DATA.tiers));
  pick("basis", ["input+output", "output"]);
  pick("shape", SHAPES);
  pick("preset", Object.keys(DATA.presets));
  for (const key of Object.keys(FLAGS)) if (params.has(key)) state[key] = params.get(key);
  return state;
}

function writeHash(state) {
  const params = new URLSearchParams();
  params.set("models", state.models.join(","));
  params.set("gpus", state.gpus.join(","));
  for (const key of ["count", "precision", "tier", "basis", "shape", "preset"]) params.set(key, state[key]);
  for (const key of Object.keys(FLAGS)) if (state[key] !== "") params.set(key, state[key]);
  const hash = "#" + params.toString();
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function option(select, value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  select.appendChild(o);
}

function checkboxes(container, values, name, text) {
  for (const value of values) {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.name = name;
    box.value = value;
    label.appendChild(box);
    label.append(" " + text(value));
    container.appendChild(label);
  }
}

function buildControls() {
  checkboxes($("models"), MODELS, "model", (m) => `${m} (${KIND[m]})`);
  checkboxes($("gpus"), GPUS, "gpu", (g) => DATA.hardware[g].name);
  option($("count"), "any", "cheapest");
  for (const n of COUNTS) option($("count"), String(n), `${n} GPU${n > 1 ? "s" : ""}`);
  for (const p of PRECISIONS) option($("precision"), p, p.toUpperCase());
  $("precision").disabled = PRECISIONS.length < 2;
  for (const [name, tier] of Object.entries(DATA.tiers)) option($("tier"), name, name === FLOOR ? `${name} (no latency limit)` : `${name}: ${tier.limits}`);
  for (const shape of SHAPES) option($("shape"), shape, shape.replace("x", " in / ") + " out");
  for (const [name, a] of Object.entries(DATA.presets)) option($("preset"), name, name);
}

function showState(state) {
  for (const box of document.querySelectorAll("#models input")) box.checked = state.models.includes(box.value);
  for (const box of document.querySelectorAll("#gpus input")) box.checked = state.gpus.includes(box.value);
  for (const key of ["count", "precision", "tier", "basis", "shape", "preset", ...Object.keys(FLAGS)]) $(key).value = state[key];
}

function stateFromControls() {
  const state = {};
  state.models = [...document.querySelectorAll("#models input:checked")].map((b) => b.value);
  state.gpus = [...document.querySelectorAll("#gpus input:checked")].map((b) => b.value);
  for (const key of ["count", "precision", "tier", "basis", "shape", "preset", ...Object.keys(FLAGS)]) state[key] = $(key).value.trim();
  return state;
}

// A typed value within the assumption's bounds (as the CLI checks them), else null with the reason.
function parseFlag(key, text) {
  if (text === "") return { value: null };
  const spec = FLAGS[key];
  const value = Number(text);
  const low = spec.lowOpen ? value > spec.low : value >= spec.low;
  if (!Number.isFinite(value) || !low || value > spec.high) {
    return { value: null, error: `${spec.flag} must be ${spec.lowOpen ? "above" : "at least"} ${spec.low} and at most ${spec.high}` };
  }
  return { value };
}

// ---- the answers: tokencost.analysis.service_level.cheapest_meeting over the shown rows ---------------------
// mirrors tokencost.analysis.service_level.meets; ttftMs null: not published (then a TTFT limit cannot be judged)
function meets(tier, tokSPerUser, ttftMs) {
  let ok = tokSPerUser > 0;
  if (tier.min_tok_s_user !== null && tier.min_tok_s_user !== undefined) ok = ok && tokSPerUser >= tier.min_tok_s_user;
  if (tier.tpot_ms !== null && tier.tpot_ms !== undefined) ok = ok && 1000 / tokSPerUser <= tier.tpot_ms;
  if (tier.ttft_ms !== null && tier.ttft_ms !== undefined) ok = ok && ttftMs !== null && ttftMs <= tier.ttft_ms;
  return ok;
}

function pricer(a) {
  const cache = new Map();
  return (row, basis) => {
    const key = row.hardware + "|" + row.accelerator_count + "|" + row.power_w;
    if (!cache.has(key)) {
      try {
        cache.set(key, hourlyCost(row.accelerator_count, DATA.hardware[row.hardware], row.power_w, a));
      } catch (e) {
        if (!(e instanceof Unpriced)) throw e;
        cache.set(key, e);
      }
    }
    const hourly = cache.get(key);
    if (hourly instanceof Unpriced) return { usd: null, why: hourly.message, hourly: null };
    const tokS = basis === "input+output" ? row.total_tok_s : row.output_tok_s;
    return { usd: usdPerMtok(hourly, tokS), hourly: hourly };
  };
}

// Rows by model and GPU, so that each render filters a few dozen rows, not the whole table.
function byModelAndGpu(rows) {
  const index = new Map();
  for (const r of rows) {
    const key = r.model + "|" + r.hardware;
    if (!index.has(key)) index.set(key, []);
    index.get(key).push(r);
  }
  return index;
}
const INDEX = new Map([
  [PROJECTED, byModelAndGpu(PROJECTED)],
  [MEASURED, byModelAndGpu(MEASURED)],
]);

function rowsFor(rows, state, model, gpu) {
  const [isl, osl] = state.shape.split("x").map(Number);
  return (INDEX.get(rows).get(model + "|" + gpu) || [])
    .filter(
      (r) =>
        (r.precision || "bf16") === state.precision &&
        (state.count === "any" || r.accelerator_count === Number(state.count)) &&
        (r.basis === "measured" || (r.isl === isl && r.osl === osl)),
    )
    .sort((x, y) => x.accelerator_count - y.accelerator_count || x.batch_size - y.batch_size);
}

// The cheapest row that keeps the tier (the floor: any row); a tie goes to fewer GPUs, then the smaller batch.
function cheapest(rows, tier, price, basis) {
  let best = null;
  let unpriced = null;
  for (const row of rows) {
    if (tier !== null && !meets(tier, row.tok_s_per_user, row.ttft_ms === undefined ? null : row.ttft_ms)) continue;
    const cost = price(row, basis);
    if (cost.usd === null) {
      unpriced = cost.why;
      continue;
    }
    if (best === null || cost.usd < best.usd) best = { row, usd: cost.usd, hourly: cost.hourly };
  }
  return best || { row: null, unpriced };
}

// $/M bounds from a row's throughput band (cost is hourly / throughput): its regime's held-out low and high
// where it has them, else +/- error_band (gpu_answers._cost_range)
function band(usd, row) {
  const low = row.projected_output_tok_s_low, high = row.projected_output_tok_s_high;
  if (low > 0 && high > 0) return [(usd * row.output_tok_s) / high, (usd * row.output_tok_s) / low];
  const error = row.error_band;
  return [usd / (1 + error), error < 1 ? usd / (1 - error) : Infinity];
}

// The band in words: the regime's held-out band, or the error it falls back to
function bandText(row) {
  if (row.projected_output_tok_s_low > 0) return `the held-out band of its regime (${row.regime}) on throughput`;
  return `±${Math.round(row.error_band * 100)}% on throughput${row.regime ? ` (${row.regime}: no held-out band)` : ""}`;
}

// ---- formatting ---------------------------------------------------------------------------------------------
function num(v, digits = 3) {
  if (v === null || !Number.isFinite(v)) return "n/a";
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
  const text = String(Number(v.toPrecision(digits)));
  return text.includes("e") ? v.toFixed(Math.max(0, digits - Math.floor(Math.log10(Math.abs(v))) - 1)) : text;
}
const usd = (v) => (v === null || !Number.isFinite(v) ? "n/a" : "$" + num(v));
const el = (tag, attrs = {}, text = "") => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
};
function figure(best, basis, role) {
  // A shown $/M: which row of which file, on which token basis, so that anyone can recompute it.
  return el(
    "span",
    {
      class: "usd",
      "data-testid": "usd-per-m",
      "data-file": best.row.file,
      "data-row": String(best.row.index),
      "data-basis": basis,
      "data-role": role,
      "data-value": String(best.usd),
    },
    usd(best.usd),
  );
}
const cite = (row) => `[${LABELS.indexOf(row.label) + 1}]`;
const gpuName = (g) => DATA.hardware[g].name;

// ---- rendering ----------------------------------------------------------------------------------------------
// What a blank box prices with: the preset's own value.
function placeholder(key, preset) {
  if (key !== "usd_per_gpu_hour") return String(preset[key]);
  if (preset.ownership === "owned") return "owned (a rate rents)";
  return preset.rate === "rates" ? "the preset's rates" : "the catalog's rate";
}

function render(state) {
  const given = {};
  const errors = [];
  for (const key of Object.keys(FLAGS)) {
    const parsed = parseFlag(key, state[key]);
    given[key] = parsed.value;
    $(key).classList.toggle("refused", Boolean(parsed.error));
    if (parsed.error) errors.push(parsed.error);
  }
  const { a, applied, refused } = assumptionsFor(state.preset, given);
  for (const key of Object.keys(FLAGS)) {
    if (key in refused) $(key).classList.add("refused");
    $(key).placeholder = placeholder(key, DATA.presets[state.preset]);
  }
  const width = Math.max(300, $("results").clientWidth || 360); // read once, before the page changes
  const price = pricer(a);
  const tier = state.tier === FLOOR ? null : DATA.tiers[state.tier];
  const basisText = state.basis === "input+output" ? "input + output tokens" : "output tokens";
  const assumptionsNote = $("assumptions");
  assumptionsNote.textContent = "";
  const set = Object.entries(applied).map(([k, v]) => `${FLAGS[k].flag} ${v}`).join(" ");
  assumptionsNote.append(
    `Preset '${state.preset}': ${DATA.presets[state.preset].description}; ${a.ownership}${set ? "; with " + set : ""}. ` +
      `As the command line: tokencost quote --preset ${state.preset}${set ? " " + set : ""}.`,
  );
  for (const [key, why] of Object.entries(refused)) assumptionsNote.appendChild(el("span", { class: "warn" }, ` ${FLAGS[key].flag}: ${why}.`));
  for (const error of errors) assumptionsNote.appendChild(el("span", { class: "warn" }, ` ${error}.`));

  // projected answers, one per model and GPU, ranked among themselves only
  const projected = [];
  const measured = [];
  for (const model of state.models) {
    for (const gpu of state.gpus) {
      const rows = rowsFor(PROJECTED, state, model, gpu);
      if (rows.length) projected.push({ model, gpu, ...cheapest(rows, tier, price, state.basis) });
      const others = rowsFor(MEASURED, state, model, gpu);
      if (others.length) {
        const unjudged = tier !== null && tier.ttft_ms !== null && tier.ttft_ms !== undefined;
        measured.push({ model, gpu, unjudged, ...(unjudged ? { row: null } : cheapest(others, tier, price, "output")) });
      }
    }
  }
  const byCost = (x, y) => (x.row === null) - (y.row === null) || (x.usd || 0) - (y.usd || 0);
  projected.sort(byCost);
  measured.sort(byCost);
  renderHeadline(projected, measured, state, basisText);
  renderProjected(projected, state, basisText);
  renderMeasured(measured, state);
  renderChart(projected, state, basisText, width);
  renderCurves(state, price, width);
  renderVerdict(state, tier, price);
  renderMethods();
  writeHash(state);
}

function where(answer) {
  const r = answer.row;
  return `${r.accelerator_count} × ${gpuName(answer.gpu)}, batch ${r.batch_size}`;
}

function renderHeadline(projected, measured, state, basisText) {
  const box = $("headline");
  box.textContent = "";
  const best = projected.find((p) => p.row !== null);
  const tierText = state.tier === FLOOR ? "with no latency limit (a batch-processing floor)" : `keeping tier ${state.tier} (${DATA.tiers[state.tier].limits})`;
  if (!best) {
    box.appendChild(el("p", {}, `No projected point of the models and GPUs chosen ${projected.length ? "keeps this tier or has a price under this preset" : "is in the table"}.`));
  } else {
    const p = el("p");
    p.appendChild(el("span", { class: "tag projected" }, "projected"));
    p.append(" Cheapest of your choice: ");
    const big = el("span", { class: "big" });
    big.appendChild(figure(best, state.basis, "headline"));
    p.appendChild(big);
    p.append(` per million ${basisText}`);
    box.appendChild(p);
    const [low, high] = band(best.usd, best.row);
    box.appendChild(
      el("p", { class: "detail" }, `${best.model} (${KIND[best.model]}) on ${where(best)}, ${num(best.row.tok_s_per_user)} tok/s per user, ${tierText}; ` + `${usd(low)} to ${usd(high)} within ${bandText(best.row)}; preset '${state.preset}'. ${cite(best.row)}`),
    );
  }
  const other = measured.find((m) => m.row !== null);
  if (other) {
    const p = el("p", { class: "others-line" });
    p.appendChild(el("span", { class: "tag others" }, "measured by ML.ENERGY"));
    p.append(" cheapest of your choice, ranked apart: ");
    p.appendChild(figure(other, "output", "headline-measured"));
    p.append(` per million output tokens (their workload, their batch), ${other.model} on ${where(other)}. ${cite(other.row)}`);
    box.appendChild(p);
  }
}

function answerItem(answer, basis, state, basisText) {
  const li = el("li");
  const head = el("div", { class: "figure-head" });
  const name = el("span");
  name.appendChild(el("span", { class: "swatch", style: `background:${COLOR[answer.model]}` }));
  name.append(`${answer.model} (${KIND[answer.model]}) · ${gpuName(answer.gpu)}`);
  head.appendChild(name);
  if (answer.row) head.appendChild(figure(answer, basis, answer.row.basis === "projected" ? "answer" : "measured"));
  else head.appendChild(el("span", { class: "usd" }, "n/a"));
  li.appendChild(head);
  let detail;
  if (answer.unjudged) detail = `tier ${state.tier} limits TTFT, which ML.ENERGY does not publish: not judged`;
  else if (!answer.row) detail = answer.unpriced ? `no price: ${answer.unpriced}` : `no point keeps tier ${state.tier}`;
  else {
    const r = answer.row;
    const [low, high] = band(answer.usd, r);
    detail =
      `per M ${basisText}; ${where(answer)}; ${num(r.tok_s_per_user)} tok/s per user` +
      (r.ttft_ms !== undefined ? `, TTFT ${num(r.ttft_ms)} ms` : "") +
      `; ${num(r.output_tok_s)} output tok/s; $${num(answer.hourly)}/h; ` +
      (r.basis === "projected" ? `${usd(low)} to ${usd(high)} (${bandText(r)}) ` : `projection's error here ±${Math.round(r.error_band * 100)}% `) +
      cite(r);
  }
  li.appendChild(el("div", { class: "detail" }, detail));
  return li;
}

function renderProjected(projected, state, basisText) {
  const list = $("projected");
  list.textContent = "";
  for (const answer of projected) list.appendChild(answerItem(answer, state.basis, state, basisText));
  $("projected-note").textContent =
    `At ${state.shape.replace("x", " input / ")} output tokens a request, fixed lengths, ${state.precision.toUpperCase()}, power at TDP (estimated); ` +
    `each figure is the cheapest ${state.count === "any" ? "GPU count and batch" : "batch on " + state.count + " GPU(s)"} whose projected pace and TTFT keep the tier. ` +
    (projected.length ? "" : "Choose a model and a GPU.");
}

function renderMeasured(measured, state) {
  const list = $("measured");
  list.textContent = "";
  for (const answer of measured) list.appendChild(answerItem(answer, "output", state, "output tokens"));
  $("measured-note").textContent =
    "ML.ENERGY's LMArena chat runs (vLLM 0.11.1, BF16), GPU power measured; they publish output tokens only, so these are $/M output tokens " +
    "(the whole hour charged to them) on their own workload, whatever the token basis and shape chosen above: never ranked with the projections. " +
    (measured.length ? "" : "None of the models and GPUs chosen was measured by them.");
}

function svg(tag, attrs = {}, text = "") {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function niceTicks(max, count = 4) {
  const step0 = max / count;
  const magnitude = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= step0);
  const ticks = [];
  for (let i = 0; ticks.length === 0 || ticks[ticks.length - 1] < max; i++) ticks.push(i * step);
  return ticks;
}

function renderChart(projected, state, basisText, width) {
  const box = $("chart");
  box.textContent = "";
  const shown = projected.filter((p) => p.row !== null);
  if (!shown.length) {
    box.appendChild(el("p", { class: "note" }, "Nothing to draw."));
    return;
  }
  const left = 8, right = 16, rowH = 34, top = 8, axisH = 34;
  const height = top + shown.length * rowH + axisH;
  const highs = shown.map((p) => band(p.usd, p.row)[1]).filter(Number.isFinite);
  const max = Math.max(...shown.map((p) => p.usd * 1.5), ...highs) || 1;
  const ticks = niceTicks(max);
  const xMax = ticks[ticks.length - 1];
  const x = (v) => left + ((width - left - right) * Math.min(v, xMax)) / xMax;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `$ per million ${basisText}, projected, with held-out error bands` });
  for (const t of ticks) {
    chart.appendChild(svg("line", { class: "grid-line", x1: x(t), x2: x(t), y1: top, y2: height - axisH }));
    chart.appendChild(svg("text", { x: x(t), y: height - axisH + 14, "text-anchor": t === 0 ? "start" : "middle" }, "$" + num(t)));
  }
  chart.appendChild(svg("text", { x: width / 2, y: height - 4, "text-anchor": "middle" }, `$ per million ${basisText}, projected`));
  shown.forEach((p, i) => {
    const y = top + i * rowH;
    const [low, high] = band(p.usd, p.row);
    chart.appendChild(svg("text", { x: left, y: y + 11 }, `${p.model} · ${gpuName(p.gpu)} · ${p.row.accelerator_count}×, batch ${p.row.batch_size}: ${usd(p.usd)}`));
    chart.appendChild(svg("line", { x1: x(low), x2: x(high), y1: y + 22, y2: y + 22, stroke: COLOR[p.model], "stroke-width": 3, "stroke-linecap": "round", "data-low": low, "data-high": high }));
    const dot = svg("circle", { cx: x(p.usd), cy: y + 22, r: 5, fill: COLOR[p.model], stroke: "#fff", "stroke-width": 1.5 });
    dot.appendChild(svg("title", {}, `${p.model} on ${p.row.accelerator_count} × ${gpuName(p.gpu)}: ${usd(p.usd)} (${usd(low)} to ${usd(high)})`));
    chart.appendChild(dot);
  });
  chart.appendChild(svg("line", { class: "axis", x1: left, x2: width - right, y1: height - axisH, y2: height - axisH }));
  box.appendChild(chart);
}

// The lower-right front of (pace, cost): for each point, nothing both faster per user and cheaper.
function front(points) {
  const sorted = [...points].sort((p, q) => q.x - p.x || p.y - q.y);
  const kept = [];
  let cheapestSoFar = Infinity;
  for (const p of sorted) {
    if (p.y < cheapestSoFar) {
      kept.push(p);
      cheapestSoFar = p.y;
    }
  }
  return kept.reverse();
}

function renderCurves(state, price, width) {
  const box = $("curves");
  box.textContent = "";
  const series = [];
  for (const model of state.models) {
    for (const gpu of state.gpus) {
      const points = [];
      for (const row of rowsFor(PROJECTED, state, model, gpu)) {
        const cost = price(row, state.basis);
        if (cost.usd !== null && row.tok_s_per_user > 0) points.push({ x: row.tok_s_per_user, y: cost.usd, row });
      }
      if (points.length) series.push({ model, gpu, points: front(points) });
    }
  }
  if (!series.length) {
    box.appendChild(el("p", { class: "note" }, "Nothing to draw."));
    return;
  }
  const height = Math.round(Math.min(420, Math.max(260, width * 0.62)));
  const left = 50, right = 12, top = 10, bottom = 40;
  const all = series.flatMap((s) => s.points);
  const xTicks = niceTicks(Math.max(...all.map((p) => p.x)));
  const xMax = xTicks[xTicks.length - 1];
  const yLow = Math.pow(10, Math.floor(Math.log10(Math.min(...all.map((p) => p.y)))));
  const yHigh = Math.pow(10, Math.ceil(Math.log10(Math.max(...all.map((p) => p.y)))));
  const x = (v) => left + ((width - left - right) * v) / xMax;
  const y = (v) => top + ((height - top - bottom) * (Math.log10(yHigh) - Math.log10(v))) / (Math.log10(yHigh) - Math.log10(yLow) || 1);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "projected $ per million tokens against tok/s per user" });
  for (let d = yLow; d <= yHigh * 1.0001; d *= 10) {
    for (const m of [1, 2, 5]) {
      const v = d * m;
      if (v > yHigh * 1.0001) continue;
      chart.appendChild(svg("line", { class: "grid-line", x1: left, x2: width - right, y1: y(v), y2: y(v) }));
      chart.appendChild(svg("text", { x: left - 4, y: y(v) + 4, "text-anchor": "end" }, "$" + num(v)));
    }
  }
  for (const t of xTicks) {
    const anchor = t === xMax ? "end" : t === 0 ? "start" : "middle";
    chart.appendChild(svg("text", { x: x(t), y: height - bottom + 14, "text-anchor": anchor }, num(t)));
  }
  const tier = state.tier === FLOOR ? null : DATA.tiers[state.tier];
  const paceLimit = tier ? Math.max(tier.min_tok_s_user || 0, tier.tpot_ms ? 1000 / tier.tpot_ms : 0) : 0;
  if (paceLimit > 0 && paceLimit <= xMax) {
    chart.appendChild(svg("line", { x1: x(paceLimit), x2: x(paceLimit), y1: top, y2: height - bottom, stroke: "#b42318", "stroke-dasharray": "4 3" }));
    chart.appendChild(svg("text", { x: x(paceLimit) + 3, y: top + 10 }, `${state.tier} pace`));
  }
  chart.appendChild(svg("text", { x: (left + width - right) / 2, y: height - 6, "text-anchor": "middle" }, "tok/s per user (output tokens each user reads a second)"));
  const yTitle = svg("text", { x: 12, y: (top + height - bottom) / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${(top + height - bottom) / 2})` }, `$/M ${state.basis === "output" ? "output" : "in+out"} (log)`);
  chart.appendChild(yTitle);
  const dashes = ["", "6 3", "2 3", "8 3 2 3"];
  for (const s of series) {
    const path = s.points.map((p, i) => `${i ? "L" : "M"}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(" ");
    chart.appendChild(svg("path", { d: path, fill: "none", stroke: COLOR[s.model], "stroke-width": 2, "stroke-dasharray": dashes[state.gpus.indexOf(s.gpu) % dashes.length] }));
    for (const p of s.points) {
      const dot = svg("circle", { cx: x(p.x), cy: y(p.y), r: 3, fill: COLOR[s.model] });
      dot.appendChild(svg("title", {}, `${s.model} on ${p.row.accelerator_count} × ${gpuName(s.gpu)}, batch ${p.row.batch_size}: ${num(p.x)} tok/s per user, ${usd(p.y)}`));
      chart.appendChild(dot);
    }
  }
  chart.appendChild(svg("line", { class: "axis", x1: left, x2: width - right, y1: height - bottom, y2: height - bottom }));
  box.appendChild(chart);
  const legend = el("div", { class: "legend" });
  for (const s of series) legend.appendChild(el("span", { style: `color:${COLOR[s.model]}` }, `${state.gpus.length > 1 ? ["——", "– –", "···", "–·–"][state.gpus.indexOf(s.gpu) % 4] : "●"} ${s.model} · ${gpuName(s.gpu)}`));
  box.appendChild(legend);
}

function renderVerdict(state, tier, price) {
  const box = $("verdict");
  box.textContent = "";
  box.appendChild(
    el("p", { class: "note" }, `Projected, each model on its own cheapest ${state.count === "any" ? "GPU count and batch" : "batch"} at the tier chosen, per million ${state.basis === "output" ? "output" : "input + output"} tokens. A pair is quality-matched only where the page says so.`),
  );
  let any = false;
  for (const pair of DATA.pairs) {
    for (const gpu of state.gpus) {
      const moeRows = rowsFor(PROJECTED, state, pair.moe, gpu);
      const denseRows = rowsFor(PROJECTED, state, pair.dense, gpu);
      if (!moeRows.length || !denseRows.length) continue;
      any = true;
      const moe = cheapest(moeRows, tier, price, state.basis);
      const dense = cheapest(denseRows, tier, price, state.basis);
      const div = el("div", { class: "verdict-row", "data-testid": "verdict-pair" });
      div.appendChild(el("strong", {}, `${pair.moe} (MoE) against ${pair.dense} (dense) on ${gpuName(gpu)}`));
      const line = el("div");
      if (!moe.row || !dense.row) {
        line.append(`Not comparable: ${!moe.row ? pair.moe : pair.dense} ${(!moe.row ? moe : dense).unpriced ? "has no price here" : "keeps no point of this tier"}.`);
      } else {
        const ratio = moe.usd / dense.usd;
        const [moeLow, moeHigh] = band(moe.usd, moe.row);
        const [denseLow, denseHigh] = band(dense.usd, dense.row);
        const overlap = moeLow <= denseHigh && denseLow <= moeHigh;
        const verdict = overlap
          ? "within the error bands: no clear winner"
          : ratio < 1
            ? `MoE cheaper: ${num(ratio)}× the dense model's cost`
            : `dense cheaper: MoE costs ${num(ratio)}× as much`;
        line.append("MoE ");
        line.appendChild(figure(moe, state.basis, "verdict"));
        line.append(` (${moe.row.accelerator_count}×, batch ${moe.row.batch_size}) against dense `);
        line.appendChild(figure(dense, state.basis, "verdict"));
        line.append(` (${dense.row.accelerator_count}×, batch ${dense.row.batch_size}): `);
        line.appendChild(el("b", { "data-testid": "verdict-text" }, verdict));
        line.append(".");
      }
      div.appendChild(line);
      div.appendChild(el("div", { class: "detail" }, `Quality-matched: ${pair.quality} (${pair.why}).`));
      box.appendChild(div);
    }
  }
  if (!any) box.appendChild(el("p", {}, "No dense/MoE pair on the GPUs chosen."));
}

function renderMethods() {
  const list = $("methods");
  if (list.childElementCount) return;
  LABELS.forEach((label) => list.appendChild(el("li", {}, label)));
  const hw = el("li", {}, "Catalog figures priced: " + GPUS.map((g) => `${gpuName(g)} ${Object.entries(DATA.hardware[g]).filter(([k, v]) => typeof v === "number").map(([k, v]) => `${k} ${v}`).join(", ")}`).join("; ") + ". Sources: tokencost/data/hardware.toml and presets.toml.");
  list.appendChild(hw);
}

// ---- wiring ---------------------------------------------------------------------------------------------------
function update() {
  render(stateFromControls());
}
buildControls();
showState(readHash());
update();
// Typing re-prices at once (input); a box or a list re-prices when it changes (change; not twice on input too).
const typed = (event) => event.target.type === "number";
$("controls").addEventListener("input", (event) => typed(event) && update());
$("controls").addEventListener("change", (event) => typed(event) || update());
window.addEventListener("hashchange", () => {
  showState(readHash());
  update();
});
let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(update, 100);
});
