// Small DOM helpers shared by the console's views. Everything the console
// shows is built with createElement and text nodes, never from HTML text, so that
// no string from the API is ever parsed as markup.

/**
 * h builds an element. attrs: "class", "text", "dataset" (object), "on"
 * (object of event listeners), booleans (true sets an empty attribute, false
 * omits it), anything else as an attribute. Children are nodes, strings,
 * arrays of them, or null/undefined/false (skipped).
 */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

const SVG = 'http://www.w3.org/2000/svg';

/** svg builds an SVG element, like h. */
export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** add appends children to el as h does (skipping null, undefined and false) and returns el. */
export function add(el, ...children) {
  append(el, children);
  return el;
}

/** clear removes every child of el and returns it. */
export function clear(el) {
  el.replaceChildren();
  return el;
}

let ids = 0;
/** uid returns a fresh element id with a readable prefix. */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** shortId is the first block of a UUID: enough to tell cases apart on screen. */
export function shortId(id) {
  return String(id || '').split('-')[0];
}

/**
 * humanise turns an API name into words: "overall_judgement" → "Overall
 * judgement", "RiskAssessmentRecorded" → "Risk assessment recorded".
 */
export function humanise(name) {
  const s = String(name)
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim()
    .toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** fmtTime shows an RFC 3339 time as "YYYY-MM-DD HH:MM UTC". */
export function fmtTime(t) {
  if (!t) return '—';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

/** fmtTimeLong shows an RFC 3339 time with seconds. */
export function fmtTimeLong(t) {
  if (!t) return '—';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toISOString().slice(0, 19).replace('T', ' ') + ' UTC';
}

/**
 * problemView shows an API error as the user should read it: the problem's
 * title, its detail, and each field error. role=alert has it read out.
 */
export function problemView(err, context) {
  const p = err && err.problem ? err.problem : { title: 'Something went wrong', detail: String(err && err.message || err) };
  return h('div', { class: 'problem', role: 'alert' },
    h('p', { class: 'problem-title' }, context ? `${context}: ` : '', h('strong', { text: p.title || 'Error' })),
    p.detail ? h('p', { text: capitalise(p.detail) + '.' }) : null,
    p.errors && p.errors.length
      ? h('ul', {}, p.errors.map((e) => h('li', {}, h('code', { text: e.field }), ' ', e.message)))
      : null);
}

/** capitalise upper-cases the first letter of a sentence. */
export function capitalise(s) {
  s = String(s || '').replace(/\.$/, '');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * announce writes a short message to the page's status region (aria-live):
 * screen readers read it without the focus moving.
 */
export function announce(msg) {
  const el = document.getElementById('status');
  if (el) el.textContent = msg;
}

const tlpClass = {
  'TLP:CLEAR': 'tlp-clear', 'TLP:GREEN': 'tlp-green', 'TLP:AMBER': 'tlp-amber',
  'TLP:AMBER+STRICT': 'tlp-amber-strict', 'TLP:RED': 'tlp-red',
};

const tlpMeaning = {
  'TLP:CLEAR': 'no restriction', 'TLP:GREEN': 'no restriction inside the hub',
  'TLP:AMBER': 'only the organisations it is shared with', 'TLP:AMBER+STRICT': 'the originating organisation only',
  'TLP:RED': 'only the named organisations',
};

/** tlpBadge shows a classification in the TLP 2.0 colours (coloured text on black). */
export function tlpBadge(label) {
  return h('span', {
    class: `tlp ${tlpClass[label] || 'tlp-unknown'}`,
    title: tlpMeaning[label] ? `${label}: ${tlpMeaning[label]}` : label,
  }, label || 'unclassified');
}

/** field wraps a labelled form control: label, control, optional hint. */
export function field(label, control, hint) {
  if (!control.id) control.id = uid('f');
  let hintEl = null;
  if (hint) {
    hintEl = h('span', { class: 'hint', id: uid('hint') }, hint);
    control.setAttribute('aria-describedby', hintEl.id);
  }
  return h('div', { class: 'field' }, h('label', { for: control.id, text: label }), control, hintEl);
}

/** select builds a <select> from [value, label] pairs with one selected. */
export function select(name, options, selected) {
  return h('select', { name },
    options.map(([v, l]) => h('option', { value: v, selected: v === (selected ?? '') }, l)));
}
