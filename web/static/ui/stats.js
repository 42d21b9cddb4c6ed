// Statistics for oversight and research (#/stats): the practice table and
// the breakdowns as bar charts with readable axes (charts.js), each with its
// figures as a table, and CSV exports; and the cohorts for evaluation (GET
// /v1/stats/cohorts): one table at a time — a dimension, a horizon, an
// outcome — as stacked bars with its table, exported alone or all of them.
// Cells counting fewer than min_cell cases are suppressed by the hub: they
// are shown, and exported, as suppressed, never as 0.

import { call, get } from './api.js';
import { add, announce, clear, download, field, h, heading, problemView, select } from './dom.js';
import { fmtDate, t, tn, tv } from './i18n.js';
import { barChart, stackedChart } from './charts.js';
import { toCSV } from './csv.js';

/** cellLabel names a breakdown's value in the reader's words. */
function cellLabel(dimension, key) {
  if (key === 'unrecorded') return t('stats.unrecorded');
  if (key === 'yes') return t('form.yes');
  if (key === 'no') return t('form.no');
  if (dimension === 'stage') return tv('stage', key);
  return tv(`enum.${dimension}`, key);
}

/** practiceLabel names a practice code. */
function practiceLabel(c) {
  const name = tv('practice', c.key);
  return `${c.key} — ${name === c.key ? c.name || '' : name}`;
}

/** statsView renders the practice chart and the breakdowns, with their exports. */
export async function statsView(view) {
  view.append(heading(t('stats.title')), h('p', { class: 'lead', text: t('stats.lead') }));
  announce(t('stats.loading'));
  const [practices, breakdowns] = await Promise.allSettled([
    call('GET', '/v1/stats/practices'), call('GET', '/v1/stats/breakdowns')]);
  const pBox = h('section', { class: 'card', 'aria-labelledby': 'practices-h' }, h('h2', { id: 'practices-h', text: t('stats.practices') }));
  view.append(pBox);
  if (practices.status === 'fulfilled') {
    const minCell = practices.value.min_cell || 5;
    const items = practices.value.items || [];
    const suppressed = t('stats.suppressed', { min: minCell });
    const exp = h('button', { type: 'button', class: 'secondary', id: 'export-practices' }, t('stats.exportPractices'));
    exp.addEventListener('click', () => {
      download('liaison-practices.csv', toCSV(['code', 'practice', 'cases', 'sessions'],
        items.map((c) => [c.key, practiceLabel(c).split(' — ')[1], c.suppressed || c.cases == null ? 'suppressed' : c.cases,
          c.suppressed || c.sessions == null ? 'suppressed' : c.sessions])));
      announce(t('stats.exported'));
    });
    pBox.append(h('p', {}, t('stats.practicesLead'), ' ', t('stats.suppressedNote', { min: minCell })),
      h('p', { class: 'table-tools' }, exp),
      barChart({
        id: 'practices-chart', title: t('stats.practicesChart'), axisLabel: t('stats.axisCases'), categoryHeader: t('stats.practice'),
        valueHeaders: [t('stats.cases'), t('stats.sessions')], suppressedText: suppressed,
        rows: items.map((c) => ({ key: c.key, label: practiceLabel(c), value: c.cases, suppressed: c.suppressed || c.cases == null, cells: [c.cases, c.sessions] })),
      }));
  } else {
    pBox.append(problemView(practices.reason, t('stats.practicesFailed')));
  }
  const bBox = h('section', { class: 'card', 'aria-labelledby': 'breakdowns-h' }, h('h2', { id: 'breakdowns-h', text: t('stats.breakdowns') }));
  view.append(bBox);
  if (breakdowns.status === 'fulfilled') {
    const minCell = breakdowns.value.min_cell || 5;
    const tables = breakdowns.value.tables || [];
    const suppressed = t('stats.suppressed', { min: minCell });
    const exp = h('button', { type: 'button', class: 'secondary', id: 'export-breakdowns' }, t('stats.exportBreakdowns'));
    exp.addEventListener('click', () => {
      const rows = [];
      for (const tb of tables) {
        for (const c of tb.cells || []) rows.push([tb.dimension, c.key, c.suppressed || c.cases == null ? 'suppressed' : c.cases]);
      }
      download('liaison-breakdowns.csv', toCSV(['dimension', 'value', 'cases'], rows));
      announce(t('stats.exported'));
    });
    bBox.append(h('p', {}, t('stats.suppressedNote', { min: minCell }), ' ', t('stats.partition')),
      h('p', { class: 'table-tools' }, exp),
      h('div', { class: 'breakdowns' }, tables.map((tb) => barChart({
        id: `breakdown-${tb.dimension}`, title: tv('dimension', tb.dimension), caption: tv('dimension', tb.dimension), compact: true, axisLabel: t('stats.axisCases'),
        categoryHeader: t('stats.value'), valueHeaders: [t('stats.cases')], suppressedText: suppressed,
        rows: (tb.cells || []).map((c) => ({ key: c.key, label: cellLabel(tb.dimension, c.key), value: c.cases, suppressed: c.suppressed || c.cases == null })),
      }))));
  } else {
    bBox.append(problemView(breakdowns.reason, t('stats.breakdownsFailed')));
  }
  view.append(await cohortsBox());
  announce(t('stats.loaded'));
  return t('stats.title');
}

/** cohortRowLabel names a row of a cohort table: a dimension's value, or a practice code with its name. */
function cohortRowLabel(dimension, row) {
  if (row.key === 'unrecorded') return t('stats.unrecorded');
  if (dimension === 'practice') return practiceLabel({ key: row.key, name: row.name });
  return cellLabel(dimension, row.key);
}

/** cohortColLabel names a column of an outcome's table. */
function cohortColLabel(outcome, key) {
  if (key === 'unrecorded') return t('stats.unrecorded');
  if (outcome === 'follow_up') return tv('cohort.col', key);
  if (outcome === 'recidivism') return tv('enum.recidivism', key);
  return key === 'yes' ? t('form.yes') : key === 'no' ? t('form.no') : key;
}

/** cohortCSV lists cohort tables as CSV rows, one per cell; suppressed counts say so. */
function cohortCSV(tables) {
  const n = (c) => (c.suppressed || c.cases == null ? 'suppressed' : c.cases);
  const rows = [];
  for (const tb of tables) {
    for (const r of tb.rows || []) {
      (r.cells || []).forEach((c, i) => rows.push([tb.dimension, tb.horizon, tb.outcome, r.key, r.name || '', n(r), tb.columns[i], n(c)]));
    }
  }
  return toCSV(['dimension', 'horizon_months', 'outcome', 'row', 'row_name', 'row_cases', 'column', 'cases'], rows);
}

/**
 * cohortsBox is the evaluation card: pick what to group the released cases
 * by, how long after release, and which outcome; the hub answers that one
 * table (a query, never a filter over all of them in the browser).
 */
async function cohortsBox() {
  const box = h('section', { class: 'card', id: 'cohorts', 'aria-labelledby': 'cohorts-h' }, h('h2', { id: 'cohorts-h', text: t('cohort.title') }));
  let meta;
  try {
    meta = await get('/v1/stats/cohorts', { dimension: 'regime', horizon: '12', outcome: 'follow_up' });
  } catch (e) {
    box.append(problemView(e, t('cohort.failed')));
    return box;
  }
  const dims = meta.dimensions || [];
  const horizons = meta.horizons || [];
  const outcomes = Object.keys(meta.outcomes || {});
  const order = ['follow_up', 'recidivism', 'housing', 'employment', 'education', 'social_network', 'family',
    'heavy_psychological_support', 'citizenship_lost', 'no_support_after_release'];
  outcomes.sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99));
  const dimSel = select('dimension', dims.map((d) => [d, tv('cohort.dim', d)]), 'regime');
  const hSel = select('horizon', horizons.map((x) => [String(x), tn('cohort.months', x)]), '12');
  const oSel = select('outcome', outcomes.map((o) => [o, tv('cohort.outcome', o)]), 'follow_up');
  const form = h('form', { class: 'cohort-controls', 'aria-label': t('cohort.controls') },
    field(t('cohort.dimension'), dimSel), field(t('cohort.horizon'), hSel), field(t('cohort.outcome'), oSel),
    h('button', { type: 'submit', id: 'cohort-show' }, t('cohort.show')));
  const out = h('div', { id: 'cohort-out' });
  const expOne = h('button', { type: 'button', class: 'secondary', id: 'export-cohort' }, t('cohort.exportTable'));
  const expAll = h('button', { type: 'button', class: 'secondary', id: 'export-cohorts' }, t('cohort.exportAll'));
  box.append(h('p', {}, t('cohort.lead', { date: fmtDate(meta.as_of) }), ' ', t('stats.suppressedNote', { min: meta.min_cell || 5 })),
    form, h('p', { class: 'table-tools' }, expOne, ' ', expAll), out);
  let shown = meta;
  const draw = (res) => {
    shown = res;
    const tb = (res.tables || [])[0];
    clear(out);
    if (!tb) {
      out.append(h('p', { class: 'muted', text: t('cohort.none') }));
      return;
    }
    const minCell = res.min_cell || 5;
    const months = tn('cohort.months', tb.horizon);
    const title = t('cohort.chartTitle', { outcome: tv('cohort.outcome', tb.outcome), months, dimension: tv('cohort.dim', tb.dimension) });
    add(out,
      tb.dimension === 'practice' ? h('p', { class: 'muted', text: t('cohort.overlap') }) : null,
      h('p', { class: 'muted', text: tb.outcome === 'follow_up' ? t('cohort.rowsCohort') : t('cohort.rowsFollowed') }),
      (tb.rows || []).every((r) => r.suppressed || r.cases == null)
        ? h('p', { class: 'muted', id: 'cohort-all-suppressed', text: t('cohort.allSuppressed', { min: minCell }) }) : null,
      stackedChart({
        id: 'cohort-chart', title, caption: title, axisLabel: t('stats.axisCases'), categoryHeader: tv('cohort.dim', tb.dimension),
        totalHeader: tb.outcome === 'follow_up' ? t('cohort.totalCohort') : t('cohort.totalFollowed'),
        suppressedText: t('stats.suppressed', { min: minCell }), hiddenText: t('cohort.hidden'),
        columns: tb.columns.map((c) => ({ key: c, label: cohortColLabel(tb.outcome, c) })),
        rows: (tb.rows || []).map((r) => ({
          key: r.key, label: cohortRowLabel(tb.dimension, r), total: r.cases, suppressed: r.suppressed || r.cases == null,
          cells: (r.cells || []).map((c) => ({ value: c.cases, suppressed: c.suppressed || c.cases == null })),
        })),
      }));
  };
  draw(meta);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    out.setAttribute('aria-busy', 'true');
    try {
      draw(await get('/v1/stats/cohorts', { dimension: dimSel.value, horizon: hSel.value, outcome: oSel.value }));
      announce(t('cohort.loaded'));
    } catch (e) {
      clear(out).append(problemView(e, t('cohort.failed')));
    }
    out.removeAttribute('aria-busy');
  });
  expOne.addEventListener('click', () => {
    const tb = (shown.tables || [])[0];
    if (!tb) return;
    download(`liaison-cohort-${tb.dimension}-${tb.horizon}m-${tb.outcome}.csv`, cohortCSV([tb]));
    announce(t('stats.exported'));
  });
  expAll.addEventListener('click', async () => {
    expAll.disabled = true;
    try {
      const all = await call('GET', '/v1/stats/cohorts');
      download('liaison-cohorts.csv', cohortCSV(all.tables || []));
      announce(t('stats.exported'));
    } catch (e) {
      clear(out).append(problemView(e, t('cohort.failed')));
    }
    expAll.disabled = false;
  });
  return box;
}
