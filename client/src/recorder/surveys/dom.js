// Small DOM helpers shared by the widget and the feedback button. Texts are only ever
// set with textContent: definition strings are never parsed as HTML.

export function el(doc, tag, attrs, text) {
  const node = doc.createElement(tag);
  if (attrs) {
    for (const name of Object.keys(attrs)) {
      const value = attrs[name];
      if (value === false || value == null) continue;
      if (name === 'class') node.className = value;
      else node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  if (text != null) node.textContent = String(text);
  return node;
}

/** A host element with an open shadow root holding `css`; returns {host, root}. */
export function shadowHost(doc, id, css) {
  const host = el(doc, 'div', { id });
  const root = host.attachShadow({ mode: 'open' });
  root.appendChild(el(doc, 'style', null, css));
  return { host, root };
}

/** Whether the visitor is busy in the page: focus is on something other than the body. */
export function pageBusy(doc) {
  const active = doc.activeElement;
  return !!active && active !== doc.body && active !== doc.documentElement;
}

export function focusable(node) {
  try {
    if (node && node.isConnected && typeof node.focus === 'function') {
      node.focus({ preventScroll: true });
      return true;
    }
  } catch (_) {
    // a detached or unfocusable node
  }
  return false;
}

/**
 * Remember where focus came from when it enters `host`, and give it back on request
 * (only when focus is inside `host` at that time).
 */
export function focusKeeper(doc, host) {
  let returnTo = doc.activeElement && doc.activeElement !== doc.body ? doc.activeElement : null;
  host.addEventListener('focusin', (event) => {
    const from = event.relatedTarget;
    if (from && from !== host && !host.contains(from)) returnTo = from;
  });
  return {
    inside() {
      return doc.activeElement === host;
    },
    restore() {
      if (doc.activeElement !== host) return;
      if (returnTo && returnTo !== host && focusable(returnTo) && doc.activeElement !== host) return;
      try {
        const inner = host.shadowRoot && host.shadowRoot.activeElement;
        if (inner && inner.blur) inner.blur();
      } catch (_) {
        // nothing focused any more
      }
    },
  };
}

/** Set a live region's text a moment later, so that screen readers announce it. */
export function announce(region, message) {
  region.textContent = '';
  setTimeout(() => {
    region.textContent = message;
  }, 100);
}
