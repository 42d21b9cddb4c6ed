// Rendering of items (one event as the reader sees it): type, dates,
// originator, classification, share list, the data as a key/value list in
// the reader's words (field names, enumerated values, practice codes,
// organisations, dates), and the fields the protocol withheld from this
// reader.

import { h, tlpBadge } from './dom.js';
import { fmtDate, fmtTime, has, orgName, t, tv } from './i18n.js';

/**
 * itemView renders one item. why is the sentence that says why the redacted
 * fields were withheld (shown beside them).
 */
export function itemView(item, why) {
  const redacted = Array.isArray(item.redacted) ? item.redacted : [];
  const data = item.data && typeof item.data === 'object' ? item.data : {};
  const rows = Object.entries(data).map(([k, v]) => [h('dt', { text: tv('field', k) }), h('dd', {}, valueView(v, k))]);
  for (const k of redacted) {
    rows.push([
      h('dt', { class: 'withheld-key', text: tv('field', k) }),
      h('dd', { class: 'withheld' }, h('span', { class: 'lock', 'aria-hidden': 'true' }, '⊘ '), t('item.withheldValue')),
    ]);
  }
  return h('article', { class: 'item', dataset: { type: item.type, version: item.version, eventId: item.event_id } },
    h('header', { class: 'item-head' },
      h('h4', { text: tv('event', item.type) }),
      tlpBadge(item.classification)),
    h('p', { class: 'item-meta' }, metaParts(item)),
    rows.length ? h('dl', { class: 'kv' }, rows) : h('p', { class: 'muted', text: t('item.noData') }),
    redacted.length || item.author === null
      ? h('p', { class: 'withheld-note' },
        h('strong', {}, t('item.withheldList')), ' ',
        [...redacted.map((k) => tv('field', k)), item.author === null ? t('item.author') : null].filter(Boolean).join(', '),
        '. ', why)
      : null);
}

/** metaParts lists when, who and with whom of an item. */
function metaParts(item) {
  const share = Array.isArray(item.share_with) && item.share_with.length
    ? t('item.sharedWith', { orgs: item.share_with.map(orgName).join(', ') })
    : t('item.sharedDefault');
  const by = item.author ? t('item.byAuthor', { org: orgName(item.originator), author: item.author })
    : item.author === null ? t('item.byWithheld', { org: orgName(item.originator) }) : t('item.by', { org: orgName(item.originator) });
  return [
    h('span', {}, t('item.recorded'), ' ', h('time', { datetime: item.recorded_at, text: fmtTime(item.recorded_at) })),
    sep(),
    h('span', { text: by }),
    sep(),
    h('span', { text: share }),
    sep(),
    h('span', { text: t('item.version', { n: item.version }) }),
  ];
}

function sep() {
  return h('span', { class: 'sep', 'aria-hidden': 'true' }, ' · ');
}

/**
 * word shows one plain value of field name in the reader's words: an
 * enumerated value, a practice code, an organisation, a date.
 */
function word(v, name) {
  if (typeof v === 'boolean') return v ? t('form.yes') : t('form.no');
  const s = String(v);
  if (name === 'practice_code' && has(`practice.${s}`)) return `${s} — ${tv('practice', s)}`;
  if (name && has(`enum.${name}.${s}`)) return tv(`enum.${name}`, s);
  if (has(`org.${s}`)) return orgName(s);
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return fmtDate(s);
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+Z$/.test(s)) return fmtTime(s);
  return s;
}

/**
 * valueView renders a JSON value readably: lists of words inline, lists of
 * objects as a small table, objects as nested key/value lists. name is the
 * field the value belongs to (its enumerated values are translated).
 */
export function valueView(v, name) {
  if (v === null || v === undefined) return h('span', { class: 'muted', text: '—' });
  if (typeof v !== 'object') return word(v, name);
  if (Array.isArray(v)) {
    if (v.length === 0) return h('span', { class: 'muted', text: t('item.none') });
    if (v.every((x) => x === null || typeof x !== 'object')) return v.map((x) => word(x, name)).join(', ');
    if (v.every(flatObject)) return recordTable(v);
    return h('ol', { class: 'kv-list' }, v.map((x) => h('li', {}, valueView(x, name))));
  }
  const entries = Object.entries(v);
  if (entries.length === 0) return h('span', { class: 'muted', text: t('item.none') });
  // A map's keys are names the writer chose (a risk domain): its values are of the map's field.
  const isMap = name === 'domains';
  return h('dl', { class: 'kv nested' },
    entries.map(([k, x]) => [h('dt', { text: isMap ? k : tv('field', k) }), h('dd', {}, valueView(x, isMap ? name : k))]));
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
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: tv('field', c) })))),
    h('tbody', {}, rows.map((r) => h('tr', {}, cols.map((c) => h('td', {}, valueView(r[c], c)))))));
}

/**
 * timelineView lists every item the reader may read, oldest first (or
 * newest first), each with its data on demand.
 */
export function timelineView(items, why, newestFirst) {
  if (!items.length) return h('p', { class: 'muted', text: t('tl.empty') });
  const list = newestFirst ? [...items].reverse() : items;
  return h('ol', { class: 'timeline', reversed: newestFirst || null }, list.map((it) =>
    h('li', { dataset: { type: it.type, version: it.version } },
      h('div', { class: 'tl-head' },
        h('time', { datetime: it.recorded_at, text: fmtTime(it.recorded_at) }),
        h('strong', { text: tv('event', it.type) }),
        h('span', { class: 'muted', text: t('item.by', { org: orgName(it.originator) }) }),
        tlpBadge(it.classification),
        Array.isArray(it.redacted) && it.redacted.length ? h('span', { class: 'withheld-chip', text: t('tl.withheld', { n: it.redacted.length }) }) : null),
      h('details', {}, h('summary', {}, t('tl.details'), h('span', { class: 'visually-hidden', text: ` ${t('item.version', { n: it.version })}` })), itemView(it, why)))));
}
