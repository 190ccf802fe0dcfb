// Console player glue for /sessions/{id}.
//
// The page has a strict CSP (no inline script), so everything comes from the DOM:
//   <div id="player" data-blocks-url="/sessions/ID/blocks"></div>
//   <ol class="session-pages"><li><a href="#" data-offset-ms="12345">...</a></li></ol>
// The first block (Meta + FullSnapshot) is shown at once; later blocks are
// appended while the user already watches. `#player[data-state]` tells how far
// loading got: loading, ready (first frame shown), complete, error.

import { previewRules } from './preview.js';
import { Timeline } from './timeline.js';
import { followTime, isPlaying, keyboardShortcuts, linkToMoment, markInactive, startOffset } from './controls.js';
import rrwebPlayer from 'rrweb-player';
import 'rrweb-player/dist/style.css';
import './player.css';

const FULL_SNAPSHOT = 2;
const META = 4;
const CONTROLLER_HEIGHT = 80;
const FALLBACK_WIDTH = 960;

function setState(container, value) {
  container.setAttribute('data-state', value);
}

function message(container, text, replace) {
  if (replace) container.textContent = '';
  const p = document.createElement('p');
  p.className = 'sl-player-message';
  p.setAttribute('role', 'status');
  p.textContent = text;
  container.appendChild(p);
}

function fail(container, text) {
  message(container, text, true);
  setState(container, 'error');
}

async function getJson(url) {
  const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error('HTTP ' + response.status);
  return response.json();
}

/** Player frame size: the container's width, the recorded viewport's aspect ratio. */
function frameSize(container, meta) {
  const width = Math.floor(container.clientWidth) || FALLBACK_WIDTH;
  const recorded = meta && meta.data && meta.data.width > 0 && meta.data.height > 0 ? meta.data : null;
  const ratio = recorded ? recorded.height / recorded.width : 9 / 16;
  const maxHeight = Math.max(240, (window.innerHeight || 800) - CONTROLLER_HEIGHT - 40);
  return { width, height: Math.round(Math.min(width * ratio, maxHeight)) };
}

function validEvents(events) {
  return Array.isArray(events) ? events.filter((e) => e && typeof e.type === 'number' && typeof e.timestamp === 'number') : [];
}

// Adding events one by one through the player refreshes the controller each
// time; add through the replayer and let the block's last event refresh the
// controller's total time once.
function appendEvents(player, events) {
  if (!Array.isArray(events) || !events.length) return;
  const replayer = player.getReplayer();
  for (let i = 0; i < events.length - 1; i++) replayer.addEvent(events[i]);
  player.addEvent(events[events.length - 1]);
}

// rrweb applies synchronously only events strictly before the seek time, so seeking to a
// page's Meta event would leave the previous page on screen: land just after the full
// snapshot that follows it instead.
function pageOffset(player, offset) {
  try {
    const replayer = player.getReplayer();
    const start = replayer.getMetaData().startTime;
    const events = replayer.service.state.context.events;
    for (const event of events) {
      if (event.type === 2 && event.timestamp - start >= offset) {
        return event.timestamp - start + 1;
      }
    }
  } catch (err) {
    // Fall back to the page's own offset.
  }
  return offset;
}

function followPageLinks(getPlayer) {
  let wanted = null;
  document.addEventListener('click', (e) => {
    const link = e.target && e.target.closest ? e.target.closest('a[data-offset-ms]') : null;
    if (!link) return;
    e.preventDefault();
    const offset = Number(link.getAttribute('data-offset-ms'));
    if (!Number.isFinite(offset) || offset < 0) return;
    const player = getPlayer();
    if (player) player.goto(pageOffset(player, offset));
    else wanted = offset;
  });
  return () => wanted;
}

// rrweb-player sizes itself with style="" attributes, which a CSP without
// 'unsafe-inline' in style-src blocks; styles set through the CSSOM are allowed,
// so set the same sizes that way too.
function applySize(container, size) {
  const outer = container.querySelector('.rr-player');
  const frame = container.querySelector('.rr-player__frame');
  if (outer) {
    outer.style.width = size.width + 'px';
    outer.style.height = size.height + CONTROLLER_HEIGHT + 'px';
  }
  if (frame) {
    frame.style.width = size.width + 'px';
    frame.style.height = size.height + 'px';
  }
}

function resize(container, player, meta) {
  const size = frameSize(container, meta);
  player.$set(size);
  applySize(container, size);
  player.triggerResize();
}

function followResize(container, player, meta) {
  let timer = null;
  let lastWidth = container.clientWidth;
  window.addEventListener('resize', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (container.clientWidth === lastWidth) return;
      lastWidth = container.clientWidth;
      resize(container, player, meta);
    }, 150);
  });
}

async function loadFirstEvents(blocks) {
  let events = [];
  let next = 0;
  while (next < blocks.length && !events.some((e) => e && e.type === FULL_SNAPSHOT)) {
    const block = await getJson(blocks[next].url);
    if (Array.isArray(block)) events = events.concat(block);
    next++;
  }
  return { events, next };
}

// The timeline list, shortcuts and moment link; each piece is optional in the page.
function setUpTimeline(container, player, events) {
  keyboardShortcuts(() => player);
  linkToMoment(document.getElementById('moment-link'), document.getElementById('moment-url'), () => player);
  markInactive(container, events);
  const list = document.getElementById('timeline');
  if (!list) return null;
  const timeline = new Timeline(list, {
    seek: (offset, kind) => player.goto(kind === 'page' ? pageOffset(player, offset) : offset, isPlaying(player)),
    getMirror: () => player.getReplayer().getMirror(),
    consolePanel: document.getElementById('console'),
  });
  timeline.add(events);
  for (const item of document.querySelectorAll('#signals li')) {
    const offset = Number(item.getAttribute('data-offset-ms'));
    if (!Number.isFinite(offset)) continue;
    timeline.signal(item.getAttribute('data-kind') || '', offset, item.getAttribute('data-label') || 'Signal', item.textContent || '');
  }
  followTime(container, player, (ms) => timeline.highlight(ms));
  return timeline;
}

export async function start(container) {
  setState(container, 'loading');
  let player = null;
  const wantedOffset = followPageLinks(() => player);
  let blocks;
  let first;
  try {
    const list = await getJson(container.getAttribute('data-blocks-url'));
    blocks = (list && Array.isArray(list.blocks) ? list.blocks : []).slice().sort((a, b) => a.index - b.index);
    if (!blocks.length) return fail(container, 'This recording has no replay data yet.');
    first = await loadFirstEvents(blocks);
  } catch (err) {
    return fail(container, 'The recording could not be loaded (' + err.message + '). Reload the page to try again.');
  }
  const events = first.events.filter((e) => e && typeof e.type === 'number' && typeof e.timestamp === 'number');
  if (events.length < 2 || !events.some((e) => e.type === FULL_SNAPSHOT)) {
    return fail(container, 'This recording cannot be replayed: it has no full page snapshot.');
  }
  const meta = events.find((e) => e.type === META);
  container.textContent = '';
  try {
    player = new rrwebPlayer({
      target: container,
      props: {
        events,
        ...frameSize(container, meta),
        autoPlay: false,
        skipInactive: true,
        speedOption: [1, 2, 4, 8],
        showController: true,
        insertStyleRules: previewRules(container),
      },
    });
  } catch (err) {
    return fail(container, 'The recording could not be shown (' + err.message + ').');
  }
  window.sessionlensPlayer = player;
  resize(container, player, meta);
  const loaded = events.slice();
  const timeline = setUpTimeline(container, player, events);
  setState(container, 'ready');
  followResize(container, player, meta);
  // ?t=: seek once the loaded events reach that moment (or everything is loaded).
  let fromLink = startOffset(location.search);
  const seekFromLink = (done) => {
    const reached = loaded[loaded.length - 1].timestamp - loaded[0].timestamp;
    if (fromLink === null || (reached < fromLink && !done)) return;
    player.goto(Math.min(fromLink, reached));
    fromLink = null;
  };
  if (wantedOffset() !== null) player.goto(pageOffset(player, wantedOffset()));
  else seekFromLink(first.next >= blocks.length);

  for (let i = first.next; i < blocks.length; i++) {
    try {
      const more = validEvents(await getJson(blocks[i].url));
      appendEvents(player, more);
      if (timeline) timeline.add(more);
      for (const event of more) loaded.push(event);
      markInactive(container, loaded);
      seekFromLink(i === blocks.length - 1);
    } catch (err) {
      message(container, 'Only part of this recording could be loaded (' + err.message + ').', false);
      setState(container, 'partial');
      return;
    }
  }
  setState(container, 'complete');
}

const container = document.getElementById('player');
if (container && container.getAttribute('data-blocks-url')) start(container);
