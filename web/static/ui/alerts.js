// The privacy monitor's page for the oversight body (#/alerts): the alerts
// the monitoring rules raised over the access log (docs/monitoring.md),
// newest first, filtered by state, rule, organisation, user and period; an
// auditor acknowledges or closes an alert with a note; and, for the same
// period, charts per organisation of reads, denials, break-glass grants and
// alerts over time (GET /v1/audit/summary, and the alerts counted here).

import { call, get } from './api.js';
import { announce, clear, field, h, heading, problemView, select } from './dom.js';
import { fmtDay, fmtNumber, fmtTime, orgName, t, tn, tv } from './i18n.js';
import { timeChart } from './charts.js';

/** The monitoring rules, in the order docs/monitoring.md explains them. */
const RULES = ['volume', 'breadth', 'off_hours', 'break_glass_frequency', 'break_glass_after_denial', 'no_relationship', 'probing'];

/** The states of an alert. */
const STATES = ['open', 'acknowledged', 'closed'];

/** The most alerts the page reads for its list and charts. */
const MAX_ALERTS = 2000;

/** dayAfter returns the RFC 3339 start of the day after ymd (an exclusive end). */
function dayAfter(ymd) {
  return new Date(Date.parse(`${ymd}T00:00:00Z`) + 86400000).toISOString().replace('.000Z', 'Z');
}

/** alertsView renders the alerts page. */
export async function alertsView(view, params) {
  view.append(heading(t('alerts.title')), h('p', { class: 'lead', text: t('alerts.lead') }));
  const today = new Date().toISOString().slice(0, 10);
  const monthAgo = new Date(Date.now() - 29 * 86400000).toISOString().slice(0, 10);
  const state = select('state', [['', t('alerts.anyState')], ...STATES.map((s) => [s, tv('alertstate', s)])], params.get('state') ?? 'open');
  const rule = select('rule', [['', t('alerts.anyRule')], ...RULES.map((r) => [r, tv('alertrule', r)])], params.get('rule') || '');
  const agency = h('input', { type: 'text', name: 'agency', value: params.get('agency') || '', autocomplete: 'off' });
  const sub = h('input', { type: 'text', name: 'sub', value: params.get('sub') || '', autocomplete: 'off' });
  const from = h('input', { type: 'date', name: 'from', value: params.get('from') || monthAgo });
  const to = h('input', { type: 'date', name: 'to', value: params.get('to') || today });
  const form = h('form', { class: 'filters audit-filters', 'aria-label': t('alerts.filtersLabel') },
    field(t('alerts.state'), state), field(t('alerts.rule'), rule), field(t('audit.org'), agency, t('alerts.agencyHint')),
    field(t('alerts.user'), sub), field(t('bgu.from'), from), field(t('bgu.to'), to),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, t('act.show'))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams({ state: state.value, rule: rule.value, agency: agency.value.trim(), sub: sub.value.trim(), from: from.value, to: to.value });
    location.hash = `#/alerts?${q}`;
  });
  view.append(form);
  const list = h('div', { class: 'alerts', 'aria-busy': 'true' });
  const charts = h('div', { class: 'activity', 'aria-busy': 'true' });
  view.append(list, h('h2', { text: t('alerts.chartsTitle') }), charts);
  announce(t('alerts.loading'));
  const period = { from: from.value ? `${from.value}T00:00:00Z` : '', to: to.value ? dayAfter(to.value) : '' };
  const filter = { state: state.value, rule: rule.value, agency: agency.value.trim(), sub: sub.value.trim(), ...period };
  let alerts;
  try {
    alerts = await fetchAlerts(filter);
  } catch (e) {
    list.removeAttribute('aria-busy');
    charts.removeAttribute('aria-busy');
    list.append(problemView(e, t('alerts.failed')));
    return t('alerts.title');
  }
  list.removeAttribute('aria-busy');
  drawList(list, alerts);
  try {
    // Every alert of the period counts in the charts, whatever the list's filters.
    const [summary, all] = await Promise.all([get('/v1/audit/summary', { ...period, bucket: 'day' }), fetchAlerts(period)]);
    drawCharts(charts, summary, all);
  } catch (e) {
    charts.append(problemView(e, t('act.failed')));
  }
  charts.removeAttribute('aria-busy');
  announce(tn('alerts.loaded', alerts.length));
  return t('alerts.title');
}

/** fetchAlerts reads the alerts matching q, page by page, up to MAX_ALERTS. */
async function fetchAlerts(q) {
  const out = [];
  let cursor = '';
  do {
    const page = await get('/v1/audit/alerts', { ...q, limit: 500, cursor });
    out.push(...(page.items || []));
    cursor = page.next_cursor || '';
  } while (cursor && out.length < MAX_ALERTS);
  return out;
}

/** drawList draws the alerts, each as a card. */
function drawList(out, alerts) {
  clear(out);
  if (!alerts.length) {
    out.append(h('p', { class: 'muted', text: t('alerts.none') }));
    return;
  }
  out.append(h('p', { class: 'muted', text: tn('alerts.count', alerts.length) }));
  for (const a of alerts) out.append(alertCard(a));
}

/** alertCard draws one alert: what, who, when, its records, its notes, and the form that changes it. */
function alertCard(a) {
  const stateEl = h('span', { class: `alert-state state-${a.state}`, text: tv('alertstate', a.state) });
  const notes = h('ol', { class: 'alert-notes' });
  const drawNotes = (list) => {
    clear(notes);
    for (const n of list || []) {
      notes.append(h('li', {}, h('strong', { text: tv('alertstate', n.state) }), ' ',
        t('alerts.noteBy', { who: n.sub, org: orgName(n.agency), when: fmtTime(n.time) }), ': ', h('q', { text: n.note })));
    }
  };
  drawNotes(a.notes);
  const records = (a.records || []).slice(0, 12).map((i) => h('li', {}, h('a', { href: `#/audit?sub=${encodeURIComponent(a.sub)}&agency=${encodeURIComponent(a.agency)}`, text: `#${i}` })));
  const card = h('article', { class: 'card alert-card', dataset: { alert: a.id, rule: a.rule, state: a.state }, 'aria-labelledby': `alert-${a.id}-h` },
    h('h3', { id: `alert-${a.id}-h` }, tv('alertrule', a.rule), ' ', stateEl),
    h('p', { class: 'alert-detail', text: a.detail }),
    h('dl', { class: 'meta' },
      h('dt', { text: t('alerts.user') }), h('dd', { text: a.sub }),
      h('dt', { text: t('audit.org') }), h('dd', { text: orgName(a.agency) }),
      h('dt', { text: t('alerts.when') }), h('dd', { text: a.time === a.last ? fmtTime(a.time) : t('alerts.between', { from: fmtTime(a.time), to: fmtTime(a.last) }) }),
      h('dt', { text: t('alerts.records') }), h('dd', {}, tn('alerts.triggers', a.triggers), h('ul', { class: 'inline-list' }, records))),
    notes);
  if (a.state !== 'closed') card.append(changeForm(a, stateEl, drawNotes, card));
  return card;
}

/** changeForm is the note and the buttons that acknowledge or close an alert. */
function changeForm(a, stateEl, drawNotes, card) {
  const note = h('textarea', { name: 'note', rows: 2, maxlength: 2000 });
  const out = h('div', { 'aria-live': 'polite' });
  const buttons = h('div', { class: 'buttons' });
  const form = h('form', { class: 'alert-form', novalidate: true }, field(t('alerts.note'), note, t('alerts.noteHint')), buttons, out);
  const act = async (action) => {
    clear(out);
    for (const b of buttons.querySelectorAll('button')) b.disabled = true;
    try {
      const res = await call('POST', `/v1/audit/alerts/${encodeURIComponent(a.id)}/${action}`, { note: note.value.trim() });
      stateEl.textContent = tv('alertstate', res.state);
      stateEl.className = `alert-state state-${res.state}`;
      card.dataset.state = res.state;
      drawNotes(res.notes);
      note.value = '';
      announce(action === 'close' ? t('alerts.closed') : t('alerts.acknowledged'));
      if (res.state === 'closed') form.remove();
      else for (const b of buttons.querySelectorAll('button')) b.disabled = b.value === 'acknowledge';
    } catch (e) {
      out.append(problemView(e, '', e.status === 409 ? t('alerts.conflict') : ''));
      for (const b of buttons.querySelectorAll('button')) b.disabled = b.value === 'acknowledge' && a.state !== 'open';
      if (e.status === 400) note.focus();
    }
  };
  const ack = h('button', { type: 'button', value: 'acknowledge', disabled: a.state !== 'open' }, t('alerts.acknowledge'));
  const close = h('button', { type: 'button', value: 'close' }, t('alerts.close'));
  ack.addEventListener('click', () => act('acknowledge'));
  close.addEventListener('click', () => act('close'));
  form.addEventListener('submit', (ev) => ev.preventDefault());
  buttons.append(ack, close);
  return form;
}

/** drawCharts draws, per organisation, reads, denials, break-glass and alerts per day. */
function drawCharts(out, summary, alerts) {
  const byAgency = new Map((summary.series || []).map((s) => [s.agency, s]));
  const starts = ((summary.series || [])[0]?.buckets || []).map((b) => b.start);
  if (!starts.length) {
    // No record in the period: the days still come from the period itself.
    for (let d = Date.parse(summary.from.slice(0, 10)); d < Date.parse(summary.to); d += 86400000) starts.push(new Date(d).toISOString());
  }
  const bucketOf = (iso) => {
    const at = Date.parse(iso);
    let i = -1;
    starts.forEach((s, j) => { if (Date.parse(s) <= at) i = j; });
    return i;
  };
  const counts = new Map();
  for (const a of alerts) {
    const i = bucketOf(a.time);
    if (i < 0) continue;
    if (!counts.has(a.agency)) counts.set(a.agency, starts.map(() => 0));
    counts.get(a.agency)[i]++;
  }
  const agencies = [...new Set([...byAgency.keys(), ...counts.keys()])]
    .filter((ag) => counts.has(ag) || (byAgency.get(ag).buckets || []).some((b) => b.reads || b.denials || b.break_glass))
    .sort((x, y) => (counts.has(y) ? 1 : 0) - (counts.has(x) ? 1 : 0) || orgName(x).localeCompare(orgName(y)));
  if (!agencies.length) {
    out.append(h('p', { class: 'muted', text: t('act.none') }));
    return;
  }
  const name = (ag) => (ag ? orgName(ag) : t('act.unknownOrg'));
  const zero = starts.map(() => 0);
  for (const ag of agencies) {
    const buckets = byAgency.get(ag)?.buckets || [];
    const val = (k) => starts.map((_, i) => (buckets[i] ? buckets[i][k] : 0));
    out.append(h('section', { class: 'card', dataset: { agency: ag } }, h('h3', { text: name(ag) }),
      timeChart({
        id: `alerts-${ag || 'none'}`,
        title: t('alerts.chartTitle', { org: name(ag) }),
        periods: starts.map((s) => fmtDay(s)),
        periodHeader: t('act.period'),
        axisLabel: t('act.axis'),
        series: [
          { name: t('act.reads'), cls: 's-reads', values: val('reads') },
          { name: t('act.denials'), cls: 's-denials', values: val('denials') },
          { name: t('act.breakGlass'), cls: 's-bg', values: val('break_glass') },
          { name: t('alerts.series'), cls: 's-alerts', values: counts.get(ag) || zero },
        ],
      })));
  }
  out.append(h('p', { class: 'muted', text: t('alerts.chartsNote', { n: fmtNumber(alerts.length) }) }));
}
