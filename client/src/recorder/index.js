// sessionlens.js: bootstrap and the window.sessionlens API.
//
// <script src="BASE/sessionlens.js" data-project="KEY" defer></script>
// starts recording on load. Nothing here may throw into the host page.

import { record } from '@rrweb/record';
import { Batcher } from './batcher.js';
import { guardEvent, maskInputFn, scrubReplacer } from './guard.js';
import { IDLE_TIMEOUT_MS, Session, loadVisitorId, randomId } from './ids.js';
import { pageMeta, watchNavigation } from './page.js';

// Only valid while this script runs for the first time.
const ownScript = document.currentScript;

const FULL_SNAPSHOT = 2;
const INCREMENTAL = 3;
const META = 4;
const CUSTOM = 5;
// Incremental sources that mean a person is there (mouse, scroll, resize, input, touch, media, drag, selection).
const ACTIVITY_SOURCES = [1, 2, 3, 4, 5, 6, 7, 12, 14];
const MAX_EARLY_CALLS = 100;

const state = {
  started: false,
  recording: false, // rrweb has emitted its first full snapshot and not been stopped
  awaitingSnapshot: false, // a new session waits for its own full snapshot
  stopRecording: null,
  session: null,
  batcher: null,
  early: [], // custom events called before recording began
};

function scriptElement() {
  return ownScript || document.querySelector('script[data-project]');
}

/** Origin + path prefix of the script's own URL: https://x.example/sl/sessionlens.js -> https://x.example/sl */
function baseFromScript(el) {
  if (!el || !el.src) return '';
  const url = new URL(el.src, location.href);
  return url.origin + url.pathname.replace(/\/[^/]*$/, '');
}

function isActivity(event) {
  if (event.type === CUSTOM) return true;
  return event.type === INCREMENTAL && ACTIVITY_SOURCES.indexOf(event.data.source) >= 0;
}

function onEmit(event) {
  try {
    if (state.awaitingSnapshot) {
      if (event.type !== META) return;
      state.awaitingSnapshot = false;
    }
    const now = Date.now();
    if (event.type === META || event.type === FULL_SNAPSHOT) {
      state.session.touch(now);
    } else if (isActivity(event)) {
      if (state.session.idleFor(now) > IDLE_TIMEOUT_MS) {
        startNewSession(now);
        return;
      }
      state.session.touch(now);
    }
    if (!guardEvent(event, record.mirror)) return;
    state.batcher.add(JSON.stringify(event, scrubReplacer), event.type);
    if (event.type === FULL_SNAPSHOT && !state.recording) {
      state.recording = true;
      setTimeout(replayEarlyCalls, 0);
    }
  } catch (_) {
    // a broken event is dropped, the recording goes on
  }
}

// After 30 minutes without activity the same page starts a new session, which
// needs its own Meta + FullSnapshot; the event that woke it up is dropped.
function startNewSession(now) {
  state.batcher.formAll();
  state.session.renew(now);
  state.awaitingSnapshot = true;
  setTimeout(() => {
    try {
      record.takeFullSnapshot(true);
    } catch (_) {
      state.awaitingSnapshot = false;
    }
  }, 0);
}

function addCustom(tag, payload) {
  if (!state.recording) {
    if (state.early.length < MAX_EARLY_CALLS && state.stopRecording !== false) state.early.push([tag, payload]);
    return;
  }
  record.addCustomEvent(tag, payload);
}

function replayEarlyCalls() {
  const calls = state.early;
  state.early = [];
  for (const [tag, payload] of calls) safe(() => addCustom(tag, payload));
}

function plain(value) {
  if (value == null) return {};
  try {
    return JSON.parse(JSON.stringify(value));
  } catch (_) {
    return {};
  }
}

function safe(fn) {
  try {
    return fn();
  } catch (_) {
    return undefined;
  }
}

function start(options) {
  if (state.started) return;
  const projectKey = options.projectKey || (scriptElement() && scriptElement().getAttribute('data-project'));
  const baseUrl = String(options.baseUrl || baseFromScript(scriptElement())).replace(/\/+$/, '');
  if (!projectKey || !baseUrl) return;
  state.started = true;

  const now = Date.now();
  state.session = new Session(now);
  state.batcher = new Batcher({
    url: baseUrl + '/i/v1/' + encodeURIComponent(projectKey) + '/batch',
    session: state.session,
    visitorId: loadVisitorId(),
    windowId: randomId(),
    meta: pageMeta,
    onHalt: stop,
  });

  state.stopRecording = record({
    emit: onEmit,
    maskInputFn,
    // Explicit instead of maskAllInputs: that preset lists input *types* only, so
    // hidden, file and unknown-type inputs would never reach maskInputFn.
    maskInputOptions: {
      input: true, textarea: true, select: true, password: true, text: true, email: true, tel: true,
      number: true, search: true, url: true, date: true, 'datetime-local': true, month: true,
      week: true, time: true, color: true, range: true,
    },
    maskTextSelector: ['[data-sl-mask]', '[contenteditable]:not([contenteditable="false"])']
      .concat(options.maskTextSelector ? [options.maskTextSelector] : [])
      .join(','),
    blockSelector: ['[data-sl-block]'].concat(options.blockSelector ? [options.blockSelector] : []).join(','),
    sampling: { mousemove: 50, scroll: 150, media: 800 },
    recordCanvas: false,
    collectFonts: false,
    inlineStylesheet: true,
    inlineImages: false,
    slimDOMOptions: {
      script: true, comment: true, headFavicon: true, headWhitespace: true, headMetaSocial: true,
      headMetaRobots: true, headMetaHttpEquiv: true, headMetaVerification: true,
      headMetaAuthorship: true, headMetaDescKeywords: true, headTitleMutations: false,
    },
  });

  watchNavigation(
    (href) => safe(() => addCustom('sessionlens.page', { href })),
    () => state.recording,
  );
  window.addEventListener('pagehide', () => safe(() => {
    state.batcher.unload();
    state.session.release();
  }));
  window.addEventListener('pageshow', (e) => safe(() => e.persisted && state.session.claim()));
  document.addEventListener('visibilitychange', () => safe(() => {
    if (document.visibilityState === 'hidden') state.batcher.unload();
  }));
}

function stop() {
  if (!state.started) return;
  if (typeof state.stopRecording === 'function') safe(state.stopRecording);
  state.stopRecording = false;
  state.recording = false;
  state.early = [];
  if (state.batcher) state.batcher.flush();
}

const api = {
  version: 1,
  /** @param {{projectKey?: string, baseUrl?: string, maskTextSelector?: string, blockSelector?: string}} options */
  init(options) {
    safe(() => start(options || {}));
  },
  identify(userId, traits) {
    if (userId == null || userId === '') return;
    safe(() => addCustom('sessionlens.identify', { user_id: String(userId), traits: plain(traits) }));
  },
  event(name, props) {
    safe(() => addCustom('sessionlens.event', { name: String(name), props: plain(props) }));
  },
  stop() {
    safe(stop);
  },
};

safe(() => {
  if (window.sessionlens && window.sessionlens.version) return; // included twice: the first one records
  // A page may have queued calls before the script loaded: window.sessionlens = [['identify', 'u1'], ...]
  const queued = Array.isArray(window.sessionlens) ? window.sessionlens : [];
  window.sessionlens = api;
  const el = scriptElement();
  if (el && el.getAttribute('data-project')) api.init({});
  for (const call of queued) {
    if (call && typeof api[call[0]] === 'function') api[call[0]].apply(api, call.slice(1));
  }
});
