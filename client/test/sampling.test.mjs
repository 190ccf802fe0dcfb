// node --test test/   Recording rules: sampling, pages to record, answers that stop a
// session, and oversize snapshots trimmed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeRules } from '../src/recorder/config.js';
import { pageRecorded } from '../src/recorder/page.js';
import { fnv1a32, sampledIn } from '../src/recorder/sampling.js';
import { classify } from '../src/recorder/transport.js';
import { PLACEHOLDER_IMAGE, trimEvent, trimmedEvent } from '../src/recorder/trim.js';

// The same vectors as tests/test_recording_rules.py checks against the server's copy.
const FNV_VECTORS = {
  '': 0x811c9dc5,
  a: 0xe40c292c,
  foobar: 0xbf9cf968,
  sessionAAAA0001: 0x4d6027a8,
  sessionAAAA0002: 0x50602c61,
  'Zx9_-kLmN0pQrStUvWxYz1': 0xbf1045dc,
};

test('FNV-1a matches the published vectors and the server', () => {
  for (const [text, expected] of Object.entries(FNV_VECTORS)) assert.equal(fnv1a32(text), expected, text);
});

test('sampling buckets are the hash mod 10000 below rate x 100', () => {
  assert.equal(sampledIn('sessionAAAA0002', 0.98), true); // bucket 97
  assert.equal(sampledIn('sessionAAAA0002', 0.97), false);
  assert.equal(sampledIn('sessionAAAA0001', 72.41), true); // bucket 7240
  assert.equal(sampledIn('sessionAAAA0001', 72.4), false);
  assert.equal(sampledIn('sessionAAAA0001', 50), false);
  assert.equal(sampledIn('sessionAAAA0002', 50), true);
  for (const id of Object.keys(FNV_VECTORS)) {
    assert.equal(sampledIn(id, 100), true);
    assert.equal(sampledIn(id, 0), false);
  }
  assert.equal(sampledIn('sessionAAAA0001', undefined), true); // no rule: everything
});

test('the config brings the sampling rate and the pages to record', () => {
  assert.equal(mergeRules({}, {}).sampleRate, 100);
  assert.deepEqual(mergeRules({}, {}).recordPages, []);
  const rules = mergeRules({ sample_rate: 12.5, record_pages: ['/checkout/*'] }, {});
  assert.equal(rules.sampleRate, 12.5);
  assert.deepEqual(rules.recordPages, ['/checkout/*']);
  assert.equal(mergeRules({ sample_rate: 'x' }, {}).sampleRate, 100);
  assert.equal(mergeRules({ sample_rate: 130 }, {}).sampleRate, 100);
});

test('pages to record: none means every page, else the patterns', () => {
  assert.equal(pageRecorded([], '/anything', ''), true);
  assert.equal(pageRecorded(['/checkout/*', '/cart'], '/checkout/pay', ''), true);
  assert.equal(pageRecorded(['/checkout/*', '/cart'], '/cart', '?x=1'), true);
  assert.equal(pageRecorded(['/checkout/*', '/cart'], '/checkout', ''), false);
  assert.equal(pageRecorded(['/checkout/*'], '/', ''), false);
  assert.equal(pageRecorded(['not-a-path'], '/', ''), true); // unusable patterns are ignored
});

test('kept:false and the quota 429 stop the session, other answers as before', () => {
  assert.equal(classify(202, { ok: true, kept: false, reason: 'sampled' }), 'sampled');
  assert.equal(classify(202, { ok: true, kept: false, reason: 'page' }), 'done');
  assert.equal(classify(202, { ok: true, duplicate: false }), 'done');
  assert.equal(classify(429, { error: 'monthly session quota reached', quota: true }), 'quota');
  assert.equal(classify(429, { error: 'too many batches; retry later' }), 'wait');
  assert.equal(classify(429, null), 'wait');
  assert.equal(classify(503), 'retry');
  assert.equal(classify(404), 'stop');
});

function snapshot(attrs, style) {
  return {
    type: 2,
    timestamp: 10,
    data: {
      node: {
        type: 0,
        id: 1,
        childNodes: [
          { type: 2, id: 2, tagName: 'img', attributes: attrs, childNodes: [] },
          {
            type: 2,
            id: 3,
            tagName: 'style',
            attributes: {},
            childNodes: [{ type: 3, id: 4, textContent: style, isStyle: true }],
          },
        ],
      },
      initialOffset: { top: 0, left: 0 },
    },
  };
}

test('a large inline image and CSS data URLs become placeholders', () => {
  const image = 'data:image/png;base64,' + 'A'.repeat(300000);
  const style = 'a{color:red}b{background:url("data:image/png;base64,' + 'B'.repeat(70000) + '")}';
  const event = snapshot({ src: image, alt: 'hero', class: 'x' }, style);
  const count = trimEvent(event);
  assert.equal(count.assets, 2);
  const img = event.data.node.childNodes[0];
  assert.equal(img.attributes.src, PLACEHOLDER_IMAGE);
  assert.equal(img.attributes.alt, 'hero');
  assert.equal(img.attributes['data-sl-trimmed'], String(image.length - PLACEHOLDER_IMAGE.length));
  const css = event.data.node.childNodes[1].childNodes[0].textContent;
  assert.ok(css.startsWith('a{color:red}b{background:url("' + PLACEHOLDER_IMAGE));
  assert.equal(count.bytes, image.length - PLACEHOLDER_IMAGE.length + style.length - css.length);
  assert.deepEqual(trimmedEvent(10, count).data, { tag: 'sessionlens.trimmed', payload: count });
});

test('small assets, mutations and other attributes', () => {
  const small = snapshot({ src: 'data:image/png;base64,AAAA' }, 'a{}');
  assert.equal(trimEvent(small).assets, 0);
  assert.equal(small.data.node.childNodes[0].attributes.src, 'data:image/png;base64,AAAA');
  const mutation = {
    type: 3,
    timestamp: 5,
    data: {
      source: 0,
      adds: [{ parentId: 1, node: { type: 2, id: 9, tagName: 'video', attributes: { poster: 'data:' + 'C'.repeat(70000) }, childNodes: [] } }],
      attributes: [{ id: 2, attributes: { 'data-blob': 'x'.repeat(300000), href: 'https://x.example/' + 'y'.repeat(70000) } }],
      texts: [],
      removes: [],
    },
  };
  assert.equal(trimEvent(mutation).assets, 2);
  assert.equal(mutation.data.adds[0].node.attributes.poster, PLACEHOLDER_IMAGE);
  const changed = mutation.data.attributes[0].attributes;
  assert.equal(changed['data-blob'], '');
  assert.ok(changed.href.startsWith('https://x.example/')); // not a data: URL, under 256 KB
  assert.equal(trimEvent({ type: 3, timestamp: 1, data: { source: 1, positions: [] } }).assets, 0);
});
