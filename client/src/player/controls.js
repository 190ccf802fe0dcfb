// Replay page controls around rrweb-player: keyboard shortcuts, "link to this moment",
// the ?t= start time, and inactive spans marked on the progress bar.

const STEP_MS = 5000;
const SPEEDS = { 1: 1, 2: 2, 4: 4, 8: 8 };
const INACTIVE_MS = 5000;
const INCREMENTAL = 3;

function currentTime(player) {
  try {
    return player.getReplayer().getCurrentTime();
  } catch (err) {
    return 0;
  }
}

function totalTime(player) {
  try {
    return player.getReplayer().getMetaData().totalTime;
  } catch (err) {
    return 0;
  }
}

/** Whether the replay is playing, from the replayer itself (the controller's copy lags). */
export function isPlaying(player) {
  try {
    return player.getReplayer().service.state.matches('playing');
  } catch (err) {
    return false;
  }
}

function typingTarget(target) {
  if (!target || !target.closest) return false;
  return Boolean(target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]'));
}

export function keyboardShortcuts(getPlayer) {
  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || typingTarget(e.target)) return;
    const player = getPlayer();
    if (!player) return;
    if (e.key === ' ' || e.code === 'Space') {
      e.preventDefault();
      player.toggle();
    } else if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      e.preventDefault();
      const delta = e.key === 'ArrowLeft' ? -STEP_MS : STEP_MS;
      const to = Math.min(Math.max(0, currentTime(player) + delta), totalTime(player));
      player.goto(to, isPlaying(player));
    } else if (Object.prototype.hasOwnProperty.call(SPEEDS, e.key)) {
      e.preventDefault();
      player.setSpeed(SPEEDS[e.key]);
    }
  });
}

/** The `t` query parameter in milliseconds, or null when absent or invalid. */
export function startOffset(search) {
  const raw = new URLSearchParams(search).get('t');
  if (raw === null || raw.trim() === '') return null;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) return null;
  return Math.round(seconds * 1000);
}

export function momentLink(seconds) {
  return location.origin + location.pathname + '?t=' + seconds;
}

export function linkToMoment(button, output, getPlayer) {
  if (!button) return;
  button.addEventListener('click', async () => {
    const player = getPlayer();
    if (!player) return;
    const link = momentLink(Math.floor(currentTime(player) / 1000));
    if (output) {
      output.value = link;
      output.hidden = false;
      output.select();
    }
    try {
      await navigator.clipboard.writeText(link);
      button.setAttribute('data-copied', '1');
    } catch (err) {
      button.setAttribute('data-copied', '0'); // copy it by hand from the field
    }
  });
}

function isInteraction(event) {
  return event.type === INCREMENTAL && event.data && event.data.source > 0 && event.data.source <= 5;
}

/** Spans longer than INACTIVE_MS without user interaction, as [startMs, endMs] offsets. */
export function inactiveSpans(events, threshold = INACTIVE_MS) {
  if (!events.length) return [];
  const start = events[0].timestamp;
  const spans = [];
  let last = start;
  for (const event of events) {
    if (!isInteraction(event)) continue;
    if (event.timestamp - last > threshold) spans.push([last - start, event.timestamp - start]);
    last = event.timestamp;
  }
  const end = events[events.length - 1].timestamp;
  if (end - last > threshold) spans.push([last - start, end - start]);
  return spans;
}

// rrweb-player draws its own inactive periods with style="" attributes, which the CSP
// blocks; draw ours with CSSOM styles (allowed) into the progress bar. `events` is every
// event loaded so far, in order (the replayer's own list may lag behind addEvent).
// The controller renders after the player (a Svelte update later): wait a little for it.
export function markInactive(container, events, tries = 20) {
  const bar = container.querySelector('.rr-progress');
  if (!bar) {
    if (tries > 0) setTimeout(() => markInactive(container, events, tries - 1), 100);
    return;
  }
  for (const old of bar.querySelectorAll('.sl-inactive')) old.remove();
  if (events.length < 2) return;
  const total = events[events.length - 1].timestamp - events[0].timestamp;
  if (!(total > 0)) return;
  for (const [from, to] of inactiveSpans(events)) {
    const mark = document.createElement('div');
    mark.className = 'sl-inactive';
    mark.title = 'Inactive (skipped)';
    mark.style.left = ((from / total) * 100).toFixed(2) + '%';
    mark.style.width = (((to - from) / total) * 100).toFixed(2) + '%';
    bar.appendChild(mark);
  }
}

/** Call onTime(ms) a few times a second, and state changes on the container. */
export function followTime(container, player, onTime) {
  setInterval(() => onTime(currentTime(player)), 250);
  try {
    player.addEventListener('ui-update-player-state', (state) => {
      container.setAttribute('data-playing', state && state.payload === 'playing' ? '1' : '0');
    });
  } catch (err) {
    // The timeline still follows the time.
  }
}
