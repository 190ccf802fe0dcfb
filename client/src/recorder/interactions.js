// Clicks, page layout and network activity after a click, as custom events for
// heatmaps, struggle signals and funnels (docs/ingest-protocol.md, "Interaction
// events"). The server has no DOM, so the element is named here, where the page is.
// No text, no values: a selector, coordinates and sizes. Nothing here may throw
// into the host page.

import { insideOwnWidget } from './own.js';

const INTERACTIVE_TAGS = ['a', 'button', 'input', 'select', 'textarea', 'label', 'summary', 'option'];
const INTERACTIVE_ROLES = ['button', 'link', 'tab', 'menuitem', 'checkbox', 'radio', 'switch', 'option'];
const FILE_LINK = /\.(pdf|zip|gz|tgz|bz2|rar|7z|csv|xlsx?|docx?|pptx?|odt|ods|dmg|exe|msi|pkg|deb|rpm|apk|iso|mp3|mp4|mov|avi|epub)([?#]|$)/i;
const MAX_DEPTH = 5;
const MAX_LEVELS = 4;
const MAX_SELECTOR = 300;
const NET_WINDOW_MS = 1000;
const NET_REPORT_MS = 1100;
const MAX_NET_STARTS = 100;
const LAYOUT_CHANGE = 0.1;

function tagOf(el) {
  return el && typeof el.tagName === 'string' ? el.tagName.toLowerCase() : '';
}

function attr(el, name) {
  try {
    const value = el.getAttribute(name);
    return typeof value === 'string' ? value : null;
  } catch (_) {
    return null;
  }
}

export function isInteractive(el) {
  const tag = tagOf(el);
  if (!tag) return false;
  if (tag === 'a') return attr(el, 'href') !== null;
  if (INTERACTIVE_TAGS.indexOf(tag) >= 0) return true;
  const role = (attr(el, 'role') || '').toLowerCase();
  if (INTERACTIVE_ROLES.indexOf(role) >= 0) return true;
  return attr(el, 'onclick') !== null || attr(el, 'tabindex') !== null;
}

/** The element a click was meant for: the nearest interactive ancestor within 5 levels, else itself. */
export function clickTarget(el) {
  let current = el;
  for (let depth = 0; current && depth <= MAX_DEPTH; depth++) {
    if (current.nodeType === 1 && isInteractive(current)) return current;
    current = current.parentElement;
  }
  return el;
}

/** Ids a framework generated (":r3:", "ember123", "a1b2c3d4...") change between page loads. */
export function stableId(id) {
  if (typeof id !== 'string' || !id || id.length > 50) return false;
  if (!/^[A-Za-z][\w-]*$/.test(id)) return false;
  return !/\d{3,}/.test(id) && !/[0-9a-f]{8,}/i.test(id);
}

function stableClass(name) {
  return /^[A-Za-z_-][\w-]*$/.test(name) && name.length <= 40 && !/\d{3,}/.test(name);
}

function compound(el) {
  const tag = tagOf(el);
  const id = attr(el, 'id');
  if (stableId(id)) return { text: tag + '#' + id, anchored: true };
  let text = tag;
  const classes = (attr(el, 'class') || '').trim().split(/\s+/).filter(stableClass).slice(0, 2);
  if (classes.length) text += '.' + classes.join('.');
  const parent = el.parentElement;
  if (parent) {
    let index = 0;
    let same = 0;
    for (const child of parent.children) {
      if (tagOf(child) !== tag) continue;
      same++;
      if (child === el) index = same;
    }
    if (same > 1) text += ':nth-of-type(' + index + ')';
  }
  return { text, anchored: false };
}

/** `tag#id`, or up to 4 levels of `tag.class:nth-of-type(n)` from the nearest stable id. */
export function selectorFor(el) {
  const parts = [];
  let current = el;
  while (current && current.nodeType === 1 && parts.length < MAX_LEVELS) {
    const tag = tagOf(current);
    if (tag === 'html' || tag === 'body') break;
    const part = compound(current);
    parts.unshift(part.text);
    if (part.anchored) break;
    current = current.parentElement;
  }
  const out = parts.join(' > ') || tagOf(el) || 'unknown';
  return out.length > MAX_SELECTOR ? out.slice(out.length - MAX_SELECTOR) : out;
}

export function isDownload(el) {
  if (tagOf(el) !== 'a') return false;
  if (attr(el, 'download') !== null) return true;
  return FILE_LINK.test(attr(el, 'href') || '');
}

function perMille(value, size) {
  if (!(size > 0)) return 0;
  return Math.max(0, Math.min(1000, Math.round((value / size) * 1000)));
}

function pageSize(doc) {
  const root = doc.documentElement || {};
  const body = doc.body || {};
  return {
    w: Math.max(root.scrollWidth || 0, body.scrollWidth || 0),
    h: Math.max(root.scrollHeight || 0, body.scrollHeight || 0),
  };
}

/** The payload of a sessionlens.click event for a click on `el`. */
export function clickPayload(event, el, doc, win) {
  const target = clickTarget(el);
  const box = target.getBoundingClientRect ? target.getBoundingClientRect() : { left: 0, top: 0, width: 0, height: 0 };
  const size = pageSize(doc);
  return {
    sel: selectorFor(target),
    tag: tagOf(target),
    x: Math.round(event.pageX || 0),
    y: Math.round(event.pageY || 0),
    ox: perMille((event.clientX || 0) - box.left, box.width),
    oy: perMille((event.clientY || 0) - box.top, box.height),
    w: size.w,
    h: size.h,
    vw: win.innerWidth || 0,
    vh: win.innerHeight || 0,
    int: isInteractive(target) ? 1 : 0,
    dl: isDownload(target) ? 1 : 0,
  };
}

function requestUrl(input) {
  try {
    if (typeof input === 'string') return input;
    if (input && typeof input.url === 'string') return input.url;
    return String(input || '');
  } catch (_) {
    return '';
  }
}

/** Start times (performance.now()) of fetch and XMLHttpRequest calls, except the recorder's
 * own (URLs under `own`); never their URLs. */
class NetworkStarts {
  constructor(own) {
    this.own = own || null;
    this.starts = [];
  }

  ours(url) {
    if (!this.own) return false;
    try {
      return new URL(url, location.href).href.indexOf(this.own) === 0;
    } catch (_) {
      return false;
    }
  }

  note() {
    this.starts.push(performance.now());
    if (this.starts.length > MAX_NET_STARTS) this.starts.shift();
  }

  /** Requests that started in [from, from + 1 s]: ours and resources (images, scripts). */
  count(from) {
    const to = from + NET_WINDOW_MS;
    let n = this.starts.filter((t) => t >= from && t <= to).length;
    try {
      for (const entry of performance.getEntriesByType('resource')) {
        const type = entry.initiatorType;
        if (type === 'fetch' || type === 'xmlhttprequest' || this.ours(entry.name)) continue;
        if (entry.startTime >= from && entry.startTime <= to) n++;
      }
    } catch (_) {
      // no resource timing
    }
    return n;
  }

  install(win) {
    const self = this;
    const originalFetch = win.fetch;
    if (typeof originalFetch === 'function') {
      win.fetch = function (input) {
        try {
          if (!self.ours(requestUrl(input))) self.note();
        } catch (_) { /* never break the page */ }
        return originalFetch.apply(this, arguments);
      };
    }
    const proto = win.XMLHttpRequest && win.XMLHttpRequest.prototype;
    if (proto && typeof proto.send === 'function' && typeof proto.open === 'function') {
      const requested = new WeakMap();
      const originalOpen = proto.open;
      proto.open = function (method, url) {
        try { requested.set(this, requestUrl(url)); } catch (_) { /* never break the page */ }
        return originalOpen.apply(this, arguments);
      };
      const originalSend = proto.send;
      proto.send = function () {
        try {
          if (!self.ours(requested.get(this) || '')) self.note();
        } catch (_) { /* never break the page */ }
        return originalSend.apply(this, arguments);
      };
    }
  }
}

const FIELD_SELECTOR = 'input, select, textarea';
const MAX_FIELDS = 50;

/** A summary of the form fields near `el` that changes when any of their values changes.
 * Values are only compared here, in memory; they are never sent. */
export function fieldState(el) {
  let scope = el.closest ? el.closest('form') : null;
  if (!scope) scope = (el.parentElement && el.parentElement.parentElement) || el.parentElement || el;
  let out = '';
  let count = 0;
  for (const field of scope.querySelectorAll(FIELD_SELECTOR)) {
    if (count++ >= MAX_FIELDS) break;
    out += (field.type === 'checkbox' || field.type === 'radio' ? String(field.checked) : String(field.value)) + '\u0000';
  }
  return out;
}

/** Report clicks, layout changes and network activity after clicks: report(tag, payload).
 * `own` is the prefix of the recorder's own requests, which are not the page's activity. */
export function watchInteractions(report, own) {
  const net = new NetworkStarts(own);
  try {
    net.install(window);
  } catch (_) {
    // a locked-down window: clicks are still reported
  }
  document.addEventListener('click', (event) => {
    try {
      const path = typeof event.composedPath === 'function' ? event.composedPath() : [];
      if (insideOwnWidget(path)) return;
      const el = path.length && path[0].nodeType === 1 ? path[0] : event.target;
      if (!el || el.nodeType !== 1) return;
      const ts = Date.now();
      const started = performance.now();
      const payload = clickPayload(event, el, document, window);
      const target = clickTarget(el);
      const before = fieldState(target);
      // After the page's own click handlers: did a field near the element change (a quantity
      // stepper's value is set by script, which the masked recording cannot show)?
      setTimeout(() => {
        try {
          payload.chg = fieldState(target) !== before ? 1 : 0;
          report('sessionlens.click', payload);
        } catch (_) {
          // never break the page
        }
      }, 0);
      setTimeout(() => {
        try {
          const n = net.count(started);
          if (n > 0) report('sessionlens.net', { click_ts: ts, n });
        } catch (_) {
          // never break the page
        }
      }, NET_REPORT_MS);
    } catch (_) {
      // never break the page
    }
  }, true);
  watchLayout(report);
}

function watchLayout(report) {
  let last = null;
  const send = (force) => {
    try {
      const size = pageSize(document);
      const now = { w: size.w, h: size.h, vw: window.innerWidth || 0, vh: window.innerHeight || 0 };
      const changed = !last || now.vw !== last.vw || now.vh !== last.vh || now.w !== last.w
        || Math.abs(now.h - last.h) > last.h * LAYOUT_CHANGE;
      if (!force && !changed) return;
      last = now;
      report('sessionlens.layout', now);
    } catch (_) {
      // never break the page
    }
  };
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => send(false), 500);
  });
  let lastCheck = 0;
  window.addEventListener('scroll', () => {
    const now = Date.now();
    if (now - lastCheck < 1000) return;
    lastCheck = now;
    send(false);
  }, { passive: true, capture: true });
  send(true); // queued until recording runs, then sent after the page's full snapshot
}
