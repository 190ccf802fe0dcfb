// The timeline beside the replay: what happened, each entry a button that jumps there.
//   <ol id="timeline"></ol>             filled here, block after block
//   <details id="console" hidden>       captured errors (sessionlens.error), shown if any
//   <ol id="signals" hidden>            struggle signals from the server: <li data-offset-ms
//                                       data-kind data-label>text</li>, merged in time order
// Every recorded string is set with textContent: recorded data never becomes HTML.

import { NodeMap, describeLive, truncate } from './describe.js';

const FULL_SNAPSHOT = 2;
const INCREMENTAL = 3;
const META = 4;
const CUSTOM = 5;
const MUTATION = 0;
const MOUSE_INTERACTION = 2;
const CLICK = 2;
const INPUT = 5;

export function formatOffset(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return minutes + ':' + (seconds < 10 ? '0' : '') + seconds;
}

function shortUrl(href) {
  try {
    const url = new URL(href);
    return truncate(url.pathname + url.search, 60) || '/';
  } catch (err) {
    return truncate(href, 60);
  }
}

function elementLabel(description, id) {
  if (!description) return 'element #' + id;
  return description.text ? description.selector + ' “' + description.text + '”' : description.selector;
}

export class Timeline {
  /** seek(offsetMs, kind) jumps the player; getMirror() returns the replayer's mirror or null. */
  constructor(list, { seek, getMirror, consolePanel }) {
    this.list = list;
    this.seek = seek;
    this.getMirror = getMirror;
    this.consolePanel = consolePanel || null;
    this.nodes = new NodeMap();
    this.entries = [];
    this.start = null;
    this.lastInput = null;
    this.current = -1;
  }

  /** Add events in recording order (the first block, then each appended one). */
  add(events) {
    for (const event of events) {
      if (!event || typeof event.timestamp !== 'number') continue;
      if (this.start === null) this.start = event.timestamp;
      this.handle(event, event.timestamp - this.start);
    }
  }

  handle(event, offset) {
    const data = event.data || {};
    if (event.type === META) {
      this.lastInput = null;
      if (data.href) this.entry('page', offset, 'Page', shortUrl(data.href), data.href);
    } else if (event.type === FULL_SNAPSHOT) {
      this.nodes.reset(data.node);
    } else if (event.type === INCREMENTAL) {
      if (data.source === MUTATION) this.nodes.mutate(data);
      else if (data.source === MOUSE_INTERACTION && data.type === CLICK) this.click(data.id, offset);
      else if (data.source === INPUT) this.input(data, offset);
    } else if (event.type === CUSTOM) {
      this.custom(data.tag, data.payload || {}, offset);
    }
  }

  describe(id) {
    const known = this.nodes.describe(id);
    if (known) return known;
    try {
      const mirror = this.getMirror();
      return mirror ? describeLive(mirror.getNode(id)) : null;
    } catch (err) {
      return null;
    }
  }

  click(id, offset) {
    this.lastInput = null;
    this.entry('click', offset, 'Click', elementLabel(this.describe(id), id));
  }

  input(data, offset) {
    // The length of the (already masked) text only: never the value itself.
    const length = typeof data.text === 'string' ? data.text.length : 0;
    const detail = (n) => 'typed into ' + elementLabel(this.describe(data.id), data.id) + ' (' + n + (n === 1 ? ' character)' : ' characters)');
    if (this.lastInput && this.lastInput.id === data.id) {
      this.lastInput.detail.textContent = detail(length);
      return;
    }
    const entry = this.entry('input', offset, 'Input', detail(length));
    this.lastInput = { id: data.id, detail: entry.detail };
  }

  custom(tag, payload, offset) {
    if (tag === 'sessionlens.page') {
      this.lastInput = null;
      this.entry('page', offset, 'Page', shortUrl(String(payload.href || '')), String(payload.href || ''));
    } else if (tag === 'sessionlens.event') {
      this.entry('event', offset, 'Event', truncate(payload.name, 60));
    } else if (tag === 'sessionlens.identify') {
      this.entry('identify', offset, 'Identify', truncate(payload.user_id, 60));
    } else if (tag === 'sessionlens.error') {
      const text = truncate(payload.message, 200) || 'Error';
      this.entry('error', offset, 'Error', truncate(text, 80), text);
      this.consoleLine(text, offset);
    }
  }

  entry(kind, offset, label, detailText, title) {
    const li = document.createElement('li');
    li.className = 'tl-' + kind;
    const button = document.createElement('button');
    button.type = 'button';
    button.setAttribute('data-offset-ms', String(offset));
    if (title) button.title = title;
    const time = document.createElement('span');
    time.className = 'offset';
    time.textContent = formatOffset(offset);
    const kindSpan = document.createElement('span');
    kindSpan.className = 'tl-kind';
    kindSpan.textContent = label;
    const detail = document.createElement('span');
    detail.className = 'tl-detail';
    detail.textContent = detailText;
    button.append(time, kindSpan, detail);
    button.addEventListener('click', () => this.seek(offset, kind));
    li.appendChild(button);
    // In time order: signals are added before the later blocks' events.
    let index = this.entries.length;
    while (index > 0 && this.entries[index - 1].offset > offset) index--;
    const entry = { offset, li, detail };
    if (index === this.entries.length) {
      this.list.appendChild(li);
    } else {
      this.list.insertBefore(li, this.entries[index].li);
      this.clearHighlight();
    }
    this.entries.splice(index, 0, entry);
    return entry;
  }

  /** A struggle signal the server found (rage click, dead click...). */
  signal(kind, offset, label, text) {
    const entry = this.entry('signal', offset, label, truncate(text, 80), text);
    entry.li.classList.add('tl-signal-' + String(kind).replace(/[^a-z_]/g, ''));
  }

  clearHighlight() {
    if (this.current >= 0 && this.entries[this.current]) {
      this.entries[this.current].li.classList.remove('current');
      this.entries[this.current].li.removeAttribute('aria-current');
    }
    this.current = -1;
  }

  consoleLine(text, offset) {
    const panel = this.consolePanel;
    if (!panel) return;
    panel.hidden = false;
    const list = panel.querySelector('ol');
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    const time = document.createElement('span');
    time.className = 'offset';
    time.textContent = formatOffset(offset);
    const message = document.createElement('span');
    message.className = 'tl-detail';
    message.textContent = text;
    button.append(time, message);
    button.addEventListener('click', () => this.seek(offset, 'error'));
    li.appendChild(button);
    if (list) list.appendChild(li);
    const count = panel.querySelector('.count');
    if (count && list) count.textContent = String(list.children.length);
  }

  /** Mark the last entry at or before the player's time. */
  highlight(timeMs) {
    let index = -1;
    for (let i = 0; i < this.entries.length && this.entries[i].offset <= timeMs; i++) index = i;
    if (index === this.current) return;
    if (this.current >= 0 && this.entries[this.current]) {
      this.entries[this.current].li.classList.remove('current');
      this.entries[this.current].li.removeAttribute('aria-current');
    }
    this.current = index;
    if (index >= 0) {
      const li = this.entries[index].li;
      li.classList.add('current');
      li.setAttribute('aria-current', 'step');
    }
  }
}
