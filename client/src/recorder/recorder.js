// One page's recording: rrweb, the guard, the session and the batcher, with
// begin (ids created), pause/resume (excluded pages in an SPA), end (consent
// withdrawn, opt-out: unsent events dropped, identifiers removed). A session the
// recording rules leave out (sampled out, or refused by the server's monthly quota)
// is not recorded on any page until a new session starts.

import { record } from '@rrweb/record';
import { Batcher } from './batcher.js';
import { guardEvent, maskInputFn, maskTextFn, scrubReplacer, strip, textMaskSelector } from './guard.js';
import { IDLE_TIMEOUT_MS, Session, forgetIds, loadVisitorId, randomId } from './ids.js';
import { pageMeta } from './page.js';
import { trimEvent, trimmedEvent } from './trim.js';

const FULL_SNAPSHOT = 2;
const INCREMENTAL = 3;
const META = 4;
const CUSTOM = 5;
// Incremental sources that mean a person is there (mouse, scroll, resize, input, touch, media, drag, selection).
const ACTIVITY_SOURCES = [1, 2, 3, 4, 5, 6, 7, 12, 14];
const MAX_EARLY_CALLS = 100;

// Explicit instead of maskAllInputs: that preset lists input *types* only, so
// hidden, file and unknown-type inputs would never reach maskInputFn.
const MASK_INPUT_OPTIONS = {
  input: true, textarea: true, select: true, password: true, text: true, email: true, tel: true,
  number: true, search: true, url: true, date: true, 'datetime-local': true, month: true,
  week: true, time: true, color: true, range: true,
};
const SLIM_DOM = {
  script: true, comment: true, headFavicon: true, headWhitespace: true, headMetaSocial: true,
  headMetaRobots: true, headMetaHttpEquiv: true, headMetaVerification: true,
  headMetaAuthorship: true, headMetaDescKeywords: true, headTitleMutations: false,
};

function isActivity(event) {
  if (event.type === CUSTOM) return true;
  return event.type === INCREMENTAL && ACTIVITY_SOURCES.indexOf(event.data.source) >= 0;
}

export class Recorder {
  /**
   * @param {{url: string, blockSelector: string | null, maskTitle: boolean, onHalt: () => void,
   *   keepSession: (id: string) => string}} options  keepSession: '' to record the session,
   *   else why not ('sampled-out', 'over-quota')
   */
  constructor(options) {
    this.options = options;
    this.session = null;
    this.batcher = null;
    this.live = false; // rrweb was started and not stopped (it emits from inside record())
    this.stopRrweb = null;
    this.running = false; // rrweb has emitted its first full snapshot and not been stopped
    this.awaitingSnapshot = false; // a new session waits for its own full snapshot
    this.href = '';
    this.early = []; // custom events called before recording runs
    this.off = ''; // why the current session is not recorded ('' when it is)
  }

  get begun() {
    return this.batcher !== null;
  }

  /** Create the ids and the batcher, and start rrweb. */
  begin() {
    if (this.begun) return;
    const now = Date.now();
    this.session = new Session(now);
    this.batcher = new Batcher({
      url: this.options.url,
      session: this.session,
      visitorId: loadVisitorId(),
      windowId: randomId(),
      meta: () => pageMeta(this.href, strip, this.options.maskTitle),
      onHalt: this.options.onHalt,
      onSessionOff: (sid, reason) => this.sessionOff(sid, reason),
    });
    this.resume();
  }

  /** Start rrweb again (leaving an excluded page): a new Meta + FullSnapshot. */
  resume() {
    if (!this.begun || this.live) return;
    this.off = this.options.keepSession ? this.options.keepSession(this.session.id) : '';
    if (this.off) return;
    this.href = location.href;
    this.live = true;
    this.stopRrweb =
      record({
        emit: (event) => this.onEmit(event),
        maskInputFn,
        maskInputOptions: MASK_INPUT_OPTIONS,
        maskTextFn,
        maskTextSelector: textMaskSelector(),
        blockSelector: this.options.blockSelector || undefined,
        sampling: { mousemove: 50, scroll: 150, media: 800 },
        recordCanvas: false,
        collectFonts: false,
        inlineStylesheet: true,
        inlineImages: false,
        slimDOMOptions: SLIM_DOM,
      }) || null;
  }

  /** Stop rrweb and send what was recorded (entering an excluded page, stop()). */
  pause() {
    this.stopRecording();
    // Form the batches now, while their meta still names the page they belong to.
    if (this.batcher) this.batcher.formAll();
  }

  /** Stop everything and drop what is unsent; `forget` also removes our identifiers. */
  end(forget) {
    this.stopRecording();
    this.early = [];
    if (this.batcher) this.batcher.halt(false);
    this.batcher = null;
    this.session = null;
    if (forget) forgetIds();
  }

  /** The server will not keep this session: stop recording it (not the page's later sessions). */
  sessionOff(sid, reason) {
    if (this.options.onSessionOff) this.options.onSessionOff(sid, reason);
    if (!this.session || this.session.id !== sid) return;
    this.stopRecording();
    this.off = reason;
  }

  stopRecording() {
    const stop = this.stopRrweb;
    this.stopRrweb = null;
    this.live = false;
    this.running = false;
    this.awaitingSnapshot = false;
    if (stop) {
      try {
        stop();
      } catch (_) {
        // rrweb failed to remove a listener: nothing more will be emitted to us anyway
      }
    }
  }

  onEmit(event) {
    try {
      if (!this.live || !this.batcher) return;
      if (this.awaitingSnapshot) {
        if (event.type !== META) return;
        this.awaitingSnapshot = false;
      }
      const now = Date.now();
      if (event.type === META || event.type === FULL_SNAPSHOT) {
        this.session.touch(now);
      } else if (isActivity(event)) {
        if (this.session.idleFor(now) > IDLE_TIMEOUT_MS) {
          this.startNewSession(now);
          return;
        }
        this.session.touch(now);
      }
      if (!guardEvent(event, record.mirror)) return;
      // Large inline assets (a 20 MB data: image) would make the batch too big to send.
      const trimmed = trimEvent(event);
      this.batcher.add(JSON.stringify(event, scrubReplacer), event.type);
      if (trimmed.assets) this.batcher.add(JSON.stringify(trimmedEvent(event.timestamp, trimmed)), CUSTOM);
      if (event.type === FULL_SNAPSHOT && !this.running) {
        this.running = true;
        setTimeout(() => this.replayEarlyCalls(), 0);
      }
    } catch (_) {
      // a broken event is dropped, the recording goes on
    }
  }

  // After 30 minutes without activity the same page starts a new session, which
  // needs its own Meta + FullSnapshot; the event that woke it up is dropped.
  startNewSession(now) {
    this.batcher.formAll();
    this.session.renew(now);
    const off = this.options.keepSession ? this.options.keepSession(this.session.id) : '';
    if (off) {
      this.stopRecording();
      this.off = off;
      return;
    }
    this.awaitingSnapshot = true;
    setTimeout(() => {
      try {
        if (this.live) record.takeFullSnapshot(true);
      } catch (_) {
        this.awaitingSnapshot = false;
      }
    }, 0);
  }

  /** A custom event now, or (up to 100) once recording runs. */
  addCustom(tag, payload) {
    if (!this.running) {
      if (this.early.length < MAX_EARLY_CALLS) this.early.push([tag, payload]);
      return;
    }
    record.addCustomEvent(tag, payload);
  }

  /** An SPA navigation between recorded pages. */
  page(href) {
    this.href = href;
    if (this.running) record.addCustomEvent('sessionlens.page', { href: strip(href) });
  }

  replayEarlyCalls() {
    const calls = this.early;
    this.early = [];
    for (const [tag, payload] of calls) {
      try {
        this.addCustom(tag, payload);
      } catch (_) {
        // one bad payload does not stop the others
      }
    }
  }

  /** pagehide / hidden: send what is left. */
  unload(release) {
    if (!this.batcher) return;
    this.batcher.unload();
    if (release) this.session.release();
  }

  /** Back from the back/forward cache: this page uses the tab's session again. */
  reclaim() {
    if (this.session) this.session.claim();
  }
}
