// The privacy guard around rrweb: the maskInputFn and maskTextFn rrweb calls,
// and a second pass over every emitted event, so a value rrweb lets through
// (value attributes, textarea text, selected options, input events of fields
// that are never recorded, attributes of masked elements, URLs) is fixed
// before it is serialized.
//
// Precedence: blocked (rrweb drops the element) > explicitly masked
// (data-sl-mask, mask text selectors) > unmasked (data-sl-unmask, unmask
// selectors) > masked by default (form values, contenteditable, mask_all_text).
// Never-recorded fields stay so whatever the rules say.

import { DEFAULT_DENYLIST } from './config.js';
import {
  describeElement, describeSerialized, hasStaticValue, isNeverRecorded, maskValue, scrubCardNumbers, scrubLongNumbers,
} from './privacy.js';
import { stripCssUrls, stripTextUrls, stripUrl, stripUrlAttributes } from './urls.js';

const FORM_TAGS = { input: true, textarea: true, select: true };
const EDITABLE = '[contenteditable]:not([contenteditable="false"])';
const ELEMENT_NODE = 2;
const TEXT_NODE = 3;
const FULL_SNAPSHOT = 2;
const INCREMENTAL = 3;
const META = 4;
const CUSTOM = 5;
const MUTATION = 0;
const INPUT = 5;
const STYLE_SHEET_RULE = 8;

// Text-like attributes of elements whose text is masked.
const TEXT_ATTRIBUTES = [
  'value', 'title', 'alt', 'placeholder', 'aria-label', 'aria-description',
  'aria-valuetext', 'aria-roledescription', 'label', 'content', 'summary',
];
// Attributes that can repeat a form field's value (a tooltip, a framework's mirror).
const FIELD_ATTRIBUTES = ['title', 'aria-valuetext'];

/** Every non-blank character as '*', as rrweb masks text. */
export function maskText(text) {
  return typeof text === 'string' ? text.replace(/\S/g, '*') : text;
}

function isData(name) {
  return name.length > 5 && name.slice(0, 5) === 'data-';
}

/** Whether any attribute could need scrubbing (most elements have none: skip them fast). */
function hasValueAttributes(attrs) {
  if (!attrs) return false;
  for (const name in attrs) {
    if (TEXT_ATTRIBUTES.indexOf(name) >= 0 || isData(name)) return true;
  }
  return false;
}

/**
 * Scrub an element's attributes in place.
 * - `textMasked`: its text is masked, so are its text-like and data-* attributes;
 * - `field`: null (not a form field), 'secret' (never recorded: value-like
 *   attributes emptied), 'masked' (title, aria-valuetext and data-* masked like
 *   the value) or 'open' (unmasked). A field's own `value` is left to the guard.
 * Our own markers (data-sl-*) are kept: they say what was done, not what was typed.
 */
export function scrubAttributes(attrs, textMasked, field) {
  if (!attrs) return;
  for (const name of Object.keys(attrs)) {
    const value = attrs[name];
    if (typeof value !== 'string' || value === '' || (field && name === 'value')) continue;
    const data = isData(name) && name.slice(0, 8) !== 'data-sl-';
    const fieldLike = data || FIELD_ATTRIBUTES.indexOf(name) >= 0;
    if (field === 'secret' && fieldLike) attrs[name] = '';
    else if (textMasked && (data || TEXT_ATTRIBUTES.indexOf(name) >= 0)) attrs[name] = maskText(value);
    else if (field === 'masked' && fieldLike) attrs[name] = maskText(value);
  }
}

const rules = {
  unmask: '[data-sl-unmask]',
  mask: '[data-sl-mask]',
  maskAll: false,
  denylist: new Set(DEFAULT_DENYLIST),
};

/**
 * Set the rules in force: `unmask` and `mask` are valid selector lists (null
 * for none beyond the data-sl-* attributes), `denylist` a Set of lower-case names.
 */
export function setGuardRules(next) {
  rules.unmask = ['[data-sl-unmask]'].concat(next.unmask ? [next.unmask] : []).join(',');
  rules.mask = ['[data-sl-mask]'].concat(next.mask ? [next.mask] : []).join(',');
  rules.maskAll = !!next.maskAll;
  rules.denylist = next.denylist;
}

/** The maskTextSelector for rrweb: every element whose text may need masking. */
export function textMaskSelector() {
  return rules.maskAll ? '*' : [rules.mask, EDITABLE].join(',');
}

export function strip(url) {
  return stripUrl(url, rules.denylist);
}

// Whether the element or an ancestor matches; `failed` is the answer when that
// cannot be told, so that doubt always falls on the side of masking.
function closest(el, selector, failed) {
  try {
    return !!(el && el.closest && el.closest(selector));
  } catch (_) {
    return failed;
  }
}

function isUnmasked(el) {
  return closest(el, rules.unmask, false) && !closest(el, rules.mask, true);
}

/** Whether an element's text (and text-like attributes) is masked; unknown elements are. */
function isTextMasked(el) {
  if (!el || el.nodeType !== 1) return true;
  if (closest(el, rules.mask, true)) return true;
  return (rules.maskAll || closest(el, EDITABLE, true)) && !closest(el, rules.unmask, false);
}

// A field once seen as sensitive stays so (a "show password" toggle turning
// type=password into type=text must not start recording it).
const sensitive = new WeakSet();

function neverRecorded(el, field) {
  if (el && sensitive.has(el)) return true;
  const result = isNeverRecorded(field);
  if (result && el) sensitive.add(el);
  return result;
}

/** Whether a live field's value is never recorded (sticky, as for rrweb's own events). */
export function isSecretField(el) {
  return neverRecorded(el, describeElement(el));
}

function describe(el, tagName, attributes) {
  return el && el.nodeType === 1 ? describeElement(el) : describeSerialized(tagName, attributes);
}

/** 'secret' (never recorded), 'open' (unmasked) or 'masked'. */
function fieldMode(el, field) {
  if (neverRecorded(el, field)) return 'secret';
  return el && isUnmasked(el) ? 'open' : 'masked';
}

function valueIn(mode, text, field) {
  return mode === 'secret' ? '' : maskValue(text, field, mode === 'open');
}

/** rrweb's maskInputFn: rrweb replaces its own masking with this, so it must do all of it. */
export function maskInputFn(text, el) {
  try {
    const field = describe(el, el && el.tagName, null);
    return valueIn(fieldMode(el, field), text, field);
  } catch (_) {
    return '';
  }
}

/** rrweb's maskTextFn, called for text under the maskTextSelector. */
export function maskTextFn(text, el) {
  try {
    if (!el || !isUnmasked(el)) return maskText(text);
    // Typed into an unmasked contenteditable: long numbers are masked as in fields.
    return closest(el, EDITABLE, true) ? scrubLongNumbers(text) : text;
  } catch (_) {
    return maskText(text);
  }
}

function guardElement(node, mirror) {
  const attrs = node.attributes || (node.attributes = {});
  stripUrlAttributes(attrs, rules.denylist);
  const el = mirror.getNode(node.id);
  let mode = null;
  if (FORM_TAGS[node.tagName]) {
    const field = describe(el, node.tagName, attrs);
    mode = fieldMode(el, field);
    if (attrs.value != null) attrs.value = valueIn(mode, String(attrs.value), field);
    if (node.tagName === 'textarea' && node.childNodes) {
      // A textarea's text children are its default value.
      for (const child of node.childNodes) {
        if (child.type === TEXT_NODE && child.textContent) child.textContent = valueIn(mode, child.textContent, field);
      }
    }
  } else if (node.tagName === 'option') {
    delete attrs.selected;
  }
  if (mode || hasValueAttributes(attrs)) scrubAttributes(attrs, isTextMasked(el), mode);
}

function guardSerializedTree(root, mirror) {
  const stack = [root];
  while (stack.length) {
    const node = stack.pop();
    if (!node) continue;
    if (node.type === ELEMENT_NODE) guardElement(node, mirror);
    if (node.childNodes) for (const child of node.childNodes) stack.push(child);
  }
}

function guardAttributeChange(change, mirror) {
  const attrs = change.attributes || {};
  stripUrlAttributes(attrs, rules.denylist);
  const el = mirror.getNode(change.id);
  const tag = el && el.tagName ? el.tagName.toLowerCase() : '';
  let mode = null;
  if (tag === 'option') delete attrs.selected;
  if (FORM_TAGS[tag]) {
    const field = describeElement(el);
    mode = fieldMode(el, field);
    if (attrs.value != null) attrs.value = valueIn(mode, String(attrs.value), field);
  } else if (!el && attrs.value != null) {
    attrs.value = '';
  }
  if (mode || hasValueAttributes(attrs)) scrubAttributes(attrs, isTextMasked(el), mode);
}

function guardMutation(data, mirror) {
  for (const add of data.adds || []) guardSerializedTree(add.node, mirror);
  for (const change of data.attributes || []) guardAttributeChange(change, mirror);
  for (const text of data.texts || []) {
    const node = mirror.getNode(text.id);
    const parent = node && node.parentNode;
    if (parent && parent.tagName === 'TEXTAREA' && text.value != null) {
      text.value = maskInputFn(String(text.value), parent);
    }
  }
}

// Returns false when the input event must not be recorded at all.
function guardInput(data, mirror) {
  const el = mirror.getNode(data.id);
  if (!el || el.nodeType !== 1) return false;
  const field = describeElement(el);
  const mode = fieldMode(el, field);
  if (mode === 'secret') return false;
  if (typeof data.text === 'string') {
    data.text = hasStaticValue(field) ? scrubCardNumbers(data.text) : valueIn(mode, data.text, field);
  }
  return true;
}

/**
 * Apply the guard to one rrweb event, in place. Returns false when the event
 * must be dropped. `mirror` is rrweb's record.mirror (id -> live node).
 */
/** Our own custom events: the URLs they carry, stripped like the page's. */
function guardCustom(tag, payload) {
  if (tag === 'sessionlens.page' || tag === 'sessionlens.timing') {
    payload.href = strip(payload.href);
  } else if (tag === 'sessionlens.error') {
    for (const key of ['message', 'stack', 'source']) payload[key] = stripTextUrls(payload[key], rules.denylist);
  }
}

export function guardEvent(event, mirror) {
  const data = event.data;
  if (!data) return true;
  if (event.type === FULL_SNAPSHOT) {
    guardSerializedTree(data.node, mirror);
  } else if (event.type === META) {
    data.href = strip(data.href);
  } else if (event.type === CUSTOM && data.payload) {
    guardCustom(data.tag, data.payload);
  } else if (event.type === INCREMENTAL) {
    if (data.source === MUTATION) guardMutation(data, mirror);
    else if (data.source === INPUT) return guardInput(data, mirror);
    else if (data.source === STYLE_SHEET_RULE) {
      for (const add of data.adds || []) add.rule = stripCssUrls(add.rule, rules.denylist);
    }
  }
  return true;
}

// Strings where card-number scrubbing would only damage the replay (CSS numbers).
const UNSCRUBBED_KEYS = { _cssText: true, rule: true };

/** JSON.stringify replacer: scrub Luhn-valid card numbers from every string. */
export function scrubReplacer(key, value) {
  return typeof value === 'string' && !UNSCRUBBED_KEYS[key] ? scrubCardNumbers(value) : value;
}
