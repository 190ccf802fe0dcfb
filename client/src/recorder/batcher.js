// The queue between rrweb and the ingest endpoint.
//
// Events wait in `pending` as JSON strings. A batch is formed (and given its
// sequence number, stored before sending) only when it is about to be sent, so
// a sequence number always names one fixed content. Batches go out one at a
// time in seq order; failed ones are retried with backoff. On unload, what is
// left goes out in beacon-sized batches; what cannot is kept in sessionStorage
// for the next page load of the tab.

import { BEACON_MAX_BYTES, backoffMs, beacon, buildBody, classify, post, utf8Length } from './transport.js';
import { QUEUE_KEY } from './ids.js';
import { session as tabStorage } from './storage.js';

const FLUSH_EVERY_MS = 2000;
const FIRST_FLUSH_MS = 500;
const MAX_BATCH_BYTES = 500 * 1024;
const MAX_BUFFER_BYTES = 10 * 1024 * 1024;
// sessionStorage is shared with the site (about 5M chars per origin): leave it room.
const MAX_PERSIST_CHARS = 1000 * 1000;
const FULL_SNAPSHOT = 2;
const META = 4;
const INCREMENTAL = 3;

export class Batcher {
  /**
   * @param {{url: string, session: import('./ids.js').Session, visitorId: string,
   *          windowId: string, meta: () => object, onHalt: () => void,
   *          onSessionOff: (sid: string, reason: string) => void}} options
   */
  constructor(options) {
    this.url = options.url;
    this.session = options.session;
    this.visitorId = options.visitorId;
    this.windowId = options.windowId;
    this.meta = options.meta;
    this.onHalt = options.onHalt;
    this.onSessionOff = options.onSessionOff || (() => {});
    this.pending = []; // {json, bytes, type}
    this.pendingBytes = 0;
    this.queue = []; // formed batches, in seq order
    this.sending = null;
    this.failures = 0;
    this.retryTimer = null;
    this.flushDue = false;
    this.halted = false;
    this.interval = setInterval(() => this.flush(), FLUSH_EVERY_MS);
    this.restore();
  }

  /** Add one serialized event. */
  add(json, type) {
    if (this.halted) return;
    const bytes = utf8Length(json);
    this.pending.push({ json, bytes, type });
    this.pendingBytes += bytes;
    if (type === FULL_SNAPSHOT) setTimeout(() => this.flush(), FIRST_FLUSH_MS);
    this.enforceBufferCap();
    if (this.pendingBytes >= MAX_BATCH_BYTES) this.pump();
  }

  flush() {
    this.flushDue = true;
    this.pump();
  }

  /** Form batches of everything pending now (used before the session changes). */
  formAll() {
    while (this.pending.length) this.queue.push(this.form(MAX_BATCH_BYTES));
    this.pump();
  }

  form(maxBytes) {
    const meta = JSON.stringify(this.meta());
    const head = { sid: this.session.id, vid: this.visitorId, wid: this.windowId, seq: 0, meta, events: '' };
    const room = maxBytes - utf8Length(buildBody(head, Date.now())) - 16;
    let count = 0;
    let size = 0;
    // At least one event per batch, and a Meta event always travels with the
    // snapshot that follows it.
    while (count < this.pending.length) {
      const item = this.pending[count];
      const lastWasMeta = count > 0 && this.pending[count - 1].type === META;
      if (count > 0 && !lastWasMeta && size + item.bytes + 1 > room) break;
      size += item.bytes + 1;
      count++;
    }
    const taken = this.pending.splice(0, count).map((item) => item.json);
    this.pendingBytes -= size - count;
    head.events = taken.join(',');
    head.bytes = size;
    head.seq = this.session.takeSeq();
    head.attempts = 0;
    return head;
  }

  pump() {
    if (this.halted || this.sending || this.retryTimer) return;
    if (!this.queue.length && this.pending.length && (this.flushDue || this.pendingBytes >= MAX_BATCH_BYTES)) {
      this.queue.push(this.form(MAX_BATCH_BYTES));
      if (!this.pending.length) this.flushDue = false;
    }
    if (this.queue.length) this.send(this.queue[0]);
  }

  async send(batch) {
    this.sending = batch;
    batch.attempts++;
    let outcome = 'retry';
    let waitMs = 0;
    try {
      const answer = await post(this.url, buildBody(batch, Date.now()));
      outcome = classify(answer.status, answer.body);
      waitMs = answer.retryAfterMs;
    } catch (_) {
      outcome = 'retry';
    }
    this.sending = null;
    if (this.halted) return;
    if (outcome === 'done' || outcome === 'drop') {
      this.failures = 0;
      this.remove(batch);
    } else if (outcome === 'stop') {
      this.halt();
      return;
    } else if (outcome === 'sampled' || outcome === 'quota') {
      this.failures = 0;
      this.dropSession(batch.sid);
      this.onSessionOff(batch.sid, outcome === 'quota' ? 'over-quota' : 'sampled-out');
    } else {
      if (outcome === 'retry') {
        this.failures++;
        waitMs = backoffMs(this.failures);
      }
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.pump();
      }, waitMs);
      return;
    }
    this.pump();
  }

  remove(batch) {
    const i = this.queue.indexOf(batch);
    if (i >= 0) this.queue.splice(i, 1);
    if (batch.persisted) this.persist(false);
  }

  /**
   * The server will not keep this session (sampled out, monthly quota reached): its
   * batches are dropped, never retried; other sessions' batches still go.
   */
  dropSession(sid) {
    for (const batch of this.queue.slice()) if (batch.sid === sid) this.remove(batch);
    if (this.session.id === sid) {
      this.pending = [];
      this.pendingBytes = 0;
    }
  }

  /**
   * Page is going away (pagehide, or hidden and maybe never back): send what
   * fits in beacons now, keep the rest in sessionStorage for the next page.
   */
  unload() {
    if (this.halted) return;
    for (const batch of this.queue.slice()) this.tryBeacon(batch);
    while (this.pending.length) {
      const batch = this.form(BEACON_MAX_BYTES);
      this.queue.push(batch);
      this.tryBeacon(batch);
    }
    this.persist(true);
  }

  tryBeacon(batch) {
    const body = buildBody(batch, Date.now());
    if (utf8Length(body) > BEACON_MAX_BYTES || !beacon(this.url, body)) return;
    // The browser took it; a copy still in flight via fetch is harmless, the
    // server stores a (session_id, seq) once.
    this.remove(batch);
  }

  /**
   * Keep unsent batches in sessionStorage for the next page load of this tab:
   * all of them on unload (as many as fit), else only those kept before.
   */
  persist(all) {
    const kept = [];
    for (const batch of this.queue) {
      if (!all && !batch.persisted) continue;
      const item = { sid: batch.sid, vid: batch.vid, wid: batch.wid, seq: batch.seq, meta: batch.meta, events: batch.events };
      const text = JSON.stringify(kept.concat([item]));
      // A failed setItem leaves the previous (smaller) list in place.
      batch.persisted = text.length <= MAX_PERSIST_CHARS && tabStorage.set(QUEUE_KEY, text);
      if (batch.persisted) kept.push(item);
    }
    if (!kept.length) tabStorage.remove(QUEUE_KEY);
  }

  /** Batches a previous page of this tab could not send go first. */
  restore() {
    let items;
    try {
      items = JSON.parse(tabStorage.get(QUEUE_KEY) || '[]');
    } catch (_) {
      items = [];
    }
    if (!Array.isArray(items)) return;
    for (const item of items) {
      if (item && typeof item.events === 'string' && typeof item.meta === 'string' && Number.isInteger(item.seq)) {
        this.queue.push({ ...item, bytes: utf8Length(item.events), attempts: 0, persisted: true });
      }
    }
  }

  /**
   * Bound memory while the server is unreachable: drop the oldest incremental
   * events first, then the oldest pending events of any kind, then the oldest
   * formed batches (their sequence numbers are simply never used again).
   */
  enforceBufferCap() {
    let total = this.pendingBytes;
    for (const batch of this.queue) total += batch.bytes;
    for (let i = 0; i < this.pending.length && total > MAX_BUFFER_BYTES; ) {
      if (this.pending[i].type === INCREMENTAL) total -= this.dropPending(i);
      else i++;
    }
    while (this.pending.length > 1 && total > MAX_BUFFER_BYTES) total -= this.dropPending(0);
    for (const batch of this.queue.slice()) {
      if (total <= MAX_BUFFER_BYTES) break;
      if (batch === this.sending) continue;
      total -= batch.bytes;
      this.remove(batch);
    }
  }

  dropPending(i) {
    const [item] = this.pending.splice(i, 1);
    this.pendingBytes -= item.bytes;
    return item.bytes;
  }

  /**
   * Forget everything and stop sending: 403/404 (unknown project or origin), or
   * (`notify` false) consent withdrawn or opt-out, where unsent events are dropped.
   */
  halt(notify = true) {
    this.halted = true;
    clearInterval(this.interval);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.pending = [];
    this.pendingBytes = 0;
    this.queue = [];
    tabStorage.remove(QUEUE_KEY);
    if (notify) this.onHalt();
  }
}
