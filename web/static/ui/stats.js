// Statistics for oversight and research (#/stats): the practice table as a bar
// chart (inline SVG, no library) with the same figures as a table, and the
// breakdowns. Cells counting fewer than min_cell cases are suppressed by the
// hub: they are shown as suppressed, never as 0.

import { call } from './api.js';
import { announce, h, humanise, problemView, svg } from './dom.js';

/** statsView renders the practice chart and table and the breakdowns. */
export async function statsView(view) {
  view.append(h('h1', { tabindex: '-1', text: 'Statistics' }),
    h('p', { class: 'lead', text: 'Aggregates only, over every case in the hub. No case can be recognised in them: small cells are suppressed.' }));
  announce('Loading statistics…');
  const [practices, breakdowns] = await Promise.allSettled([
    call('GET', '/v1/stats/practices'), call('GET', '/v1/stats/breakdowns')]);
  const pBox = h('section', { class: 'card', 'aria-labelledby': 'practices-h' }, h('h2', { id: 'practices-h', text: 'Practices used in interventions' }));
  view.append(pBox);
  if (practices.status === 'fulfilled') {
    const minCell = practices.value.min_cell || 5;
    const items = practices.value.items || [];
    pBox.append(h('p', {}, 'Cases with at least one session of each practice (EUTEx codes). ', suppressedNote(minCell)),
      practiceChart(items, minCell), practiceTable(items, minCell));
  } else {
    pBox.append(problemView(practices.reason, 'The practice table could not be read'));
  }
  const bBox = h('section', { class: 'card', 'aria-labelledby': 'breakdowns-h' }, h('h2', { id: 'breakdowns-h', text: 'Cases by attribute' }));
  view.append(bBox);
  if (breakdowns.status === 'fulfilled') {
    const minCell = breakdowns.value.min_cell || 5;
    bBox.append(h('p', {}, suppressedNote(minCell), ' Where one cell of a table is suppressed, the next smallest is too, so that no count can be recovered from the total.'),
      h('div', { class: 'breakdowns' }, (breakdowns.value.tables || []).map((t) => breakdownTable(t, minCell))));
  } else {
    bBox.append(problemView(breakdowns.reason, 'The breakdowns could not be read'));
  }
  announce('Statistics loaded.');
  return 'Statistics';
}

function suppressedNote(minCell) {
  return `Cells with fewer than ${minCell} cases are shown as suppressed.`;
}

function suppressedText(minCell) {
  return `suppressed (< ${minCell} cases)`;
}

function label(c) {
  return c.name ? `${c.key} ${c.name}` : humanise(c.key);
}

/**
 * practiceChart draws one horizontal bar per practice code, its length the
 * number of cases. A suppressed cell has no bar: it says it is suppressed.
 */
function practiceChart(items, minCell) {
  const labelW = 330;
  const barW = 420;
  const rowH = 26;
  const top = 8;
  const width = labelW + barW + 190;
  const height = top + items.length * rowH + 28;
  const max = Math.max(1, ...items.filter((c) => !c.suppressed && c.cases != null).map((c) => c.cases));
  const chart = svg('svg', {
    class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'chart-title chart-desc',
    preserveAspectRatio: 'xMinYMin meet',
  },
  svg('title', { id: 'chart-title' }, 'Cases per practice code'),
  svg('desc', { id: 'chart-desc' }, 'Bar chart; the same figures are in the table below.'));
  // Grid lines at quarters of the largest count.
  for (let i = 0; i <= 4; i++) {
    const x = labelW + (barW * i) / 4;
    chart.append(svg('line', { class: 'grid', x1: x, x2: x, y1: top - 4, y2: top + items.length * rowH }),
      svg('text', { class: 'axis', x, y: height - 8, 'text-anchor': 'middle' }, String(Math.round((max * i) / 4))));
  }
  items.forEach((c, i) => {
    const y = top + i * rowH;
    const g = svg('g', { class: c.suppressed ? 'bar-row suppressed' : 'bar-row' });
    g.append(svg('text', { class: 'bar-label', x: labelW - 10, y: y + rowH / 2 + 5, 'text-anchor': 'end' }, truncate(label(c), 44)));
    if (c.suppressed || c.cases == null) {
      g.append(svg('rect', { class: 'bar-suppressed', x: labelW, y: y + 4, width: 12, height: rowH - 8 }),
        svg('text', { class: 'bar-value muted', x: labelW + 20, y: y + rowH / 2 + 5 }, suppressedText(minCell)));
    } else {
      const w = Math.max(2, (barW * c.cases) / max);
      g.append(svg('rect', { class: 'bar', x: labelW, y: y + 4, width: w, height: rowH - 8 }),
        svg('text', { class: 'bar-value', x: labelW + w + 8, y: y + rowH / 2 + 5 }, `${c.cases} cases`));
    }
    chart.append(g);
  });
  return h('figure', { class: 'chart-box' }, chart);
}

function truncate(s, n) {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function practiceTable(items, minCell) {
  const count = (c, v) => (c.suppressed || v == null ? h('span', { class: 'muted', text: suppressedText(minCell) }) : String(v));
  return h('table', { class: 'data stats' },
    h('caption', {}, 'Cases and sessions per practice code'),
    h('thead', {}, h('tr', {}, ['Code', 'Practice', 'Cases', 'Sessions'].map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, items.map((c) => h('tr', { dataset: { key: c.key, suppressed: String(!!c.suppressed) } },
      h('th', { scope: 'row', text: c.key }), h('td', { text: c.name || '' }),
      h('td', { class: 'num' }, count(c, c.cases)), h('td', { class: 'num' }, count(c, c.sessions))))));
}

function breakdownTable(t, minCell) {
  return h('table', { class: 'data stats small' },
    h('caption', { text: humanise(t.dimension) }),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Value' }), h('th', { scope: 'col', text: 'Cases' }))),
    h('tbody', {}, (t.cells || []).map((c) => h('tr', {},
      h('th', { scope: 'row', text: humanise(c.key) }),
      h('td', { class: 'num' }, c.suppressed || c.cases == null ? h('span', { class: 'muted', text: suppressedText(minCell) }) : String(c.cases))))));
}
