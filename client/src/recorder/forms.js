// Form analytics: field focus and blur, form submit and failed validation, as
// sessionlens.form custom events (docs/ingest-protocol.md, "Interaction events").
// Values are never sent, only lengths and whether the value changed while the
// field was focused; never-recorded fields (passwords, cards...) only say
// whether they are filled (len 0 or 1). A value is compared in memory with the
// one it had on focus and then forgotten. Nothing here may throw into the host page.

import { isSecretField } from './guard.js';
import { insideOwnWidget } from './own.js';
import { selectorFor, stableId } from './interactions.js';

export const MAX_FORM_EVENTS = 500; // per page load
export const MAX_FORM = 300;
export const MAX_FIELD = 100;
const MAX_LENGTH = 1000000;
const BUTTON_TYPES = ['submit', 'button', 'reset', 'image', 'hidden'];
const CHECKED_TYPES = ['checkbox', 'radio'];
const NAME = /^[A-Za-z_][\w.:\[\]-]*$/;

function tagOf(el) {
  return el && typeof el.tagName === 'string' ? el.tagName.toLowerCase() : '';
}

function attr(el, name) {
  try {
    const value = el.getAttribute(name);
    return typeof value === 'string' ? value : '';
  } catch (_) {
    return '';
  }
}

/** The input type, or the tag of a textarea / select. */
export function fieldType(el) {
  const tag = tagOf(el);
  if (tag !== 'input') return tag;
  return String(el.type || attr(el, 'type') || 'text').toLowerCase();
}

/** Inputs a visitor fills in: text-like inputs, checkboxes, radios, textareas, selects. */
export function isField(el) {
  const tag = tagOf(el);
  if (tag === 'textarea' || tag === 'select') return true;
  return tag === 'input' && BUTTON_TYPES.indexOf(fieldType(el)) < 0;
}

/** `form#id`, `form[name=x]`, else a selector; '' for no form. */
export function formName(form) {
  if (!form || tagOf(form) !== 'form') return '';
  const id = attr(form, 'id');
  if (stableId(id)) return 'form#' + id;
  const name = attr(form, 'name');
  if (name && name.length <= 50 && NAME.test(name)) return 'form[name=' + name + ']';
  return selectorFor(form).slice(0, MAX_FORM);
}

/** The field's name, else its id, else a selector; at most 100 characters. */
export function fieldName(el) {
  const name = attr(el, 'name');
  if (name) return name.slice(0, MAX_FIELD);
  const id = attr(el, 'id');
  if (id) return id.slice(0, MAX_FIELD);
  const selector = selectorFor(el);
  return selector.length > MAX_FIELD ? selector.slice(selector.length - MAX_FIELD) : selector;
}

/** What is compared on blur to tell whether the value changed (kept in memory only). */
export function currentState(el) {
  const type = fieldType(el);
  if (CHECKED_TYPES.indexOf(type) >= 0) return el.checked ? '1' : '0';
  if (type === 'select' && el.multiple && el.selectedOptions) {
    return Array.prototype.map.call(el.selectedOptions, (o) => o.value).join('\u0000');
  }
  return String(el.value == null ? '' : el.value);
}

/**
 * The `len` sent: checkboxes and radios 1 when checked; never-recorded fields 1 when
 * filled; a multiple select the number of options chosen; others the value's length.
 */
export function valueLength(el, secret) {
  const type = fieldType(el);
  if (CHECKED_TYPES.indexOf(type) >= 0) return el.checked ? 1 : 0;
  if (type === 'select' && el.multiple && el.selectedOptions) return el.selectedOptions.length;
  const length = String(el.value == null ? '' : el.value).length;
  if (secret) return length > 0 ? 1 : 0;
  return Math.min(length, MAX_LENGTH);
}

function describe(act, el, secret) {
  return {
    act,
    form: formName(el.form),
    field: fieldName(el),
    type: fieldType(el),
    len: valueLength(el, secret),
    changed: false,
  };
}

function secretField(el) {
  try {
    return isSecretField(el);
  } catch (_) {
    return true; // in doubt, the length is not sent
  }
}

/**
 * Follows one page's fields: report(payload) is called with each event's payload.
 * `allowed(el)` says whether the element may be reported now (recording runs, the
 * element is not in a blocked region). `now()` gives milliseconds.
 */
export class FormWatcher {
  constructor(report, allowed, now) {
    this.report = report;
    this.allowed = allowed;
    this.now = now || (() => Date.now());
    this.sent = 0;
    this.focused = null; // {el, secret, at, firstInput, before}
  }

  emit(payload) {
    if (this.sent >= MAX_FORM_EVENTS) return;
    this.sent += 1;
    this.report(payload);
  }

  focus(el) {
    if (this.focused && this.focused.el !== el) this.blur(this.focused.el);
    if (!isField(el) || !this.allowed(el)) return;
    const secret = secretField(el);
    this.focused = { el, secret, at: this.now(), firstInput: null, before: currentState(el) };
    this.emit(describe('focus', el, secret));
  }

  input(el) {
    const f = this.focused;
    if (f && f.el === el && f.firstInput === null) f.firstInput = Math.max(0, Math.round(this.now() - f.at));
  }

  blur(el) {
    const f = this.focused;
    if (!f || f.el !== el) return;
    this.focused = null;
    if (!this.allowed(el)) return;
    // A field once seen as never recorded stays so (a "show password" toggle).
    const payload = describe('blur', el, f.secret || secretField(el));
    payload.changed = currentState(el) !== f.before;
    payload.first_input_ms = f.firstInput;
    this.emit(payload);
  }

  submit(form) {
    if (tagOf(form) !== 'form' || !this.allowed(form)) return;
    // A field focused when the form is sent is left now: a navigation sends no blur.
    if (this.focused && this.focused.el.form === form) this.blur(this.focused.el);
    this.emit({ act: 'submit', form: formName(form), field: '', type: 'form', len: 0, changed: false });
  }

  invalid(el) {
    if (!isField(el) || !this.allowed(el)) return;
    this.emit(describe('invalid', el, secretField(el)));
  }

  /** Fields a page's own script marked aria-invalid="true" in answer to a submit. */
  markedInvalid(form) {
    const elements = form.elements ? Array.prototype.slice.call(form.elements) : [];
    for (const el of elements) {
      if (attr(el, 'aria-invalid') === 'true') this.invalid(el);
    }
  }

  /** The page is going away: the focused field is left. */
  leave() {
    if (this.focused) this.blur(this.focused.el);
  }
}

function targetOf(event) {
  const path = typeof event.composedPath === 'function' ? event.composedPath() : [];
  return path.length && path[0].nodeType === 1 ? path[0] : event.target;
}

function blocked(el, selector) {
  if (!selector) return false;
  try {
    return !!el.closest(selector);
  } catch (_) {
    return true;
  }
}

/**
 * Report form events through report('sessionlens.form', payload) while the recorder
 * that getRecorder() returns is running, for fields outside blocked regions.
 */
export function watchForms(report, getRecorder) {
  const allowed = (el) => {
    const recorder = getRecorder();
    return !!(recorder && recorder.running) && !blocked(el, recorder.options && recorder.options.blockSelector);
  };
  const watcher = new FormWatcher((payload) => report('sessionlens.form', payload), allowed);
  const on = (type, handle) => {
    document.addEventListener(type, (event) => {
      try {
        if (typeof event.composedPath === 'function' && insideOwnWidget(event.composedPath())) return;
        const el = targetOf(event);
        if (el && el.nodeType === 1) handle(el);
      } catch (_) {
        // never break the page
      }
    }, true);
  };
  on('focusin', (el) => watcher.focus(el));
  on('focusout', (el) => watcher.blur(el));
  on('input', (el) => watcher.input(el));
  on('change', (el) => watcher.input(el));
  on('invalid', (el) => watcher.invalid(el));
  on('submit', (form) => {
    watcher.submit(form);
    // After the page's own submit handlers ran: fields its validation flagged.
    setTimeout(() => {
      try {
        watcher.markedInvalid(form);
      } catch (_) {
        // never break the page
      }
    }, 0);
  });
  window.addEventListener('pagehide', () => {
    try {
      watcher.leave();
    } catch (_) {
      // never break the page
    }
  });
  return watcher;
}
