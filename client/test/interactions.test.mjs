// node --test test/   How the recorder names a clicked element (no DOM here: small fakes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clickPayload, clickTarget, isDownload, isInteractive, selectorFor, stableId } from '../src/recorder/interactions.js';

function el(tag, attrs = {}, children = []) {
  const node = {
    nodeType: 1,
    tagName: tag.toUpperCase(),
    attrs,
    parentElement: null,
    children,
    getAttribute(name) {
      return Object.prototype.hasOwnProperty.call(this.attrs, name) ? this.attrs[name] : null;
    },
    getBoundingClientRect() {
      return this.box || { left: 0, top: 0, width: 0, height: 0 };
    },
  };
  for (const child of children) child.parentElement = node;
  return node;
}

test('stable ids are kept, generated ones are not', () => {
  for (const id of ['add-to-cart', 'main', 'checkout_form', 'nav2']) assert.equal(stableId(id), true, id);
  for (const id of [':r3:', 'ember1234', 'a1b2c3d4e5f6', 'x'.repeat(51), '', null, '9lives']) {
    assert.equal(stableId(id), false, String(id));
  }
});

test('a selector starts at the nearest stable id and counts same-tag siblings', () => {
  const icon = el('span', { class: 'icon' });
  const buy = el('button', { class: 'btn btn-primary extra' }, [icon]);
  const other = el('div', { class: 'card' });
  const card = el('div', { class: 'card item-123456' }, [buy]);
  const list = el('section', { id: 'products' }, [other, card]);
  el('body', {}, [el('main', {}, [list])]);
  assert.equal(selectorFor(buy), 'section#products > div.card:nth-of-type(2) > button.btn.btn-primary');
  assert.equal(selectorFor(el('button', { id: 'add-to-cart' })), 'button#add-to-cart');
  // A click on the icon names the button it is inside.
  assert.equal(clickTarget(icon), buy);
});

test('at most four levels without an id', () => {
  let leaf = el('a', { href: '/x' });
  let node = leaf;
  for (let i = 0; i < 6; i++) node = el('div', {}, [node]);
  el('body', {}, [node]);
  assert.equal(selectorFor(leaf).split(' > ').length, 4);
});

test('interactive elements and downloads', () => {
  assert.equal(isInteractive(el('a', { href: '/p' })), true);
  assert.equal(isInteractive(el('a', {})), false);
  assert.equal(isInteractive(el('div', { role: 'button' })), true);
  assert.equal(isInteractive(el('div', { tabindex: '0' })), true);
  assert.equal(isInteractive(el('div', {})), false);
  assert.equal(isDownload(el('a', { href: '/files/report.pdf?v=2' })), true);
  assert.equal(isDownload(el('a', { href: '/export', download: '' })), true);
  assert.equal(isDownload(el('a', { href: '/products/pdf-reader' })), false);
});

test('the click payload: page position, offset in the element per mille, sizes', () => {
  const button = el('button', { id: 'buy' });
  button.box = { left: 100, top: 50, width: 200, height: 40 };
  el('body', {}, [button]);
  const doc = { documentElement: { scrollWidth: 1280, scrollHeight: 3000 }, body: { scrollWidth: 1200, scrollHeight: 2900 } };
  const win = { innerWidth: 1280, innerHeight: 720 };
  const payload = clickPayload({ pageX: 150, pageY: 1070, clientX: 150, clientY: 70 }, button, doc, win);
  assert.deepEqual(payload, {
    sel: 'button#buy', tag: 'button', x: 150, y: 1070, ox: 250, oy: 500, w: 1280, h: 3000, vw: 1280, vh: 720, int: 1, dl: 0,
  });
});

test('events inside our own survey and feedback widgets are not the page activity', async () => {
  const { insideOwnWidget } = await import('../src/recorder/own.js');
  const host = { nodeType: 1, id: 'sessionlens-survey' };
  const button = { nodeType: 1, id: '' };
  assert.equal(insideOwnWidget([button, { nodeType: 11 }, host, { nodeType: 9 }]), true);
  assert.equal(insideOwnWidget([{ nodeType: 1, id: 'sessionlens-feedback' }]), true);
  assert.equal(insideOwnWidget([button, { nodeType: 1, id: 'zoom' }]), false);
  assert.equal(insideOwnWidget(undefined), false);
});
