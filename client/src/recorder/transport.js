// Talking to the ingest endpoint (docs/ingest-protocol.md): body encoding,
// gzip, fetch, sendBeacon and what each answer means for the batch.

// Browsers cap a beacon / keepalive body at 64 KiB; keep a margin.
export const BEACON_MAX_BYTES = 60000;
const MAX_RETRY_AFTER_MS = 10 * 60 * 1000;

/** UTF-8 byte length of a string, without allocating. */
export function utf8Length(text) {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4; // surrogate pair
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * The JSON body of a batch. `events` is the already serialized events joined
 * with commas, so large snapshots are not stringified twice.
 */
export function buildBody(batch, sentAt) {
  return (
    '{"session_id":' + JSON.stringify(batch.sid) +
    ',"visitor_id":' + JSON.stringify(batch.vid) +
    ',"window_id":' + JSON.stringify(batch.wid) +
    ',"seq":' + batch.seq +
    ',"sent_at":' + sentAt +
    ',"meta":' + batch.meta +
    ',"events":[' + batch.events + ']}'
  );
}

async function gzip(text) {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** POST a batch body with fetch (gzip when the browser can). Rejects on network errors. */
export async function post(url, text) {
  const headers = { 'Content-Type': 'application/json' };
  let body = text;
  if (typeof CompressionStream === 'function') {
    try {
      body = await gzip(text);
      headers['Content-Encoding'] = 'gzip';
    } catch (_) {
      body = text;
    }
  }
  const response = await fetch(url, {
    method: 'POST',
    body,
    headers,
    credentials: 'omit',
    mode: 'cors',
  });
  let answer = null;
  if (response.status === 202 || response.status === 429) {
    try {
      answer = await response.json();
    } catch (_) {
      answer = null;
    }
  }
  return {
    status: response.status,
    retryAfterMs: parseRetryAfter(response.headers.get('Retry-After'), Date.now()),
    body: answer,
  };
}

/**
 * Send a body that must leave while the page unloads. Uncompressed (gzip is
 * async) and as text/plain, so it stays a CORS "simple" request. Returns false
 * when the browser refused to queue it.
 */
export function beacon(url, text) {
  try {
    if (navigator.sendBeacon) {
      return navigator.sendBeacon(url, new Blob([text], { type: 'text/plain' }));
    }
  } catch (_) {
    return false;
  }
  try {
    fetch(url, {
      method: 'POST',
      body: text,
      headers: { 'Content-Type': 'text/plain' },
      credentials: 'omit',
      mode: 'cors',
      keepalive: true,
    }).catch(() => {});
    return true;
  } catch (_) {
    return false;
  }
}

/** Retry-After in ms (seconds or an HTTP date), at least 1 s, at most 10 minutes. */
export function parseRetryAfter(value, now) {
  let ms = NaN;
  if (value) {
    const seconds = Number(value);
    ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - now;
  }
  if (!Number.isFinite(ms)) ms = 5000;
  return Math.min(Math.max(ms, 1000), MAX_RETRY_AFTER_MS);
}

/**
 * What to do with a batch after an answer (`body`: the parsed JSON of a 202 or 429):
 * 'done' (stored, or dropped on purpose), 'drop' (retrying cannot help), 'stop' (stop
 * recording), 'wait' (429: honour Retry-After), 'retry' (backoff), 'sampled' (202
 * kept:false for a sampled-out session) and 'quota' (429 quota: the monthly session
 * quota is reached) stop recording this session only, without retrying.
 */
export function classify(status, body) {
  const answer = body && typeof body === 'object' ? body : {};
  if (status >= 200 && status < 300) return answer.kept === false && answer.reason === 'sampled' ? 'sampled' : 'done';
  if (status === 403 || status === 404) return 'stop';
  if (status === 429) return answer.quota === true ? 'quota' : 'wait';
  if (status === 408 || status >= 500 || status === 0) return 'retry';
  return 'drop';
}

/** Backoff for the n-th consecutive failure: 1 s, 2 s, 4 s ... capped at 30 s, with a little jitter. */
export function backoffMs(failures) {
  const base = Math.min(1000 * Math.pow(2, Math.max(failures - 1, 0)), 30000);
  return Math.round(base * (0.9 + Math.random() * 0.2));
}
