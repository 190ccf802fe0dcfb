// node --test test/   Config rules, page exclusion, DNT/GPC and consent decisions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { joinSelectors, mergeRules } from '../src/recorder/config.js';
import { blockReason, privacySignal } from '../src/recorder/consent.js';
import { maskText, scrubAttributes } from '../src/recorder/guard.js';
import { pageExcluded } from '../src/recorder/page.js';

test('exclude patterns match the whole path, * matches anything', () => {
  const patterns = ['/account/*', '/checkout', '/orders/*/invoice', '/search?q=*'];
  assert.equal(pageExcluded(patterns, '/account/settings', ''), true);
  assert.equal(pageExcluded(patterns, '/account/a/b', '?x=1'), true);
  assert.equal(pageExcluded(patterns, '/account', ''), false);
  assert.equal(pageExcluded(patterns, '/checkout', '?step=2'), true);
  assert.equal(pageExcluded(patterns, '/checkout/done', ''), false);
  assert.equal(pageExcluded(patterns, '/orders/17/invoice', ''), true);
  assert.equal(pageExcluded(patterns, '/search', '?q=lamp'), true);
  assert.equal(pageExcluded(patterns, '/search', ''), false);
  assert.equal(pageExcluded(['/a.b(c)+'], '/a.b(c)+', ''), true); // no regex surprises
  assert.equal(pageExcluded(['/a.b'], '/axb', ''), false);
  assert.equal(pageExcluded(['no-slash', 7], '/no-slash', ''), false);
  assert.equal(pageExcluded([], '/', ''), false);
});

test('DNT and GPC are read from navigator-like objects', () => {
  assert.equal(privacySignal({ doNotTrack: '1' }, {}), 'dnt');
  assert.equal(privacySignal({ doNotTrack: 'yes' }, {}), 'dnt');
  assert.equal(privacySignal({}, { doNotTrack: '1' }), 'dnt');
  assert.equal(privacySignal({ msDoNotTrack: '1' }, {}), 'dnt');
  assert.equal(privacySignal({ globalPrivacyControl: true }, {}), 'gpc');
  assert.equal(privacySignal({ doNotTrack: '0', globalPrivacyControl: false }, { doNotTrack: null }), '');
  assert.equal(privacySignal({ doNotTrack: 'unspecified' }, {}), '');
  assert.equal(privacySignal(undefined, undefined), '');
  const throwing = { get doNotTrack() { throw new Error('no'); } };
  assert.equal(privacySignal(throwing, {}), '');
});

test('consent, opt-out and signals decide whether to record', () => {
  const base = { optedOut: false, consent: null, signal: '', honourDnt: true, consentRequired: false };
  assert.equal(blockReason(base), '');
  assert.equal(blockReason({ ...base, signal: 'dnt' }), 'do-not-track');
  assert.equal(blockReason({ ...base, signal: 'gpc' }), 'global-privacy-control');
  assert.equal(blockReason({ ...base, signal: 'dnt', honourDnt: false }), '');
  assert.equal(blockReason({ ...base, consentRequired: true }), 'awaiting-consent');
  assert.equal(blockReason({ ...base, consentRequired: true, consent: true }), '');
  assert.equal(blockReason({ ...base, consent: false }), 'consent-declined');
  assert.equal(blockReason({ ...base, consent: true, optedOut: true }), 'opted-out');
});

test('init options add rules and can only make the mode stricter', () => {
  const served = {
    mask_all_text: false, unmask_selectors: ['.open'], mask_text_selectors: [], block_selectors: ['#ad'],
    url_param_denylist: ['token', 'MyRef'], exclude_pages: ['/admin/*'], honour_dnt: true,
    consent_required: false, cookieless: false,
  };
  const rules = mergeRules(served, { consentRequired: true, cookieless: true, blockSelectors: ['.x'], blockSelector: '.y' });
  assert.deepEqual(rules.unmask, ['.open']);
  assert.deepEqual(rules.block, ['#ad', '.x', '.y']);
  assert.equal(rules.consentRequired, true);
  assert.equal(rules.cookieless, true);
  assert.equal(rules.denylist.has('myref'), true);
  assert.equal(rules.denylist.has('email'), true); // built-in defaults stay
  const loose = mergeRules({ ...served, consent_required: true, cookieless: true }, { consentRequired: false, cookieless: false });
  assert.equal(loose.consentRequired, true);
  assert.equal(loose.cookieless, true);
  const empty = mergeRules({}, {});
  assert.equal(empty.honourDnt, true);
  assert.equal(empty.maskAllText, false);
  assert.deepEqual(empty.excludePages, []);
});

test('invalid selectors are skipped, not thrown', () => {
  const bad = [];
  const check = (s) => !s.includes('[[');
  assert.equal(joinSelectors(['.a', 'div[[', ' ', '#b'], check, (s) => bad.push(s)), '.a,#b');
  assert.deepEqual(bad, ['div[[']);
  assert.equal(joinSelectors([], check, () => {}), null);
});

test('attributes that carry values are scrubbed with their element', () => {
  const text = { title: 'Ada', alt: 'Photo of Ada', 'data-user': 'ada@x', 'data-sl-mask': '', class: 'c', href: '/a' };
  scrubAttributes(text, true, null);
  assert.deepEqual(text, { title: '***', alt: '*****' + ' ** ' + '***', 'data-user': '*****', 'data-sl-mask': '', class: 'c', href: '/a' });
  const secret = { value: '4242', title: '4242', 'data-value': '4242', placeholder: 'Card number' };
  scrubAttributes(secret, false, 'secret');
  assert.deepEqual(secret, { value: '4242', title: '', 'data-value': '', placeholder: 'Card number' });
  const masked = { title: 'Ada L', 'aria-valuetext': 'Ada', placeholder: 'Name' };
  scrubAttributes(masked, false, 'masked');
  assert.deepEqual(masked, { title: '*** *', 'aria-valuetext': '***', placeholder: 'Name' });
  const open = { title: 'Ada', placeholder: 'Name' };
  scrubAttributes(open, false, 'open');
  assert.deepEqual(open, { title: 'Ada', placeholder: 'Name' });
  assert.equal(maskText('a b\nc'), '* *\n*');
});
