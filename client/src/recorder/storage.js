// Storage that never throws: sessionStorage, localStorage and cookies can each be
// missing, disabled or full (privacy modes, sandboxed iframes, quota), and the
// recorder must keep working with whatever is left.

function area(name) {
  try {
    const s = window[name];
    // Touching the area can throw (Safari private mode, blocked storage).
    const probe = '_sl_probe';
    s.setItem(probe, '1');
    s.removeItem(probe);
    return s;
  } catch (_) {
    return null;
  }
}

function wrap(name) {
  let cached;
  const get = () => (cached === undefined ? (cached = area(name)) : cached);
  return {
    get(key) {
      try {
        const s = get();
        return s ? s.getItem(key) : null;
      } catch (_) {
        return null;
      }
    },
    /** Returns false when the value could not be stored (no storage, quota). */
    set(key, value) {
      try {
        const s = get();
        if (!s) return false;
        s.setItem(key, value);
        return true;
      } catch (_) {
        return false;
      }
    },
    remove(key) {
      try {
        const s = get();
        if (s) s.removeItem(key);
      } catch (_) {
        // nothing to do: the key is unreadable anyway
      }
    },
  };
}

export const session = wrap('sessionStorage');
export const local = wrap('localStorage');

export function readCookie(name) {
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
export function writeCookie(name, value, maxAgeSeconds) {
  try {
    let cookie = name + '=' + encodeURIComponent(value) + '; Max-Age=' + maxAgeSeconds + '; Path=/; SameSite=Lax';
    if (location.protocol === 'https:') cookie += '; Secure';
    document.cookie = cookie;
  } catch (_) {
    return false;
  }
  return readCookie(name) === value;
}
