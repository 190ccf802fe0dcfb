// POST the widget's and the feedback button's JSON (docs/surveys.md, "What the recorder
// sends"). Sent as text/plain so that no preflight is needed (and keepalive requests go
// out during unload too); the body is JSON. One retry after 3 s on a network error or a
// 5xx; nothing here throws into the page.

const RETRY_MS = 3000;

function attempt(url, text) {
  try {
    return fetch(url, {
      method: 'POST',
      body: text,
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
      credentials: 'omit',
      mode: 'cors',
      keepalive: true,
    }).then((response) => response.status >= 500, () => true);
  } catch (_) {
    return Promise.resolve(true);
  }
}

/** Send `body` as JSON to `url`; `stillWanted()` is asked before the retry (opt-out in between). */
export function postJson(url, body, stillWanted) {
  let text;
  try {
    text = JSON.stringify(body);
  } catch (_) {
    return;
  }
  attempt(url, text).then((retry) => {
    if (!retry) return;
    setTimeout(() => {
      try {
        if (!stillWanted || stillWanted()) attempt(url, text);
      } catch (_) {
        // never into the page
      }
    }, RETRY_MS);
  }, () => {});
}
