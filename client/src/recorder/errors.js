// JavaScript errors and page timing, recorded as custom events:
//   sessionlens.error  {kind: 'error' | 'rejection' | 'console', message, stack, source}
//   sessionlens.timing {href, ttfb, dcl, load, lcp}   (ms from the navigation start)
// What is kept of an error is chosen to fail safe: messages, stacks and primitive
// console.error arguments; objects are named by their type, never serialized (they
// may hold what a visitor typed). URLs inside are stripped of denied parameters by
// the guard (guard.js), card numbers by the batch's scrubber, and again on the server.
// Nothing here may throw into the host page.

export const MAX_MESSAGE = 1000;
export const MAX_STACK = 4000;
export const MAX_ERRORS_PER_PAGE = 50;
export const MAX_REPEATS = 5; // the same message at most this often per page
const TIMING_DELAY_MS = 5000;

function cut(text, max) {
  const value = String(text == null ? '' : text);
  return value.length > max ? value.slice(0, max - 1) + '…' : value;
}

function typeName(value) {
  if (Array.isArray(value)) return '[Array(' + value.length + ')]';
  if (value && typeof value === 'object' && typeof value.nodeName === 'string') {
    return '<' + value.nodeName.toLowerCase() + '>';
  }
  let name = 'Object';
  try {
    const ctor = value && value.constructor;
    if (ctor && typeof ctor.name === 'string' && ctor.name) name = ctor.name;
  } catch (_) {
    // a hostile getter
  }
  return '[' + name + ']';
}

function isError(value) {
  return value instanceof Error || (value && typeof value === 'object' && typeof value.message === 'string' && typeof value.stack === 'string');
}

/** One console.error argument as text: primitives and errors as such, objects by type only. */
export function describeValue(value) {
  if (value === null) return 'null';
  const kind = typeof value;
  if (kind === 'string') return value;
  if (kind === 'number' || kind === 'boolean' || kind === 'bigint' || kind === 'undefined') return String(value);
  if (kind === 'symbol') return 'Symbol';
  if (kind === 'function') return '[Function]';
  if (isError(value)) return (value.name ? value.name + ': ' : '') + value.message;
  return typeName(value);
}

/** The payload of a sessionlens.error event. */
export function errorPayload(kind, message, stack, source) {
  return {
    kind,
    message: cut(message, MAX_MESSAGE) || 'Error',
    stack: cut(stack || '', MAX_STACK),
    source: cut(source || '', 2000),
  };
}

export function fromErrorEvent(event) {
  const error = event.error;
  const message = isError(error) ? describeValue(error) : event.message;
  const source = event.filename ? event.filename + ':' + (event.lineno || 0) + ':' + (event.colno || 0) : '';
  return errorPayload('error', message, isError(error) ? error.stack : '', source);
}

export function fromRejection(event) {
  const reason = event.reason;
  const message = isError(reason) ? describeValue(reason) : 'Unhandled rejection: ' + describeValue(reason);
  return errorPayload('rejection', message, isError(reason) ? reason.stack : '', '');
}

export function fromConsoleArgs(args) {
  const parts = [];
  let stack = '';
  for (const arg of args) {
    parts.push(describeValue(arg));
    if (!stack && isError(arg)) stack = arg.stack;
  }
  return errorPayload('console', parts.join(' '), stack, '');
}

/** Passes at most MAX_ERRORS_PER_PAGE errors, and the same message at most MAX_REPEATS times. */
export class ErrorBudget {
  constructor() {
    this.total = 0;
    this.seen = new Map();
  }

  allow(payload) {
    if (this.total >= MAX_ERRORS_PER_PAGE) return false;
    const key = payload.kind + ':' + payload.message;
    const count = this.seen.get(key) || 0;
    if (count >= MAX_REPEATS) return false;
    this.seen.set(key, count + 1);
    this.total += 1;
    return true;
  }
}

/** Report uncaught errors, unhandled rejections and console.error calls. */
export function watchErrors(report) {
  const budget = new ErrorBudget();
  let inside = false; // an error while reporting one is not reported again
  const send = (make) => {
    if (inside) return;
    inside = true;
    try {
      const payload = make();
      if (budget.allow(payload)) report(payload);
    } catch (_) {
      // never break the page
    } finally {
      inside = false;
    }
  };
  window.addEventListener('error', (event) => {
    // Resource load errors (img, script) reach window listeners only in the capture phase; not ours.
    if (event && event.target === window) send(() => fromErrorEvent(event));
  });
  window.addEventListener('unhandledrejection', (event) => send(() => fromRejection(event)));
  const original = console.error;
  if (typeof original !== 'function') return;
  console.error = function () {
    const args = Array.prototype.slice.call(arguments);
    send(() => fromConsoleArgs(args));
    return original.apply(this, arguments);
  };
}

function ms(value) {
  return typeof value === 'number' && value > 0 && isFinite(value) ? Math.round(value) : null;
}

/** A PerformanceNavigationTiming entry (or the old performance.timing) as our figures. */
export function navigationFigures(nav, lcp) {
  if (!nav) return null;
  // performance.timing holds epoch times from navigationStart; the entry, times from 0.
  const start = 'navigationStart' in nav ? nav.navigationStart : nav.startTime || 0;
  const at = (value) => (typeof value === 'number' && value > 0 ? ms(value - start) : null);
  return {
    ttfb: at(nav.responseStart),
    dcl: at(nav.domContentLoadedEventEnd),
    load: at(nav.loadEventEnd),
    lcp: ms(lcp),
  };
}

function navigationEntry() {
  const perf = window.performance;
  if (!perf) return null;
  if (typeof perf.getEntriesByType === 'function') {
    const entries = perf.getEntriesByType('navigation');
    if (entries && entries.length) return entries[0];
  }
  return perf.timing || null;
}

/**
 * Report this page load's timing once: at the first input (LCP stops there), when
 * the page is hidden, or 5 s after the load event, whichever comes first.
 * Install before the recorder's own visibilitychange listener, so the event is in
 * the batch sent when the page is hidden.
 */
export function watchTiming(href, report) {
  let lcp = null;
  let sent = false;
  try {
    const observer = new PerformanceObserver((list) => {
      const entries = list.getEntries();
      const last = entries[entries.length - 1];
      if (last) lcp = last.renderTime || last.startTime;
    });
    observer.observe({ type: 'largest-contentful-paint', buffered: true });
  } catch (_) {
    // no LCP in this browser
  }
  const send = () => {
    try {
      if (sent) return;
      const figures = navigationFigures(navigationEntry(), lcp);
      if (!figures || figures.ttfb === null) return;
      sent = true;
      report({ href, ...figures });
    } catch (_) {
      // never break the page
    }
  };
  const afterLoad = () => setTimeout(send, TIMING_DELAY_MS);
  if (document.readyState === 'complete') afterLoad();
  else window.addEventListener('load', afterLoad, { once: true });
  for (const type of ['keydown', 'pointerdown']) {
    window.addEventListener(type, () => setTimeout(send, 0), { once: true, capture: true });
  }
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') send();
  });
  window.addEventListener('pagehide', send);
}
