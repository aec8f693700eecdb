// dom.js: the one way the page builds elements. Text always goes in as text
// nodes (never parsed as HTML), so a backup name full of "<" stays a name.

// h creates a tag with props and children. Props: "class", "on<event>"
// handlers, the properties value/checked/disabled/hidden, and any other
// attribute (true means present, false/null/undefined absent). Children:
// nodes, strings (as text), arrays, or null/false (skipped).
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'hidden') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

// append adds children (see h) to el.
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// replace makes children el's only children.
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

// size is n bytes in human units: "512 B", "1.5 MiB".
export function size(n) {
  if (!Number.isFinite(n) || n < 0) return '';
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + UNITS[i];
}

// parseDate reads the API's "YYYY-MM-DD HH:MM:SS.mmmZ" (UTC).
export function parseDate(s) {
  if (typeof s !== 'string' || s === '') return null;
  const d = new Date(s.replace(' ', 'T'));
  return Number.isNaN(d.getTime()) ? null : d;
}

// localTime is d in the browser's zone, to the minute.
export function localTime(d) {
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

// utcTime is d in UTC: "2026-12-07 00:00 UTC".
export function utcTime(d) {
  return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

// duration is ms as "0.8 s", "12 s", "3 min 5 s".
export function duration(ms) {
  const s = ms / 1000;
  if (s < 10) return s.toFixed(1) + ' s';
  if (s < 60) return Math.round(s) + ' s';
  return Math.floor(s / 60) + ' min ' + Math.round(s % 60) + ' s';
}

// timeEl is a <time> showing d locally, with UTC in its title.
export function timeEl(d) {
  return h('time', { datetime: d.toISOString(), title: utcTime(d) }, localTime(d));
}

let ids = 0;
// uid is a fresh element id with prefix p.
export function uid(p) { return p + '-' + (++ids); }
