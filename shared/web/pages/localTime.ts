/**
 * Times on the pages are written in UTC (`2026-11-27 11:50 UTC`), which every browser shows, with
 * or without script. Where script runs, the viewer's own local time is added beside it, so nobody
 * has to work out their offset. The script runs by the page's CSP nonce and changes nothing else.
 */
import { html, literal, type Html } from '../html';

/** `2026-11-27 11:50 UTC`: a person reads the minute, the JSON keeps the full ISO time. */
export function utcText(iso: string): string {
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(iso) ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : iso;
}

/** A time in UTC, marked up so that localTimeScript can add the viewer's local time beside it. */
export function utcTime(iso: string): Html {
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(iso) ? html`<time class="utc" datetime="${iso}">${utcText(iso)}</time>` : html`${iso}`;
}

/** Adds `(Nov 27, 2026, 8:50 PM your time)` after each UTC time, unless the viewer's clock is on UTC. */
export const localTimeScript = literal`(function () {
  if (!window.Intl || !Date.prototype.toLocaleString) return;
  var times = document.querySelectorAll('time.utc[datetime]');
  for (var i = 0; i < times.length; i++) {
    var t = times[i];
    var d = new Date(t.getAttribute('datetime'));
    if (isNaN(d.getTime()) || d.getTimezoneOffset() === 0) continue;
    var local = document.createElement('span');
    local.className = 'local-time';
    local.textContent = ' (' + d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) + ' your time)';
    t.insertAdjacentElement('afterend', local);
  }
})();`;
