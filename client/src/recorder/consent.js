// Whether this visitor may be recorded: Do-Not-Track, Global Privacy Control,
// consent mode, and the opt-out remembered by sessionlens.optOut().

import { local, readCookie, removeCookie, writeCookie } from './storage.js';

const OPT_OUT_KEY = '_sl_optout';
const OPT_OUT_MAX_AGE_S = 365 * 24 * 60 * 60;

function isOn(value) {
  return value === '1' || value === 'yes' || value === 1 || value === true;
}

function read(object, name) {
  try {
    return object ? object[name] : undefined;
  } catch (_) {
    return undefined;
  }
}

/**
 * The privacy signal a browser sends, if any: 'gpc' (Global Privacy Control),
 * 'dnt' (Do-Not-Track, in its standard and older vendor forms) or ''.
 * `nav` and `win` are navigator and window (or objects like them).
 */
export function privacySignal(nav, win) {
  if (read(nav, 'globalPrivacyControl') === true) return 'gpc';
  if (isOn(read(nav, 'doNotTrack')) || isOn(read(win, 'doNotTrack')) || isOn(read(nav, 'msDoNotTrack'))) {
    return 'dnt';
  }
  return '';
}

/** Whether this visitor opted out on an earlier page (cookie or localStorage). */
export function isOptedOut() {
  return readCookie(OPT_OUT_KEY, true) === '1' || local.get(OPT_OUT_KEY, true) === '1';
}

/**
 * Remember (or forget) the visitor's opt-out. Written even in cookieless mode:
 * it is the visitor's own request, holds no identifier, and is the only way to
 * honour it on the next page load.
 */
export function rememberOptOut(optedOut) {
  if (optedOut) {
    writeCookie(OPT_OUT_KEY, '1', OPT_OUT_MAX_AGE_S, true);
    local.set(OPT_OUT_KEY, '1', true);
  } else {
    removeCookie(OPT_OUT_KEY);
    local.remove(OPT_OUT_KEY);
  }
}

/**
 * Why nothing may be recorded ('' when it may). `state`: {optedOut, consent
 * (null until the page says, then true/false), signal (privacySignal()),
 * honourDnt, consentRequired}. The reasons are also what status() reports.
 */
export function blockReason(state) {
  if (state.optedOut) return 'opted-out';
  if (state.honourDnt && state.signal) return state.signal === 'gpc' ? 'global-privacy-control' : 'do-not-track';
  if (state.consent === false) return 'consent-declined';
  if (state.consentRequired && state.consent !== true) return 'awaiting-consent';
  return '';
}
