// Colours and the CSS of the widget and the feedback button. The CSS lives in their
// shadow roots, so the page's CSS does not reach inside; `:host` rules are !important
// so that page rules on the host element (div { ... }) cannot move or hide it.

import { DEFAULT_COLOR, cleanColor } from './definition.js';

function channel(c) {
  const s = c / 255;
  return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
}

/** WCAG relative luminance of `#rrggbb`. */
export function luminance(hex) {
  const h = cleanColor(hex).slice(1);
  const r = parseInt(h.slice(0, 2), 16);
  const g = parseInt(h.slice(2, 4), 16);
  const b = parseInt(h.slice(4, 6), 16);
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
}

/** Black or white, whichever contrasts more with the accent colour. */
export function textOn(hex) {
  const l = luminance(hex);
  const withWhite = 1.05 / (l + 0.05);
  const withBlack = (l + 0.05) / 0.05;
  return withBlack >= withWhite ? '#000000' : '#ffffff';
}

export function themeVars(color) {
  const accent = cleanColor(color || DEFAULT_COLOR);
  return '--sl-accent:' + accent + ';--sl-on-accent:' + textOn(accent) + ';';
}

const BASE = `
*,*::before,*::after{box-sizing:border-box}
.sl-root{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1b1b1b;text-align:left;letter-spacing:normal;text-transform:none}
[hidden]{display:none!important}
.sl-sr{position:absolute!important;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);clip-path:inset(50%);white-space:nowrap;margin:-1px;padding:0;border:0}
button{font:inherit;cursor:pointer;border-radius:6px;padding:7px 14px;border:1px solid #8a8a8a;background:#fff;color:#1b1b1b;min-height:36px}
button:focus-visible,input:focus-visible,textarea:focus-visible{outline:3px solid var(--sl-accent);outline-offset:2px}
[tabindex="-1"]:focus{outline:none}
.sl-primary{background:var(--sl-accent);color:var(--sl-on-accent);border-color:var(--sl-accent)}
.sl-x{border:0;background:transparent;font-size:20px;line-height:1;padding:4px 10px;min-height:32px;color:#444}
.sl-error{color:#b00020;font-weight:600;margin:8px 0 0}
.sl-error:empty{display:none}
h2{font-size:16px;font-weight:700;margin:0;flex:1;outline-offset:2px}
.sl-head{display:flex;align-items:flex-start;gap:8px}
.sl-intro{margin:6px 0 10px;color:#333}
fieldset{border:0;margin:0;padding:0;min-width:0}
legend{font-weight:600;padding:0;margin:0 0 8px;outline-offset:2px}
.sl-req{font-weight:400;color:#555}
.sl-choice{display:flex;align-items:center;gap:8px;padding:6px 8px;margin:2px 0;border-radius:6px;border:1px solid #d0d0d0;cursor:pointer}
.sl-choice:has(input:checked){border-color:var(--sl-accent);box-shadow:inset 0 0 0 1px var(--sl-accent)}
input[type=radio],input[type=checkbox]{accent-color:var(--sl-accent);width:18px;height:18px;margin:0;flex:none}
.sl-scale{display:flex;flex-wrap:nowrap;gap:3px}
.sl-scale .sl-choice{flex-direction:column;gap:2px;padding:4px 0;min-width:0;flex:1 1 0;justify-content:center;margin:0;text-align:center;font-size:13px}
.sl-scale .sl-choice:has(input:checked){background:var(--sl-accent);color:var(--sl-on-accent)}
.sl-ends{display:flex;justify-content:space-between;font-size:12px;color:#555;margin-top:4px}
textarea{font:inherit;width:100%;min-height:80px;resize:vertical;border:1px solid #8a8a8a;border-radius:6px;padding:6px;color:#1b1b1b;background:#fff}
.sl-label{display:block;margin:0 0 4px;font-size:13px;color:#444}
.sl-foot{display:flex;align-items:center;gap:8px;margin-top:12px}
.sl-progress{flex:1;font-size:12px;color:#555}
.sl-thanks{margin:8px 0;font-weight:600;outline-offset:2px}
`;

// The host is the fixed box itself (no transform: the panel and the pick overlay are
// fixed to the viewport). Small screens: data-small on the host.
export const SURVEY_CSS = `
:host{all:initial!important;display:block!important;position:fixed!important;z-index:2147483000!important;bottom:16px!important;right:16px!important;left:auto!important;top:auto!important;width:340px!important;max-width:calc(100vw - 32px)!important;visibility:visible!important;opacity:1!important;transform:none!important;margin:0!important}
:host([data-position=bottom-left]){left:16px!important;right:auto!important}
:host([data-small]){left:0!important;right:0!important;bottom:0!important;width:auto!important;max-width:none!important}
` + BASE + `
.sl-dialog{max-height:70vh;overflow:auto;background:#fff;border:1px solid #c8c8c8;border-radius:10px;box-shadow:0 6px 24px rgba(0,0,0,.18);padding:14px 16px;border-top:4px solid var(--sl-accent)}
.sl-small .sl-dialog{max-height:50vh;border-radius:10px 10px 0 0;padding:12px}
.sl-bar{display:flex;align-items:center;gap:8px;padding:6px 8px 6px 12px;background:#fff;border-top:3px solid var(--sl-accent);box-shadow:0 -2px 12px rgba(0,0,0,.15);max-height:50vh}
.sl-bar-text{flex:1;font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
`;

export const FEEDBACK_CSS = `
:host{all:initial!important;display:flex!important;align-items:center!important;position:fixed!important;z-index:2147482999!important;top:0!important;bottom:0!important;right:0!important;left:auto!important;pointer-events:none!important;visibility:visible!important;opacity:1!important;transform:none!important;margin:0!important}
:host([data-position=left]){left:0!important;right:auto!important}
:host([data-position=bottom-right]){top:auto!important;right:16px!important;align-items:flex-end!important}
` + BASE + `
.sl-fb-tab,.sl-fb-panel{pointer-events:auto}
.sl-fb-tab{background:var(--sl-accent);color:var(--sl-on-accent);border:0;box-shadow:0 2px 8px rgba(0,0,0,.2);writing-mode:vertical-rl;padding:12px 8px;border-radius:0 6px 6px 0}
.sl-right .sl-fb-tab{transform:rotate(180deg)}
.sl-bottom-right .sl-fb-tab{writing-mode:horizontal-tb;padding:8px 12px;border-radius:6px 6px 0 0}
.sl-fb-panel{position:fixed;z-index:2147483000;width:320px;max-width:calc(100vw - 32px);max-height:70vh;overflow:auto;background:#fff;border:1px solid #c8c8c8;border-radius:10px;box-shadow:0 6px 24px rgba(0,0,0,.18);padding:14px 16px;border-top:4px solid var(--sl-accent);top:15vh}
.sl-right .sl-fb-panel{right:52px}
.sl-left .sl-fb-panel{left:52px}
.sl-bottom-right .sl-fb-panel{right:16px;bottom:52px;top:auto}
.sl-fb-row{margin-top:12px}
.sl-fb-selected{display:flex;align-items:center;gap:8px;margin-top:6px;font:12px/1.3 ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.sl-fb-selected code{flex:1}
.sl-fb-overlay{position:fixed;z-index:2147483001;pointer-events:none;border:2px solid var(--sl-accent);background:rgba(47,111,222,.12);border-radius:3px;box-shadow:0 0 0 1px #fff}
.sl-fb-hint{position:fixed;z-index:2147483002;pointer-events:none;left:16px;right:16px;top:12px;margin:0 auto;width:fit-content;background:#1b1b1b;color:#fff;padding:8px 12px;border-radius:6px;font-size:13px}
@media (max-width:599px){.sl-fb-panel{left:8px!important;right:8px!important;width:auto;max-width:none;top:auto!important;bottom:8px!important;max-height:50vh}}
`;
