// node --test test/   Form events: how forms and fields are named, what len says, and
// the order of events a FormWatcher sends (no DOM here: small fakes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  FormWatcher, MAX_FORM_EVENTS, fieldName, fieldType, formName, isField, valueLength,
} from '../src/recorder/forms.js';

function el(tag, attrs = {}, props = {}) {
  const node = {
    nodeType: 1,
    tagName: tag.toUpperCase(),
    attrs,
    parentElement: null,
    children: [],
    labels: [],
    ownerDocument: { getElementById: () => null },
    getAttribute(name) {
      return Object.prototype.hasOwnProperty.call(this.attrs, name) ? this.attrs[name] : null;
    },
    closest() {
      return null;
    },
    ...props,
  };
  if (tag === 'input' && !('type' in props)) node.type = (attrs.type || 'text').toLowerCase();
  return node;
}

function within(form, ...fields) {
  form.children = fields;
  form.elements = fields;
  for (const field of fields) {
    field.parentElement = form;
    field.form = form;
  }
  return fields;
}

test('forms are named by stable id, then name, then a selector', () => {
  assert.equal(formName(el('form', { id: 'checkout-form' })), 'form#checkout-form');
  assert.equal(formName(el('form', { id: ':r3:', name: 'signup' })), 'form[name=signup]');
  assert.equal(formName(el('form', { class: 'newsletter' })), 'form.newsletter');
  assert.equal(formName(null), '');
  assert.equal(formName(el('div')), '');
});

test('fields are named by name, then id, then a selector, at most 100 characters', () => {
  assert.equal(fieldName(el('input', { name: 'email', id: 'e1' })), 'email');
  assert.equal(fieldName(el('input', { id: 'postcode' })), 'postcode');
  assert.equal(fieldName(el('textarea', { class: 'note' })), 'textarea.note');
  assert.equal(fieldName(el('input', { name: 'n'.repeat(150) })).length, 100);
});

test('only fields a visitor fills in count: not buttons or hidden inputs', () => {
  for (const type of ['text', 'email', 'checkbox', 'radio', 'date', 'password']) {
    assert.equal(isField(el('input', { type })), true, type);
  }
  for (const type of ['submit', 'button', 'reset', 'image', 'hidden']) {
    assert.equal(isField(el('input', { type })), false, type);
  }
  assert.equal(isField(el('select')), true);
  assert.equal(isField(el('textarea')), true);
  assert.equal(isField(el('button')), false);
  assert.equal(isField(el('div', { contenteditable: 'true' })), false);
  assert.equal(fieldType(el('select')), 'select');
  assert.equal(fieldType(el('input', { type: 'EMAIL' })), 'email');
});

test('len is the length, 0/1 for never-recorded fields, checked state for boxes', () => {
  assert.equal(valueLength(el('input', {}, { value: 'Ada Lovelace' }), false), 12);
  assert.equal(valueLength(el('input', {}, { value: '4242 4242 4242 4242' }), true), 1);
  assert.equal(valueLength(el('input', {}, { value: '' }), true), 0);
  assert.equal(valueLength(el('input', { type: 'checkbox' }, { checked: true, value: 'on' }), false), 1);
  assert.equal(valueLength(el('input', { type: 'radio' }, { checked: false, value: 'x' }), false), 0);
});

function watcher(times) {
  const sent = [];
  const clock = [...times];
  const w = new FormWatcher((payload) => sent.push(payload), () => true, () => clock.shift());
  return { w, sent };
}

test('a focus, typing and a blur: length, change and first-input delay, never the value', () => {
  const form = el('form', { id: 'checkout-form' });
  const [name] = within(form, el('input', { name: 'name', autocomplete: 'name' }, { value: '' }));
  const { w, sent } = watcher([1000, 1400, 1500]);
  w.focus(name);
  name.value = 'A';
  w.input(name); // 400 ms after the focus
  name.value = 'Ada';
  w.input(name); // not the first input: no clock read
  w.blur(name);
  assert.deepEqual(sent, [
    { act: 'focus', form: 'form#checkout-form', field: 'name', type: 'text', len: 0, changed: false },
    { act: 'blur', form: 'form#checkout-form', field: 'name', type: 'text', len: 3, changed: true, first_input_ms: 400 },
  ]);
  assert.ok(!JSON.stringify(sent).includes('Ada'));
});

test('a card number field only says whether it is filled', () => {
  const form = el('form', { id: 'pay' });
  const [card] = within(form, el('input', { name: 'cardnumber', autocomplete: 'cc-number' }, { value: '' }));
  const { w, sent } = watcher([0, 10]);
  w.focus(card);
  card.value = '4242424242424242';
  w.blur(card);
  assert.equal(sent[1].len, 1);
  assert.equal(sent[1].changed, true);
  assert.equal(sent[1].first_input_ms, null);
  assert.ok(!JSON.stringify(sent).includes('4242'));
});

test('a submit leaves the focused field first; fields the page flagged are invalid', () => {
  const form = el('form', { id: 'f' });
  const [a, b] = within(
    form,
    el('input', { name: 'a' }, { value: 'x' }),
    el('input', { name: 'b', 'aria-invalid': 'true' }, { value: '' }),
  );
  const { w, sent } = watcher([0, 50]);
  w.focus(a);
  w.submit(form);
  w.markedInvalid(form);
  assert.deepEqual(sent.map((p) => [p.act, p.field]), [['focus', 'a'], ['blur', 'a'], ['submit', ''], ['invalid', 'b']]);
  w.blur(a); // the real blur comes later: already counted
  assert.equal(sent.length, 4);
  assert.equal(b.form, form);
});

test('nothing is sent while recording is not allowed, and at most 500 events a page', () => {
  const field = el('input', { name: 'q' }, { value: '' });
  const quiet = [];
  new FormWatcher((p) => quiet.push(p), () => false, () => 0).focus(field);
  assert.equal(quiet.length, 0);
  const sent = [];
  const w = new FormWatcher((p) => sent.push(p), () => true, () => 0);
  for (let i = 0; i < 400; i++) {
    w.focus(field);
    w.blur(field);
  }
  assert.equal(sent.length, MAX_FORM_EVENTS);
});
