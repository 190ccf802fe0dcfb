// The visitor's survey state (docs/surveys.md, "Frequency"): {"t": last invited, epoch
// seconds, "done": [survey ids answered or dismissed, at most 50, newest kept]} in the
// first-party cookie `_sl_srv` (one year), else localStorage under the same key. It holds
// no identifier, so it is written even where our ids may not be (`always`); in cookieless
// mode only localStorage is used, never the cookie. When it cannot be stored anywhere no
// survey is shown: without it the cap could not be kept.

import { local, readCookie, writeCookie } from '../storage.js';

export const STATE_KEY = '_sl_srv';
export const STATE_MAX_AGE_S = 365 * 24 * 60 * 60;
export const MAX_DONE = 50;
const DAY_S = 86400;

/** The state from its stored text; anything unreadable is an empty state. */
export function parseState(text) {
  let raw = null;
  try {
    raw = typeof text === 'string' && text.length <= 4000 ? JSON.parse(text) : null;
  } catch (_) {
    raw = null;
  }
  const t = raw && typeof raw.t === 'number' && Number.isFinite(raw.t) && raw.t >= 0 ? Math.floor(raw.t) : 0;
  const done = raw && Array.isArray(raw.done)
    ? raw.done.filter((id) => typeof id === 'number' && Number.isSafeInteger(id) && id > 0).slice(-MAX_DONE)
    : [];
  return { t, done };
}

export function serializeState(state) {
  return JSON.stringify({ t: state.t, done: state.done.slice(-MAX_DONE) });
}

/** Whether a survey may be shown now: `every_days` passed since the last invitation. */
export function mayInvite(state, nowMs, everyDays) {
  if (!state.t) return true;
  return Math.floor(nowMs / 1000) - state.t >= everyDays * DAY_S;
}

export function withShown(state, nowMs) {
  return { t: Math.floor(nowMs / 1000), done: state.done.slice() };
}

/** The survey added to `done` (moved to the end if already there), at most 50 kept. */
export function withDone(state, surveyId) {
  const done = state.done.filter((id) => id !== surveyId);
  done.push(surveyId);
  return { t: state.t, done: done.slice(-MAX_DONE) };
}

/** Where the state lives: the real cookie / localStorage (storage.js, `always`). */
export const browserBackend = {
  readCookie: () => readCookie(STATE_KEY, true),
  writeCookie: (value) => writeCookie(STATE_KEY, value, STATE_MAX_AGE_S, true),
  readLocal: () => local.get(STATE_KEY, true),
  writeLocal: (value) => local.set(STATE_KEY, value, true),
};

/**
 * The stored state and how to write it. `backend`: {readCookie, writeCookie, readLocal,
 * writeLocal} (writes return whether they were kept); `cookieless`: localStorage only.
 */
export function stateStore(backend, cookieless) {
  const b = backend || browserBackend;
  return {
    read() {
      const fromCookie = cookieless ? null : b.readCookie();
      if (fromCookie) return parseState(fromCookie);
      return parseState(b.readLocal());
    },
    /** Returns false when the state could be stored nowhere. */
    write(state) {
      const text = serializeState(state);
      if (!cookieless && b.writeCookie(text)) return true;
      return !!b.writeLocal(text);
    },
  };
}
