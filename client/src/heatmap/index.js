// Console heatmap page (/projects/{id}/heatmaps).
//
// The page has a strict CSP (no inline script), so everything comes from the DOM:
//   <div id="heatmap" data-kind data-blocks-url data-page-ts data-sessions-url ...>
//   <script type="application/json" id="heatmap-data"> (the heatmap, as the API gives it)
// The recorded page is rebuilt from a full snapshot into rrweb-snapshot's sandboxed iframe
// (sandbox="allow-same-origin" only: recorded script never runs; the console's CSP, which
// an about:blank frame inherits, is a second wall). A canvas above it takes every pointer
// event, so nothing in the recorded page can be clicked or navigated.
// `#heatmap[data-state]`: loading, drawn, error.

import { createCache, createMirror, rebuildIntoSandboxedIframe } from 'rrweb-snapshot';
import { drawBands, drawOutlines, drawPoints } from './draw.js';
import './heatmap.css';

const FULL_SNAPSHOT = 2;
const META = 4;
const MAX_HEIGHT = 20000;
const FALLBACK_WIDTH = 1280;
const SETTLE_MS = 400;

async function getJson(url) {
  const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error('HTTP ' + response.status);
  return response.json();
}

function status(stage, text) {
  let p = stage.querySelector('.heatmap-status');
  if (!p) {
    p = document.createElement('p');
    p.className = 'heatmap-status muted';
    p.setAttribute('role', 'status');
    stage.prepend(p);
  }
  p.textContent = text;
  p.hidden = !text;
}

/** The full snapshot of the page load at pageTs (or the last one before it), with its Meta. */
async function findSnapshot(blocksUrl, pageTs) {
  const list = await getJson(blocksUrl);
  let meta = null;
  let before = null;
  for (const block of list.blocks || []) {
    if (!block.has_full_snapshot) continue;
    if (before && block.first_ts > pageTs) break;
    const events = await getJson(block.url);
    for (const event of Array.isArray(events) ? events : []) {
      if (event.type === META) meta = event;
      if (event.type !== FULL_SNAPSHOT || !event.data || !event.data.node) continue;
      if (event.timestamp >= pageTs) return { snapshot: event, meta };
      before = { snapshot: event, meta };
    }
  }
  return before;
}

function wait(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Lays out the frame (the rebuilt page, or a blank page) and the canvas over it. */
function buildFrame(stage, width) {
  const outer = document.createElement('div');
  outer.className = 'heatmap-outer';
  const frame = document.createElement('div');
  frame.className = 'heatmap-frame';
  frame.style.width = width + 'px';
  outer.appendChild(frame);
  stage.appendChild(outer);
  return { outer, frame };
}

function fit(stage, outer, frame, width, height) {
  const scale = Math.min(1, (stage.clientWidth || width) / width);
  frame.style.height = height + 'px';
  frame.style.transform = `scale(${scale})`;
  outer.style.height = Math.ceil(height * scale) + 'px';
  return scale;
}

async function rebuildPage(frame, found, width) {
  const { iframe } = rebuildIntoSandboxedIframe(found.snapshot.data.node, {
    root: frame,
    cache: createCache(),
    mirror: createMirror(),
    iframeAttributes: { title: 'The recorded page (a still copy)', tabindex: '-1', scrolling: 'no' },
  });
  iframe.className = 'heatmap-page';
  iframe.style.width = width + 'px';
  iframe.style.height = '800px';
  await wait(SETTLE_MS); // stylesheets and images of the copy
  const doc = iframe.contentDocument;
  const root = doc && doc.documentElement;
  const height = Math.min(MAX_HEIGHT, Math.max(root ? root.scrollHeight : 0, doc && doc.body ? doc.body.scrollHeight : 0, 200));
  iframe.style.height = height + 'px';
  return { doc, height };
}

function gridPoints(data, width) {
  const colWidth = width / data.columns;
  return data.cells.map(([x, y, n]) => ({ x: (x + 0.5) * colWidth, y: (y + 0.5) * data.row_px, w: n }));
}

/** Elements of the heatmap found on the rebuilt page, with their boxes. */
function locate(doc, elements) {
  const out = [];
  if (!doc) return out;
  for (const element of elements) {
    let node = null;
    try {
      node = doc.querySelector(element.selector);
    } catch (err) {
      node = null; // a selector this browser cannot parse
    }
    if (!node || !node.getBoundingClientRect) continue;
    const r = node.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) continue;
    out.push({ ...element, left: r.left, top: r.top, width: r.width, height: r.height });
  }
  return out;
}

function elementPoints(boxes) {
  return boxes.map((b) => ({
    x: b.left + (b.offset_x / 1000) * b.width,
    y: b.top + (b.offset_y / 1000) * b.height,
    w: b.clicks,
  }));
}

function bandsOf(kind, data) {
  return data.bands.map((b) => ({
    share: b.share,
    label: kind === 'scroll'
      ? `${b.from_pct}%: ${Math.round(b.share * 100)}% of pageviews`
      : `${b.from_pct}%: ${Math.round(b.mean_ms / 100) / 10} s a view`,
  }));
}

async function showSessions(stage, selector) {
  const box = document.getElementById('element-sessions');
  if (!box) return;
  box.hidden = false;
  box.querySelector('.selector').textContent = selector;
  const list = box.querySelector('.session-links');
  list.textContent = '';
  const base = stage.getAttribute('data-sessions-url');
  try {
    const found = await getJson(base + (base.includes('?') ? '&' : '?') + 'selector=' + encodeURIComponent(selector));
    if (!found.sessions.length) {
      const li = document.createElement('li');
      li.className = 'empty';
      li.textContent = 'No recorded clicks of it are left (sessions past retention are purged).';
      list.appendChild(li);
    }
    for (const s of found.sessions) {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = s.replay_url;
      a.textContent = `${s.started_at.replace('T', ' ').slice(0, 16)} · ${s.clicks} click${s.clicks === 1 ? '' : 's'} · at ${Math.floor(s.offset_s / 60)}:${String(s.offset_s % 60).padStart(2, '0')}`;
      li.appendChild(a);
      list.appendChild(li);
    }
    box.setAttribute('data-loaded', String(found.sessions.length));
  } catch (err) {
    const li = document.createElement('li');
    li.className = 'error';
    li.textContent = 'Could not load the sessions (' + err.message + ').';
    list.appendChild(li);
  }
}

function hit(boxes, x, y) {
  const inside = boxes.filter((b) => x >= b.left && x <= b.left + b.width && y >= b.top && y <= b.top + b.height);
  inside.sort((a, b) => a.width * a.height - b.width * b.height);
  return inside[0] || null;
}

async function start(stage, data) {
  const kind = stage.getAttribute('data-kind');
  stage.setAttribute('data-state', 'loading');
  const blocksUrl = stage.getAttribute('data-blocks-url');
  const pageTs = Number(stage.getAttribute('data-page-ts'));
  let found = null;
  if (blocksUrl) {
    try {
      found = await findSnapshot(blocksUrl, pageTs);
    } catch (err) {
      found = null;
    }
  }
  const recordedWidth = found && found.meta && found.meta.data && found.meta.data.width;
  const width = Math.max(320, Number(stage.getAttribute('data-viewport-width')) || recordedWidth || FALLBACK_WIDTH);
  const { outer, frame } = buildFrame(stage, width);
  let doc = null;
  let height = Number(stage.getAttribute('data-doc-height')) || 0;
  if (found) {
    try {
      ({ doc, height } = await rebuildPage(frame, found, width));
      status(stage, '');
    } catch (err) {
      status(stage, 'The page could not be rebuilt from its recording; the heat is drawn on a blank page.');
    }
  } else if (blocksUrl) {
    status(stage, 'No full snapshot of this page was found; the heat is drawn on a blank page.');
  }
  if (!doc) {
    const deepest = data.cells ? Math.max(0, ...data.cells.map((c) => (c[1] + 1) * data.row_px)) : 0;
    height = Math.min(MAX_HEIGHT, Math.max(height, deepest + 40, 600));
    frame.classList.add('blank');
  }
  const canvas = document.createElement('canvas');
  canvas.className = 'heatmap-canvas';
  canvas.width = width;
  canvas.height = height;
  frame.appendChild(canvas);
  let scale = fit(stage, outer, frame, width, height);
  window.addEventListener('resize', () => {
    scale = fit(stage, outer, frame, width, height);
  });

  let boxes = [];
  let drawn = 0;
  if (kind === 'clicks' || kind === 'moves') {
    boxes = kind === 'clicks' ? locate(doc, data.elements || []) : [];
    // Clicks on elements found in this copy are drawn on them (so pages of other widths
    // line up); the rest from the grid, whose x is a share of the page's width.
    const placed = new Set(boxes.map((b) => b.selector));
    const rest = kind === 'clicks' ? (data.elements || []).filter((e) => !placed.has(e.selector)) : [];
    const points = boxes.length ? [...elementPoints(boxes)] : gridPoints(data, width);
    if (boxes.length && rest.length && data.cells.length) {
      const share = rest.reduce((t, e) => t + e.clicks, 0) / Math.max(1, data.total);
      if (share > 0.05) points.push(...gridPoints(data, width).map((p) => ({ ...p, w: p.w * share })));
    }
    drawn = drawPoints(canvas, points);
    if (boxes.length) drawOutlines(canvas, boxes.slice(0, 30));
  } else {
    drawn = drawBands(canvas, bandsOf(kind, data));
  }
  canvas.setAttribute('data-drawn', String(drawn));
  canvas.setAttribute('data-elements-found', String(boxes.length));

  canvas.addEventListener('click', (event) => {
    if (kind !== 'clicks') return;
    const rect = canvas.getBoundingClientRect();
    const box = hit(boxes, (event.clientX - rect.left) / scale, (event.clientY - rect.top) / scale);
    if (box) showSessions(stage, box.selector);
  });
  canvas.addEventListener('mousemove', (event) => {
    if (kind !== 'clicks') return;
    const rect = canvas.getBoundingClientRect();
    const box = hit(boxes, (event.clientX - rect.left) / scale, (event.clientY - rect.top) / scale);
    canvas.style.cursor = box ? 'pointer' : 'default';
    canvas.title = box ? `${box.selector}: ${box.clicks} clicks (click for the sessions)` : '';
  });
  document.addEventListener('click', (event) => {
    const button = event.target.closest ? event.target.closest('button[data-selector]') : null;
    if (button) showSessions(stage, button.getAttribute('data-selector'));
  });
  stage.setAttribute('data-state', 'drawn');
}

const stage = document.getElementById('heatmap');
const source = document.getElementById('heatmap-data');
if (stage && source) {
  let data = null;
  try {
    data = JSON.parse(source.textContent);
  } catch (err) {
    data = null;
  }
  if (data) {
    start(stage, data).catch((err) => {
      stage.setAttribute('data-state', 'error');
      status(stage, 'The heatmap could not be drawn: ' + err.message);
    });
  }
}
