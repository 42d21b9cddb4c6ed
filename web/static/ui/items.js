// Rendering of items (one event as the reader sees it): type, dates,
// originator, classification, share list, the data as a key/value list, and
// the fields the protocol withheld from this reader.

import { fmtTime, h, humanise, tlpBadge } from './dom.js';

/**
 * itemView renders one item. why is the sentence that says which rule
 * withheld the redacted fields (shown beside them).
 */
export function itemView(item, why) {
  const redacted = Array.isArray(item.redacted) ? item.redacted : [];
  const data = item.data && typeof item.data === 'object' ? item.data : {};
  const rows = Object.entries(data).map(([k, v]) => [h('dt', { text: humanise(k) }), h('dd', {}, valueView(v))]);
  for (const k of redacted) {
    rows.push([
      h('dt', { class: 'withheld-key', text: humanise(k) }),
      h('dd', { class: 'withheld' }, h('span', { class: 'lock', 'aria-hidden': 'true' }, '⊘ '), 'withheld by the protocol'),
    ]);
  }
  return h('article', { class: 'item', dataset: { type: item.type, version: item.version } },
    h('header', { class: 'item-head' },
      h('h4', { text: humanise(item.type) }),
      tlpBadge(item.classification)),
    h('p', { class: 'item-meta' }, metaParts(item)),
    rows.length ? h('dl', { class: 'kv' }, rows) : h('p', { class: 'muted', text: 'No data fields.' }),
    redacted.length || item.author === null
      ? h('p', { class: 'withheld-note' },
        h('strong', {}, 'Withheld by the protocol: '),
        [...redacted.map(humanise), item.author === null ? 'Author' : null].filter(Boolean).join(', '),
        '. ', why)
      : null);
}

/** metaParts lists when, who and with whom of an item. */
function metaParts(item) {
  const share = Array.isArray(item.share_with) && item.share_with.length
    ? `shared with ${item.share_with.join(', ')}`
    : 'shared as the protocol allows';
  return [
    h('span', {}, 'Recorded ', h('time', { datetime: item.recorded_at, text: fmtTime(item.recorded_at) })),
    sep(),
    h('span', {}, 'by ', h('strong', { text: item.originator }),
      item.author ? ` (${item.author})` : item.author === null ? ' (author withheld)' : ''),
    sep(),
    h('span', { text: share }),
    sep(),
    h('span', { text: `version ${item.version}` }),
  ];
}

function sep() {
  return h('span', { class: 'sep', 'aria-hidden': 'true' }, ' · ');
}

/**
 * valueView renders a JSON value readably: lists of words inline, lists of
 * objects as numbered entries, objects as nested key/value lists.
 */
export function valueView(v) {
  if (v === null || v === undefined) return h('span', { class: 'muted', text: '—' });
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v !== 'object') return String(v);
  if (Array.isArray(v)) {
    if (v.length === 0) return h('span', { class: 'muted', text: 'none' });
    if (v.every((x) => x === null || typeof x !== 'object')) return v.map((x) => String(x)).join(', ');
    if (v.every(flatObject)) return recordTable(v);
    return h('ol', { class: 'kv-list' }, v.map((x) => h('li', {}, valueView(x))));
  }
  const entries = Object.entries(v);
  if (entries.length === 0) return h('span', { class: 'muted', text: 'none' });
  return h('dl', { class: 'kv nested' },
    entries.map(([k, x]) => [h('dt', { text: humanise(k) }), h('dd', {}, valueView(x))]));
}

/** flatObject reports whether x is an object whose values are all plain (no nesting). */
function flatObject(x) {
  return x !== null && typeof x === 'object' && !Array.isArray(x) &&
    Object.values(x).every((y) => y === null || typeof y !== 'object' || (Array.isArray(y) && y.every((z) => typeof z !== 'object')));
}

/** recordTable shows a list of flat objects (needs, goals, actions) as a small table. */
function recordTable(rows) {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return h('table', { class: 'data inner' },
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: humanise(c) })))),
    h('tbody', {}, rows.map((r) => h('tr', {}, cols.map((c) => h('td', {}, valueView(r[c])))))));
}

/** timelineView lists every item the reader may read, oldest first, each with its data on demand. */
export function timelineView(items, why) {
  if (!items.length) return h('p', { class: 'muted', text: 'No events you may read.' });
  return h('ol', { class: 'timeline' }, items.map((it) =>
    h('li', { dataset: { type: it.type } },
      h('div', { class: 'tl-head' },
        h('time', { datetime: it.recorded_at, text: fmtTime(it.recorded_at) }),
        h('strong', { text: humanise(it.type) }),
        h('span', { class: 'muted', text: `by ${it.originator}` }),
        tlpBadge(it.classification),
        Array.isArray(it.redacted) && it.redacted.length ? h('span', { class: 'withheld-chip', text: `${it.redacted.length} withheld` }) : null),
      h('details', {}, h('summary', {}, 'Details', h('span', { class: 'visually-hidden', text: ` of version ${it.version}` })), itemView(it, why)))));
}
