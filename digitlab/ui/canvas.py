"""The Sketch tab's canvas: drawing in the browser, and the answer one round trip after the pen lifts.

A plain <canvas> with pointer events (mouse, pen and touch alike), a toolbar above it (four inks, the pen
size, eraser, undo, clear) and the answer below it: the top-k as bars and the view the model read, or,
for a number, the number with each digit boxed on the drawing. When a stroke ends the canvas posts itself
as a PNG to /api/sketch (digitlab.serve.sketch) with the page's session token; while an answer is pending
the panel says "Reading…", and only the newest drawing's answer is ever shown (each stroke is sent as it
ends; the server reads only a visitor's newest waiting drawing, and an older answer arriving late is dropped). Names from the model are
set as text, never as HTML.
"""

from __future__ import annotations

import gradio as gr

INKS = ["#000000", "#1f3fbf", "#c0392b", "#1e8449"]  # any ink reads: black, blue, red, green
SIZES = {"digit": (448, 448), "number": (896, 320)}

# A number read by the model's row reader (digitlab.models.rows) rather than digit by digit.
WHOLE_ROW = ("Read as a whole row: cut apart, a digit was unsure (digits that touch, or a piece of a neighbour).",
             "整行一起读出：逐个切开读时有一个数字没有把握（数字相连，或带着邻居的笔画）。")
WORDS_JS = {
    "en": {"draw": "Draw on the canvas…", "draw_number": "Write a number in a row, e.g. 2026…",
           "reading": "Reading…", "ink": "Ink", "pen": "Pen", "eraser": "Eraser", "undo": "Undo", "clear": "Clear",
           "sees": "What the model sees", "sure": "sure of the whole number", "answers": "Top answers",
           "canvas": "drawing area", "busy": "The lab is busy; your drawing will be read in a moment.",
           "ended": "This page's session has ended; reload the page.",
           "declined_digit": "This doesn't look like a digit — the model reads 0–9. Its closest guesses:",
           "declined_text": "This doesn't look like anything this model reads ({reads}). Its closest guesses:",
           "whole": WHOLE_ROW[0]},
    "zh-CN": {"draw": "在画布上写一个字…", "draw_number": "在一行里写一个数字，例如 2026…", "reading": "识别中…",
              "ink": "墨水", "pen": "笔粗", "eraser": "橡皮", "undo": "撤销", "clear": "清空",
              "sees": "模型看到的样子", "sure": "对整个数字的把握", "answers": "最可能的答案", "canvas": "画布",
              "busy": "实验室正忙，稍后会识别你的字。", "ended": "这个页面的会话已结束，请刷新页面。",
              "declined_digit": "这看起来不像数字——这个模型只认 0–9。它最接近的猜测：",
              "declined_text": "这看起来不像这个模型能认出的任何东西（{reads}）。它最接近的猜测：",
              "whole": WHOLE_ROW[1]},
}

TEMPLATE = """
<div class="dl-canvas">
  <div class="dl-tools" role="toolbar">
    <span class="dl-inks"></span>
    <label class="dl-pen"><span class="dl-w" data-w="pen"></span>
      <input type="range" min="4" max="40" step="1" value="14" aria-label="pen size"><output></output></label>
    <button type="button" class="dl-eraser dl-btn" aria-pressed="false" data-w="eraser"></button>
    <button type="button" class="dl-undo dl-btn" data-w="undo"></button>
    <button type="button" class="dl-clear dl-btn" data-w="clear"></button>
  </div>
  <div class="dl-body">
    <div class="dl-stage"><canvas class="dl-pad"></canvas><svg class="dl-boxes" aria-hidden="true"></svg></div>
    <div class="dl-result">
      <div class="dl-status" aria-live="polite"></div>
      <div class="dl-answer" aria-live="polite"></div>
      <figure class="dl-view" hidden><img alt=""><figcaption data-w="sees"></figcaption></figure>
    </div>
  </div>
</div>
"""

CSS = """
.dl-canvas { display: flex; flex-direction: column; gap: 8px; }
.dl-tools { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; }
.dl-inks { display: inline-flex; gap: 4px; }
.dl-ink { width: 28px; height: 28px; border-radius: 50%; border: 2px solid #cbd5e1; cursor: pointer; padding: 0; }
.dl-ink[aria-pressed="true"] { outline: 3px solid #6366f1; outline-offset: 1px; }
.dl-btn { border: 1px solid #cbd5e1; border-radius: 8px; padding: 4px 10px; background: #f8fafc; cursor: pointer;
          font-size: 14px; min-height: 32px; }
.dl-btn:hover { background: #eef2ff; }
.dl-btn[aria-pressed="true"] { background: #e0e7ff; border-color: #6366f1; }
.dl-pen { display: inline-flex; align-items: center; gap: 4px; font-size: 14px; }
.dl-pen input { width: 90px; }
.dl-body { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.dl-stage { position: relative; flex: 1 1 300px; max-width: var(--dl-width); }
.dl-pad { width: 100%; height: auto; display: block; background: #fff; border: 1px solid #cbd5e1; border-radius: 8px;
          touch-action: none; cursor: crosshair; }
.dl-boxes { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; }
.dl-status { min-height: 1.4em; color: #475569; font-size: 14px; }
.dl-status.dl-reading::before { content: ""; display: inline-block; width: 10px; height: 10px; margin-right: 6px;
          border-radius: 50%; border: 2px solid #6366f1; border-top-color: transparent; animation: dl-spin 0.8s
          linear infinite; vertical-align: -1px; }
@keyframes dl-spin { to { transform: rotate(360deg); } }
.dl-result { flex: 1 1 220px; min-width: 200px; display: flex; flex-direction: column; gap: 8px; }
.dl-answer { min-height: 2em; }
.dl-top { font-size: 40px; font-weight: 700; line-height: 1.1; }
.dl-top small { font-size: 18px; font-weight: 400; color: #475569; margin-left: 8px; }
.dl-top.dl-declined { font-size: 26px; color: #b45309; }
.dl-why { font-size: 14px; color: #475569; margin: 2px 0 6px; }
.dl-bar { display: grid; grid-template-columns: minmax(3em, auto) 1fr 3.5em; gap: 6px; align-items: center;
          font-size: 14px; margin: 3px 0; }
.dl-track { display: block; height: 10px; border-radius: 5px; background: #f1f5f9; overflow: hidden; }
.dl-fill { display: block; height: 10px; border-radius: 5px; background: #a5b4fc; }
.dl-fill.dl-first { background: #6366f1; }
.dl-p { text-align: right; font-variant-numeric: tabular-nums; }
.dl-view { margin: 0; font-size: 12px; color: #475569; display: flex; flex-direction: column; align-items: flex-start;
           gap: 2px; }
.dl-view[hidden] { display: none; }
.dl-view img { width: 112px; height: 112px; image-rendering: pixelated; border: 1px solid #cbd5e1; border-radius: 4px;
               background: #000; }
.dl-number { font-size: 40px; font-weight: 700; letter-spacing: 2px; }
.dl-digits { font-size: 14px; color: #475569; }
.dl-whole { font-size: 13px; color: #64748b; margin-top: 4px; }
@media (max-width: 600px) { .dl-top, .dl-number { font-size: 32px; } .dl-view[hidden] { display: none; }
.dl-view img { width: 84px; height: 84px; } }
"""

JS = """
const W = __WORDS__;
const INKS = __INKS__;
const SIZES = __SIZES__;
const root = element.querySelector('.dl-canvas');
const pad = element.querySelector('.dl-pad');
const boxes = element.querySelector('.dl-boxes');
const status = element.querySelector('.dl-status');
const answer = element.querySelector('.dl-answer');
const view = element.querySelector('.dl-view');
const ctx = pad.getContext('2d');
const state = {strokes: [], current: null, ink: INKS[0], erasing: false, seq: 0, shown: 0};
const words = () => W[props.lang] || W.en;
const say = (key) => words()[key] || W.en[key];

function relabel() {
  element.querySelectorAll('[data-w]').forEach((el) => { el.textContent = say(el.dataset.w); });
  pad.setAttribute('aria-label', say('canvas'));
  if (!state.strokes.length) hint();
}
function hint() { setStatus(say(props.mode === 'number' ? 'draw_number' : 'draw'), false); }
function setStatus(text, reading) { status.textContent = text; status.classList.toggle('dl-reading', !!reading); }

const inks = element.querySelector('.dl-inks');
INKS.forEach((colour, i) => {
  const b = document.createElement('button');
  b.type = 'button'; b.className = 'dl-ink'; b.style.background = colour;
  b.setAttribute('aria-label', say('ink') + ' ' + (i + 1)); b.setAttribute('aria-pressed', i === 0 ? 'true' : 'false');
  b.addEventListener('click', () => {
    state.ink = colour; state.erasing = false;
    inks.querySelectorAll('.dl-ink').forEach((o) => o.setAttribute('aria-pressed', o === b ? 'true' : 'false'));
    element.querySelector('.dl-eraser').setAttribute('aria-pressed', 'false');
  });
  inks.appendChild(b);
});
const size = element.querySelector('.dl-pen input');
const sizeOut = element.querySelector('.dl-pen output');
const showSize = () => { sizeOut.textContent = size.value + ' px'; };
size.addEventListener('input', showSize); showSize();

function resize() {
  const [w, h] = SIZES[props.mode] || SIZES.digit;
  if (pad.width !== w || pad.height !== h) { pad.width = w; pad.height = h; }
  root.style.setProperty('--dl-width', w + 'px');
  boxes.setAttribute('viewBox', `0 0 ${w} ${h}`);
  redraw();
}
function redraw() {
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, pad.width, pad.height);
  for (const s of state.strokes) paint(s);
}
function paint(s) {
  ctx.lineCap = 'round'; ctx.lineJoin = 'round'; ctx.lineWidth = s.width;
  ctx.strokeStyle = s.erase ? '#fff' : s.ink; ctx.fillStyle = ctx.strokeStyle;
  const p = s.points;
  if (p.length === 1) { ctx.beginPath(); ctx.arc(p[0][0], p[0][1], s.width / 2, 0, 2 * Math.PI); ctx.fill(); return; }
  ctx.beginPath(); ctx.moveTo(p[0][0], p[0][1]);
  for (let i = 1; i < p.length; i++) ctx.lineTo(p[i][0], p[i][1]);
  ctx.stroke();
}
function at(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
}
pad.addEventListener('pointerdown', (e) => {
  e.preventDefault(); pad.setPointerCapture(e.pointerId);
  state.current = {points: [at(e)], width: Number(size.value), ink: state.ink, erase: state.erasing};
  state.strokes.push(state.current); paint(state.current); boxes.innerHTML = '';
});
pad.addEventListener('pointermove', (e) => {
  if (!state.current) return;
  for (const ev of (e.getCoalescedEvents ? e.getCoalescedEvents() : [e])) state.current.points.push(at(ev));
  const p = state.current.points, n = p.length;
  ctx.lineCap = 'round'; ctx.lineJoin = 'round'; ctx.lineWidth = state.current.width;
  ctx.strokeStyle = state.current.erase ? '#fff' : state.current.ink;
  ctx.beginPath(); ctx.moveTo(p[Math.max(0, n - 8)][0], p[Math.max(0, n - 8)][1]);
  for (let i = Math.max(1, n - 7); i < n; i++) ctx.lineTo(p[i][0], p[i][1]);
  ctx.stroke();
});
const end = () => { if (state.current) { state.current = null; read(); } };
pad.addEventListener('pointerup', end);
pad.addEventListener('pointercancel', end);
element.querySelector('.dl-eraser').addEventListener('click', (e) => {
  state.erasing = !state.erasing; e.currentTarget.setAttribute('aria-pressed', state.erasing ? 'true' : 'false');
});
element.querySelector('.dl-undo').addEventListener('click', () => { state.strokes.pop(); redraw(); read(); });
element.querySelector('.dl-clear').addEventListener('click', () => clear(true));

function clear(send) {
  state.strokes = []; redraw(); boxes.innerHTML = ''; answer.replaceChildren(); view.hidden = true; hint();
  if (send) read();
}
function base() { return ((window.gradio_config && window.gradio_config.root) || window.location.origin).replace(/\\/$/, ''); }

async function read() {  // each stroke is sent as it ends; an answer older than one shown is dropped
  const seq = ++state.seq;
  const empty = !state.strokes.some((s) => !s.erase);
  const timer = setTimeout(() => { if (state.shown < seq) setStatus(say('reading'), true); }, 60);
  try {
    const blob = empty ? new Blob([]) : await new Promise((done) => pad.toBlob(done, 'image/png'));
    const url = `${base()}/api/sketch?mode=${props.mode}&k=${props.k}&seq=${seq}`;
    const res = await fetch(url, {method: 'POST', headers: {'X-Digitlab-Token': props.token || ''}, body: blob});
    const data = await res.json().catch(() => ({}));
    if (seq > state.shown && !data.superseded) show(data, res.status, seq);
  } catch (err) {
    if (seq === state.seq) setStatus(String(err), false);
  } finally {
    clearTimeout(timer);
  }
}
function show(data, code, seq) {
  state.shown = seq;
  answer.replaceChildren(); view.hidden = true; boxes.innerHTML = '';
  if (code === 401) { setStatus(say('ended'), false); return; }
  if (code === 429 || data.superseded) { setStatus(say('busy'), false); return; }
  if (data.error || code >= 400) { setStatus(data.error || ('HTTP ' + code), false); return; }
  if (data.empty) { hint(); notify(); return; }
  setStatus('', false);
  if (data.number !== undefined) showNumber(data); else showTop(data);
  notify();
}
function showTop(data) {
  const [first, p0] = data.top[0];
  const top = document.createElement('div'); top.className = 'dl-top';
  if (data.declined) {  // the model was taught what is not one of its classes, and says so
    top.classList.add('dl-declined'); top.textContent = '?';  // as the Upload tab's answer and a number's part
    const why = document.createElement('div'); why.className = 'dl-why'; why.textContent = data.reads === '0–9' ? say('declined_digit')
      : say('declined_text').replace('{reads}', data.reads);
    answer.append(top, why);
  } else {
    top.textContent = first; const pct = document.createElement('small'); pct.textContent = Math.round(p0 * 100) + '%';
    top.appendChild(pct); answer.appendChild(top);
  }
  const list = document.createElement('div'); list.className = 'dl-bars'; list.setAttribute('aria-label', say('answers'));
  data.top.forEach(([name, p], i) => {
    const row = document.createElement('div'); row.className = 'dl-bar';
    const n = document.createElement('span'); n.className = 'dl-name'; n.textContent = name;
    const f = document.createElement('span'); f.className = 'dl-fill' + (i === 0 ? ' dl-first' : '');
    f.style.width = Math.max(1, Math.round(p * 100)) + '%';
    const v = document.createElement('span'); v.className = 'dl-p'; v.textContent = (p * 100).toFixed(p < 0.1 ? 1 : 0) + '%';
    const track = document.createElement('span'); track.className = 'dl-track'; track.appendChild(f);
    row.append(n, track, v); list.appendChild(row);
  });
  answer.appendChild(list);
  view.querySelector('img').src = data.view; view.hidden = false;
}
function showNumber(data) {
  const n = document.createElement('div'); n.className = 'dl-number'; n.textContent = data.number;
  const d = document.createElement('div'); d.className = 'dl-digits';
  d.textContent = Math.round(data.confidence * 100) + '% ' + say('sure') + ' · ' +
    data.digits.map((g) => (g.declined ? '?' : g.name) + ' ' + Math.round(g.confidence * 100) + '%').join(' · ');
  answer.append(n, d);
  if (data.whole) {
    const w = document.createElement('div'); w.className = 'dl-whole'; w.textContent = say('whole');
    answer.append(w);
  }
  const ns = 'http://www.w3.org/2000/svg';
  const ends = {above: -Infinity, below: -Infinity};  // where the last label of each row ends: slim boxes side by side
  const bottom = boxes.viewBox.baseVal.height;  // take turns above and below, so no label covers its neighbour's
  for (const g of data.digits) {
    const [x0, y0, x1, y1] = g.box;
    const colour = g.declined ? '#dc2626' : g.confidence >= 0.9 ? '#16a34a' : g.confidence >= 0.5 ? '#d97706' : '#dc2626';
    const r = document.createElementNS(ns, 'rect');
    Object.entries({x: x0, y: y0, width: x1 - x0, height: y1 - y0, fill: 'none', stroke: colour, 'stroke-width': 3})
      .forEach(([k, v]) => r.setAttribute(k, v));
    const t = document.createElementNS(ns, 'text');
    Object.entries({x: x0, y: Math.max(16, y0 - 6), fill: colour, 'font-size': 18, 'font-family': 'sans-serif'})
      .forEach(([k, v]) => t.setAttribute(k, v));
    t.textContent = (g.declined ? '?' : g.name) + ' ' + Math.round(g.confidence * 100) + '%';
    boxes.append(r, t);
    const free = (side) => x0 >= ends[side] + 4;
    const row = free('above') ? 'above' : free('below') ? 'below' : ends.above <= ends.below ? 'above' : 'below';
    if (row === 'below') t.setAttribute('y', Math.min(bottom - 4, y1 + 20));
    ends[row] = x0 + t.getComputedTextLength();
  }
}
function notify() {  // a stale "Why" or "Saved" beside an answer it no longer explains: the page clears them
  const stale = (props.stale || []).some((sel) => (document.querySelector(sel)?.innerText || '').trim());
  if (stale) trigger('change');
}

watch('mode', () => { resize(); clear(false); });
watch('lang', () => { relabel(); if (state.strokes.length) read(); });  // the answer's words, in the new language
watch('k', () => { if (state.strokes.length) read(); });
watch('model', () => { if (state.strokes.length) read(); });  // another model: the same drawing, read by it
watch('clear', () => clear(true));
resize(); relabel();
"""


def canvas(elem_id: str, **props) -> gr.HTML:
    """The drawing pad with its toolbar and answer panel; props: token, mode ("digit" or "number"), k, lang."""
    import json

    js = (JS.replace("__WORDS__", json.dumps(WORDS_JS)).replace("__INKS__", json.dumps(INKS))
          .replace("__SIZES__", json.dumps(SIZES)))
    return gr.HTML(html_template=TEMPLATE, css_template=CSS, js_on_load=js, elem_id=elem_id,
                   **{"token": "", "mode": "digit", "k": 3, "lang": "en", "clear": 0, "stale": [], **props})
