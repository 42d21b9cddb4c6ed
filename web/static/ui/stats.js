// Statistics for oversight and research (#/stats): the practice table and
// the breakdowns as bar charts with readable axes (charts.js), each with its
// figures as a table, and CSV exports. Cells counting fewer than min_cell
// cases are suppressed by the hub: they are shown, and exported, as
// suppressed, never as 0.

import { call } from './api.js';
import { announce, download, h, heading, problemView } from './dom.js';
import { t, tv } from './i18n.js';
import { barChart } from './charts.js';
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
  announce(t('stats.loaded'));
  return t('stats.title');
}
