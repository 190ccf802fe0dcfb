// node --test test/   URL rules: the same answers as the server's sessionlens.privacy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_DENYLIST } from '../src/recorder/config.js';
import { paramDenied, stripCssUrls, stripSrcset, stripUrl, stripUrlAttributes } from '../src/recorder/urls.js';

const deny = new Set(DEFAULT_DENYLIST);

test('a parameter is denied by its whole name or any part of it', () => {
  for (const name of ['token', 'TOKEN', 'auth_token', 'access-token', 'user.email', 'userEmail', 'apiKey',
    'APIKey', 'sessionID', 'session_id', 'x[token]', 'reset_code', 'sid']) {
    assert.equal(paramDenied(name, deny), true, name);
  }
  for (const name of ['q', 'keyword', 'page', 'sort', 'tokens', 'monkey', 'utm_source', 'zipcode', '']) {
    assert.equal(paramDenied(name, deny), false, name);
  }
});

test('the server examples strip the same way', () => {
  const cases = [
    ['https://a.example/?q=lamp&token=abc', 'https://a.example/?q=lamp'],
    ['https://a.example/?keyword=x&apiKey=1&user_email=e&page=2', 'https://a.example/?keyword=x&page=2'],
    ['https://a.example/cb#access_token=abc&state=1', 'https://a.example/cb'],
    ['https://a.example/?session_id=9&sort=asc', 'https://a.example/?sort=asc'],
    ['https://a.example/plain', 'https://a.example/plain'],
  ];
  for (const [url, expected] of cases) assert.equal(stripUrl(url, deny), expected, url);
});

test('stripping keeps the rest as written and works on relative URLs', () => {
  assert.equal(stripUrl('/search?q=a%20b&token=SECRET#top', deny), '/search?q=a%20b#top');
  assert.equal(stripUrl('?token=x', deny), '');
  assert.equal(stripUrl('/p?token=x#/cb?id_token=y', deny), '/p');
  assert.equal(stripUrl('/p?q=1#section-2', deny), '/p?q=1#section-2');
  assert.equal(stripUrl('/p?a%5Ftoken=1&b=2', deny), '/p?b=2'); // encoded name
  assert.equal(stripUrl('/p?my_token=1&x', deny), '/p?x');
  assert.equal(stripUrl('/p#!/x?code=1', deny), '/p');
  assert.equal(stripUrl(42, deny), 42);
  assert.equal(stripUrl('/p?CustomerRef=1', new Set(['customerref'])), '/p');
});

test('srcset, CSS url() and URL attributes are stripped', () => {
  assert.equal(
    stripSrcset('https://c.example/a.png?token=T1 1x, /b.png?w=2&sig=1 2x', new Set([...deny, 'sig'])),
    'https://c.example/a.png 1x, /b.png?w=2 2x',
  );
  assert.equal(stripSrcset('/a.png?token=T 1x,/b.png 2x', deny), '/a.png 1x, /b.png 2x');
  // Without a space after it, a comma is part of the URL (HTML's srcset rules).
  assert.equal(stripSrcset('/a.png?token=T,/b.png', deny), '/a.png');
  assert.equal(
    stripCssUrls('a{background:url("/i.png?token=T")} b{background:url(/j.png?x=1)}', deny),
    'a{background:url("/i.png")} b{background:url(/j.png?x=1)}',
  );
  const attrs = {
    href: 'https://s.example/?token=T&q=lamp',
    action: '/pay?session=1',
    src: '/img.png?key=K',
    rr_src: 'https://other.example/frame?auth=A',
    ping: '/p1?token=1 /p2',
    class: 'token=x?',
    style: 'background:url(/x.png?secret=S)',
  };
  stripUrlAttributes(attrs, deny);
  assert.deepEqual(attrs, {
    href: 'https://s.example/?q=lamp',
    action: '/pay',
    src: '/img.png',
    rr_src: 'https://other.example/frame',
    ping: '/p1 /p2',
    class: 'token=x?',
    style: 'background:url(/x.png)',
  });
  const mutation = { style: { 'background-image': ['url(/y.png?token=1)', 'important'], color: 'red' } };
  stripUrlAttributes(mutation, deny);
  assert.deepEqual(mutation.style, { 'background-image': ['url(/y.png)', 'important'], color: 'red' });
});
