// Visitor, session and window ids, and the per-session batch sequence number.

import { local, readCookie, removeCookie, session as tabStorage, writeCookie } from './storage.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const VALID_ID = /^[A-Za-z0-9_-]{8,64}$/;

export const IDLE_TIMEOUT_MS = 30 * 60 * 1000;
const VISITOR_KEY = '_sl_vid';
const VISITOR_MAX_AGE_S = 365 * 24 * 60 * 60;
const SESSION_KEY = '_sl_sid';
const SEQ_KEY = '_sl_seq';
const LAST_ACTIVITY_KEY = '_sl_last';
// Set while a page of this tab is alive; found set at start-up means the
// sessionStorage was copied into a new tab (duplicate tab, window.open), which
// must not continue the same session and its sequence numbers.
const LIVE_KEY = '_sl_live';
const ACTIVITY_WRITE_EVERY_MS = 5000;
// Batches a page could not send, kept for the next page load of the tab (batcher.js).
export const QUEUE_KEY = '_sl_q';
// The session the server would not keep (monthly quota) and why: not recorded on the
// tab's next pages either, until a new session starts.
export const OFF_KEY = '_sl_off';

/** A random id of `length` chars of [A-Za-z0-9_-] (6 bits each). */
export function randomId(length = 22) {
  const bytes = new Uint8Array(length);
  try {
    crypto.getRandomValues(bytes);
  } catch (_) {
    for (let i = 0; i < length; i++) bytes[i] = Math.floor(Math.random() * 256);
  }
  let id = '';
  for (let i = 0; i < length; i++) id += ALPHABET[bytes[i] & 63];
  return id;
}

export function isValidId(value) {
  return typeof value === 'string' && VALID_ID.test(value);
}

/** The visitor id: cookie `_sl_vid`, else localStorage, else a new one (kept in memory at least). */
export function loadVisitorId() {
  let id = readCookie(VISITOR_KEY);
  if (!isValidId(id)) id = local.get(VISITOR_KEY);
  if (!isValidId(id)) id = randomId();
  // Re-set the cookie on every page load so it lasts a year from the last visit.
  if (!writeCookie(VISITOR_KEY, id, VISITOR_MAX_AGE_S)) local.set(VISITOR_KEY, id);
  return id;
}

/** Remove every identifier and queue of ours (consent withdrawn, opt-out). */
export function forgetIds() {
  removeCookie(VISITOR_KEY);
  local.remove(VISITOR_KEY);
  for (const key of [SESSION_KEY, SEQ_KEY, LAST_ACTIVITY_KEY, LIVE_KEY, QUEUE_KEY, OFF_KEY]) tabStorage.remove(key);
}

/** The tab's session: id, next sequence number and last activity, kept in sessionStorage. */
export class Session {
  constructor(now) {
    const copiedTab = tabStorage.get(LIVE_KEY) !== null;
    const id = tabStorage.get(SESSION_KEY);
    const seq = Number(tabStorage.get(SEQ_KEY));
    const last = Number(tabStorage.get(LAST_ACTIVITY_KEY));
    const fresh = last > 0 && now - last < IDLE_TIMEOUT_MS;
    if (!copiedTab && fresh && isValidId(id) && Number.isInteger(seq) && seq >= 0) {
      this.id = id;
      this.nextSeq = seq;
      this.lastActivity = last;
      this.writtenActivity = last;
    } else {
      this.renew(now);
    }
    this.claim();
  }

  /** Start a new session (new id, seq from 0). */
  renew(now) {
    this.id = randomId();
    this.nextSeq = 0;
    this.lastActivity = now;
    this.writtenActivity = 0;
    tabStorage.set(SESSION_KEY, this.id);
    this.writeSeq();
    this.touch(now);
  }

  /** Take the next sequence number; the following one is stored before the batch is sent. */
  takeSeq() {
    const seq = this.nextSeq++;
    this.writeSeq();
    return seq;
  }

  writeSeq() {
    // If the counter cannot be stored, forget the session id too, so the next page
    // load of the tab starts a new session instead of reusing sequence numbers.
    if (!tabStorage.set(SEQ_KEY, String(this.nextSeq))) tabStorage.remove(SESSION_KEY);
  }

  idleFor(now) {
    return now - this.lastActivity;
  }

  touch(now) {
    this.lastActivity = now;
    if (now - this.writtenActivity >= ACTIVITY_WRITE_EVERY_MS) this.writeActivity();
  }

  writeActivity() {
    this.writtenActivity = this.lastActivity;
    tabStorage.set(LAST_ACTIVITY_KEY, String(this.lastActivity));
  }

  /** Mark the tab's storage as in use by this page. */
  claim() {
    tabStorage.set(LIVE_KEY, '1');
  }

  /** On pagehide: the next page of this tab may continue the session. */
  release() {
    this.writeActivity();
    tabStorage.remove(LIVE_KEY);
  }
}
