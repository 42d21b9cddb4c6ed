// Small DOM helpers shared by the console's views. Everything the console
// shows is built with createElement and text nodes, never from HTML text, so that
// no string from the API is ever parsed as markup.

import { kindOf } from './api.js';
import { t, tv } from './i18n.js';

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
 * judgement". Only for names the catalogues do not know (tv falls back to
 * the name itself).
 */
export function humanise(name) {
  const s = String(name)
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim()
    .toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * hubMessage puts a field error of the hub (domain/fields.go, the erasure
 * and break-glass checks) into the reader's language; a message the console
 * does not know stays as the hub wrote it.
 */
export function hubMessage(msg) {
  const m = String(msg || '');
  const rules = [
    [/^is required$/, () => t('hubmsg.required')],
    [/^is not a known field$/, () => t('hubmsg.unknown')],
    [/^must not be empty$/, () => t('hubmsg.empty')],
    [/^must be one of (.+)$/, () => t('hubmsg.oneOf')],
    [/^must be a date, YYYY-MM-DD$/, () => t('hubmsg.date')],
    [/^must be an RFC 3339 UTC time$/, () => t('hubmsg.time')],
    [/^must be at most (\d+) bytes$/, (x) => t('hubmsg.maxBytes', { max: x[1] })],
    [/^may hold only letters, digits and \. _ : \/ -$/, () => t('hubmsg.ref')],
    [/^must be a single line$/, () => t('hubmsg.line')],
    [/^is not an organisation of the directory$/, () => t('hubmsg.org')],
    [/^must be between (-?\d+) and (-?\d+)$/, (x) => t('hubmsg.between', { min: x[1], max: x[2] })],
    [/^must have at most (\d+) entries$/, (x) => t('hubmsg.maxEntries', { max: x[1] })],
    [/^must name at most (\d+) organisations$/, (x) => t('hubmsg.maxOrgs', { max: x[1] })],
    [/^is named twice$/, () => t('hubmsg.twice')],
    [/^must be an integer$/, () => t('hubmsg.integer')],
    [/^must be true or false$/, () => t('hubmsg.boolean')],
    [/^must be a string$/, () => t('hubmsg.string')],
    [/^must be a pseudonymous reference/, () => t('hubmsg.pseudonym')],
    [/^must name at least one organisation, or all must be true$/, () => t('hubmsg.withdrawWhom')],
    [/^must not be given together with organisations$/, () => t('hubmsg.withdrawBoth')],
    [/at least (\d+) characters/, (x) => t('hubmsg.atLeast', { min: x[1] })],
    [/^is required when legal_basis is other/, () => t('hubmsg.referenceOther')],
  ];
  for (const [re, say] of rules) {
    const x = re.exec(m);
    if (x) return say(x);
  }
  return m;
}

/**
 * fieldLabel names a field path of the hub ("data.needs[0].level",
 * "share_with[1]") in the reader's words: "Needs 1 › Level".
 */
export function fieldLabel(path) {
  const parts = [];
  for (const seg of String(path || '').replace(/^data\.?/, '').split('.')) {
    if (!seg) continue;
    const m = /^([^[]*)((?:\[\d+\])*)$/.exec(seg);
    const name = m ? m[1] : seg;
    let label = name ? tv('field', name) : '';
    if (m && m[2]) label += ' ' + m[2].slice(1, -1).split('][').map((i) => Number(i) + 1).join(' ');
    parts.push(label.trim());
  }
  return parts.join(' › ') || t('err.wholeEntry');
}

/**
 * problemView shows an API error as the user should read it: a plain
 * sentence for its kind (or the one the caller gives), each field error in
 * the reader's words, and what the hub said — its rules, its detail — only
 * folded under "Details". role=alert has it read out.
 */
export function problemView(err, context, sentence) {
  const isApi = !!(err && err.problem);
  const p = isApi ? err.problem : { title: '', detail: String((err && err.message) || err || ''), errors: [] };
  const kind = isApi ? kindOf(err) : 'internal';
  const errors = Array.isArray(p.errors) ? p.errors : [];
  const detail = [isApi && err.status ? String(err.status) : '', p.title, p.detail].filter(Boolean).join(' — ');
  return h('div', { class: 'problem', role: 'alert', dataset: { status: String((isApi && err.status) || 0) } },
    h('p', { class: 'problem-title' }, context ? h('strong', { text: `${context} ` }) : null, sentence || tv('problem', kind)),
    errors.length
      ? h('ul', {}, errors.map((e) => h('li', {}, h('strong', { text: fieldLabel(e.field) }), ': ', hubMessage(e.message))))
      : null,
    detail && kind !== 'unreachable'
      ? h('details', { class: 'problem-details' }, h('summary', {}, t('problem.details')), h('p', { class: 'muted', text: detail }))
      : null);
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

/** tlpBadge shows a classification in the TLP 2.0 colours (coloured text on black), its meaning on hover and to screen readers. */
export function tlpBadge(label) {
  const meaning = label ? tv('tlpmeaning', label) : '';
  const known = meaning && meaning !== label;
  return h('span', { class: `tlp ${tlpClass[label] || 'tlp-unknown'}`, title: known ? meaning : null },
    label || t('item.unclassified'),
    known ? h('span', { class: 'visually-hidden', text: ` (${meaning})` }) : null);
}

/** field wraps a labelled form control: label, control, optional hint. */
export function field(label, control, hint) {
  if (!control.id) control.id = uid('f');
  let hintEl = null;
  if (hint) {
    hintEl = h('span', { class: 'hint', id: uid('hint') }, hint);
    describe(control, hintEl.id);
  }
  return h('div', { class: 'field' }, h('label', { for: control.id, text: label }), control, hintEl);
}

/** describe adds id to el's aria-describedby. */
export function describe(el, id) {
  const list = (el.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
  if (!list.includes(id)) list.push(id);
  el.setAttribute('aria-describedby', list.join(' '));
}

/** undescribe removes id from el's aria-describedby. */
export function undescribe(el, id) {
  const list = (el.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== id);
  if (list.length) el.setAttribute('aria-describedby', list.join(' '));
  else el.removeAttribute('aria-describedby');
}

/** select builds a <select> from [value, label] pairs with one selected. */
export function select(name, options, selected) {
  return h('select', { name },
    options.map(([v, l]) => h('option', { value: v, selected: v === (selected ?? '') }, l)));
}

/** heading builds the page's h1, which receives the focus when the page is drawn. */
export function heading(...children) {
  return h('h1', { tabindex: '-1' }, ...children);
}

/**
 * download offers text as a file to save (a CSV export): a Blob and a
 * temporary link; nothing leaves the browser.
 */
export function download(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type: type || 'text/csv;charset=utf-8' }));
  const a = h('a', { href: url, download: filename, class: 'visually-hidden' }, filename);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
