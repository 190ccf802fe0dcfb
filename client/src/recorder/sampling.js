// Session sampling: a session is recorded or not as a whole, decided from its id
// with the same hash as the server (sessionlens/recording_rules.py): FNV-1a 32-bit
// of the id's UTF-8 bytes, mod 10000, below rate x 100.

/** FNV-1a, 32 bits, of a string's UTF-8 bytes, as an unsigned integer. */
export function fnv1a32(text) {
  const bytes = typeof TextEncoder === 'function'
    ? new TextEncoder().encode(String(text))
    : Array.from(unescape(encodeURIComponent(String(text))), (c) => c.charCodeAt(0));
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i];
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** Whether a session is recorded at `rate` percent (0-100, two decimals). */
export function sampledIn(sessionId, rate) {
  const r = typeof rate === 'number' && Number.isFinite(rate) ? rate : 100;
  return fnv1a32(sessionId) % 10000 < Math.round(r * 100);
}
