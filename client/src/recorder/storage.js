// Storage that never throws: sessionStorage, localStorage and cookies can each be
// missing, disabled or full (privacy modes, sandboxed iframes, quota), and the
// recorder must keep working with whatever is left.
//
// In cookieless mode (and before the page may store anything) `useStorage(false)`
// turns every read and write into a no-op, so nothing of ours is kept on the
// visitor's device. `always` bypasses it for the visitor's own opt-out choice.

let enabled = true;

/** Allow or forbid our cookies and web storage (cookieless mode forbids them). */
export function useStorage(allowed) {
  enabled = !!allowed;
}

function area(name) {
  try {
    // Reading the property can throw (blocked storage, sandboxed iframes).
    return window[name] || null;
  } catch (_) {
    return null;
  }
}

function wrap(name) {
  return {
    get(key, always) {
      if (!enabled && !always) return null;
      try {
        const s = area(name);
        return s ? s.getItem(key) : null;
      } catch (_) {
        return null;
      }
    },
    /** Returns false when the value could not be stored (no storage, quota, cookieless). */
    set(key, value, always) {
      if (!enabled && !always) return false;
      try {
        const s = area(name);
        if (!s) return false;
        s.setItem(key, value);
        return true;
      } catch (_) {
        return false;
      }
    },
    /** Removing is always allowed: it only ever takes our own data away. */
    remove(key) {
      try {
        const s = area(name);
        if (s) s.removeItem(key);
      } catch (_) {
        // nothing to do: the key is unreadable anyway
      }
    },
  };
}

export const session = wrap('sessionStorage');
export const local = wrap('localStorage');

export function readCookie(name, always) {
  if (!enabled && !always) return null;
  try {
    const prefix = name + '=';
    for (const part of document.cookie.split(';')) {
      const item = part.trim();
      if (item.indexOf(prefix) === 0) return decodeURIComponent(item.slice(prefix.length));
    }
  } catch (_) {
    // cookies disabled or document.cookie blocked
  }
  return null;
}

/** Set a first-party cookie; returns true when it reads back. */
export function writeCookie(name, value, maxAgeSeconds, always) {
  if (!enabled && !always) return false;
  try {
    let cookie = name + '=' + encodeURIComponent(value) + '; Max-Age=' + maxAgeSeconds + '; Path=/; SameSite=Lax';
    if (location.protocol === 'https:') cookie += '; Secure';
    document.cookie = cookie;
  } catch (_) {
    return false;
  }
  return readCookie(name, true) === value;
}

export function removeCookie(name) {
  try {
    if (readCookie(name, true) !== null) document.cookie = name + '=; Max-Age=0; Path=/; SameSite=Lax';
  } catch (_) {
    // cookies disabled: there is nothing to remove
  }
}
