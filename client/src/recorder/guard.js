// The privacy guard around rrweb: the maskInputFn rrweb calls, and a second
// pass over every emitted event, so a value rrweb lets through (value
// attributes, textarea text, selected options, input events of fields that are
// never recorded) is fixed before it is serialized.

import { describeElement, describeSerialized, hasStaticValue, isNeverRecorded, maskValue, scrubCardNumbers } from './privacy.js';

const FORM_TAGS = { input: true, textarea: true, select: true };
const ELEMENT_NODE = 2;
const TEXT_NODE = 3;
const FULL_SNAPSHOT = 2;
const INCREMENTAL = 3;
const MUTATION = 0;
const INPUT = 5;

// A field once seen as sensitive stays so (a "show password" toggle turning
// type=password into type=text must not start recording it).
const sensitive = new WeakSet();

function neverRecorded(el, field) {
  if (el && sensitive.has(el)) return true;
  const result = isNeverRecorded(field);
  if (result && el) sensitive.add(el);
  return result;
}

function isUnmasked(el) {
  try {
    return !!(el && el.closest && el.closest('[data-sl-unmask]'));
  } catch (_) {
    return false;
  }
}

/** The value to record for a form element (or its serialized attributes when the element is unknown). */
export function valueFor(el, text, tagName, attributes) {
  const field = el && el.nodeType === 1 ? describeElement(el) : describeSerialized(tagName, attributes);
  if (neverRecorded(el, field)) return '';
  return maskValue(text, field, isUnmasked(el));
}

/** rrweb's maskInputFn: rrweb replaces its own masking with this, so it must do all of it. */
export function maskInputFn(text, el) {
  try {
    return valueFor(el, text, el && el.tagName, null);
  } catch (_) {
    return '';
  }
}

function guardSerializedTree(root, mirror) {
  const stack = [root];
  while (stack.length) {
    const node = stack.pop();
    if (!node) continue;
    if (node.type === ELEMENT_NODE) {
      if (FORM_TAGS[node.tagName]) guardFormNode(node, mirror);
      else if (node.tagName === 'option' && node.attributes) delete node.attributes.selected;
    }
    if (node.childNodes) for (const child of node.childNodes) stack.push(child);
  }
}

function guardFormNode(node, mirror) {
  const attrs = node.attributes || (node.attributes = {});
  const el = mirror.getNode(node.id);
  const mask = (text) => valueFor(el, String(text), node.tagName, attrs);
  if (attrs.value != null) attrs.value = mask(attrs.value);
  if (node.tagName === 'textarea' && node.childNodes) {
    // A textarea's text children are its default value.
    for (const child of node.childNodes) {
      if (child.type === TEXT_NODE && child.textContent) child.textContent = mask(child.textContent);
    }
  }
}

function guardMutation(data, mirror) {
  for (const add of data.adds || []) guardSerializedTree(add.node, mirror);
  for (const change of data.attributes || []) {
    const attrs = change.attributes || {};
    const el = mirror.getNode(change.id);
    const tag = el && el.tagName ? el.tagName.toLowerCase() : '';
    if (tag === 'option') delete attrs.selected;
    if (attrs.value == null) continue;
    if (!el) attrs.value = '';
    else if (FORM_TAGS[tag]) attrs.value = valueFor(el, String(attrs.value), tag, null);
  }
  for (const text of data.texts || []) {
    const node = mirror.getNode(text.id);
    const parent = node && node.parentNode;
    if (parent && parent.tagName === 'TEXTAREA' && text.value != null) {
      text.value = valueFor(parent, String(text.value), 'textarea', null);
    }
  }
}

// Returns false when the input event must not be recorded at all.
function guardInput(data, mirror) {
  const el = mirror.getNode(data.id);
  if (!el || el.nodeType !== 1) return false;
  const field = describeElement(el);
  if (neverRecorded(el, field)) return false;
  if (typeof data.text === 'string') {
    data.text = hasStaticValue(field) ? scrubCardNumbers(data.text) : maskValue(data.text, field, isUnmasked(el));
  }
  return true;
}

/**
 * Apply the guard to one rrweb event, in place. Returns false when the event
 * must be dropped. `mirror` is rrweb's record.mirror (id -> live node).
 */
export function guardEvent(event, mirror) {
  if (event.type === FULL_SNAPSHOT) {
    guardSerializedTree(event.data && event.data.node, mirror);
  } else if (event.type === INCREMENTAL && event.data) {
    if (event.data.source === MUTATION) guardMutation(event.data, mirror);
    else if (event.data.source === INPUT) return guardInput(event.data, mirror);
  }
  return true;
}

// Strings where card-number scrubbing would only damage the replay (CSS numbers).
const UNSCRUBBED_KEYS = { _cssText: true, rule: true };

/** JSON.stringify replacer: scrub Luhn-valid card numbers from every string. */
export function scrubReplacer(key, value) {
  return typeof value === 'string' && !UNSCRUBBED_KEYS[key] ? scrubCardNumbers(value) : value;
}
