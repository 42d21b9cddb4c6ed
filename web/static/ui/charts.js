// Charts drawn by hand in SVG (no library): horizontal bars for counts per
// category (statistics), lines over time for counts per period (the
// auditor's activity). Every chart comes with its figures as a table, the
// alternative for screen readers (and for anyone, one click away); the SVG
// itself is a labelled image. Suppressed cells are drawn as suppressed, never
// as 0.

import { h, svg, uid } from './dom.js';
import { fmtNumber, t } from './i18n.js';

/** niceTicks returns round, whole tick values (counts) from 0 to at least max, about n of them. */
export function niceTicks(max, n = 5) {
  if (!(max > 0)) return [0, 1];
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, Math.ceil([1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)));
  const ticks = [];
  for (let v = 0; ; v += step) {
    ticks.push(v);
    if (v >= max) break;
  }
  return ticks;
}

/**
 * figure wraps a chart and its table: the table is for screen readers
 * (visually hidden) until someone asks to see it.
 */
function figure(id, chart, table, caption) {
  const tableBox = h('div', { class: 'chart-table visually-hidden', id: `${id}-table` }, table);
  const toggle = h('button', { type: 'button', class: 'link chart-toggle', 'aria-controls': tableBox.id, 'aria-expanded': 'false' },
    t('chart.showTable'));
  toggle.addEventListener('click', () => {
    const shown = tableBox.classList.toggle('visually-hidden') === false;
    toggle.setAttribute('aria-expanded', String(shown));
    toggle.textContent = shown ? t('chart.hideTable') : t('chart.showTable');
  });
  return h('figure', { class: 'chart-box', id },
    caption ? h('figcaption', { class: 'chart-caption', text: caption }) : null,
    chart, h('p', { class: 'chart-tools' }, toggle), tableBox);
}

/**
 * barChart draws one horizontal bar per row ({key, label, value, suppressed}),
 * with a value axis (ticks and its title, axisLabel) and, below, the same
 * figures as a table (columns: the category header, then valueHeaders with
 * each row's cells from row.cells, or its value). suppressedText is what a
 * suppressed cell says.
 */
export function barChart({ id, title, rows, axisLabel, categoryHeader, valueHeaders, suppressedText, caption, compact }) {
  id = id || uid('chart');
  const labelW = compact ? 190 : 360;
  const barW = compact ? 180 : 420;
  const rowH = 26;
  const top = 10;
  const width = labelW + barW + (compact ? 170 : 200);
  const maxChars = compact ? 24 : 44;
  const plotH = rows.length * rowH;
  const height = top + plotH + 52;
  const max = Math.max(0, ...rows.filter((r) => !r.suppressed && r.value != null).map((r) => r.value));
  const ticks = niceTicks(max);
  const scale = barW / ticks[ticks.length - 1];
  const titleId = `${id}-title`;
  const chart = svg('svg', {
    class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': titleId,
    preserveAspectRatio: 'xMinYMin meet',
  }, svg('title', { id: titleId }, `${title}. ${t('chart.seeTable')}`));
  valueAxis(chart, { ticks, scale, labelW, barW, top, plotH, axisLabel });
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const g = svg('g', { class: r.suppressed ? 'bar-row suppressed' : 'bar-row', dataset: { key: r.key } });
    g.append(svg('text', { class: 'bar-label', x: labelW - 10, y: y + rowH / 2 + 5, 'text-anchor': 'end' }, truncate(r.label, maxChars)));
    if (r.suppressed || r.value == null) {
      g.append(svg('rect', { class: 'bar-suppressed', x: labelW, y: y + 4, width: 12, height: rowH - 8 }),
        svg('text', { class: 'bar-value muted', x: labelW + 20, y: y + rowH / 2 + 5 }, suppressedText));
    } else {
      const w = Math.max(r.value > 0 ? 2 : 0, r.value * scale);
      g.append(svg('rect', { class: 'bar', x: labelW, y: y + 4, width: w, height: rowH - 8 }),
        svg('text', { class: 'bar-value', x: labelW + w + 8, y: y + rowH / 2 + 5 }, fmtNumber(r.value)));
    }
    chart.append(g);
  });
  const table = h('table', { class: 'data stats' },
    h('caption', { text: title }),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: categoryHeader }), valueHeaders.map((c) => h('th', { scope: 'col', class: 'num', text: c })))),
    h('tbody', {}, rows.map((r) => h('tr', { dataset: { key: r.key, suppressed: String(!!r.suppressed) } },
      h('th', { scope: 'row', text: r.label }),
      (r.cells || [r.value]).map((v) => h('td', { class: 'num' },
        r.suppressed || v == null ? h('span', { class: 'muted', text: suppressedText }) : fmtNumber(v)))))));
  return figure(id, chart, table, caption);
}

function truncate(s, n) {
  s = String(s);
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/**
 * timeChart draws series over time: x the periods (labels, already
 * formatted), one line with markers per series ({name, cls, values}), a value
 * axis with ticks and its title (axisLabel); and the figures as a table (a
 * row per period, a column per series).
 */
export function timeChart({ id, title, periods, series, axisLabel, periodHeader, caption }) {
  id = id || uid('chart');
  const left = 56;
  const plotW = 760;
  const plotH = 200;
  const top = 12;
  const width = left + plotW + 20;
  const height = top + plotH + 62;
  const max = Math.max(0, ...series.flatMap((s) => s.values));
  const ticks = niceTicks(max, 4);
  const yMax = ticks[ticks.length - 1];
  const n = periods.length;
  const x = (i) => left + (n <= 1 ? plotW / 2 : (plotW * i) / (n - 1));
  const y = (v) => top + plotH - (plotH * v) / yMax;
  const titleId = `${id}-title`;
  const chart = svg('svg', {
    class: 'chart chart-time', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': titleId,
    preserveAspectRatio: 'xMinYMin meet',
  }, svg('title', { id: titleId }, `${title}. ${t('chart.seeTable')}`));
  for (const v of ticks) {
    chart.append(svg('line', { class: 'grid', x1: left, x2: left + plotW, y1: y(v), y2: y(v) }),
      svg('text', { class: 'axis', x: left - 8, y: y(v) + 4, 'text-anchor': 'end' }, fmtNumber(v)));
  }
  chart.append(svg('text', { class: 'axis-title', x: 14, y: top + plotH / 2, 'text-anchor': 'middle', transform: `rotate(-90 14 ${top + plotH / 2})` }, axisLabel),
    svg('line', { class: 'axis-line', x1: left, x2: left + plotW, y1: top + plotH, y2: top + plotH }));
  const every = Math.max(1, Math.ceil(n / 10));
  periods.forEach((p, i) => {
    if (i % every !== 0 && i !== n - 1) return;
    chart.append(svg('line', { class: 'tick', x1: x(i), x2: x(i), y1: top + plotH, y2: top + plotH + 5 }),
      svg('text', { class: 'axis', x: x(i), y: top + plotH + 20, 'text-anchor': 'middle' }, p));
  });
  for (const s of series) {
    const pts = s.values.map((v, i) => `${x(i)},${y(v)}`).join(' ');
    const g = svg('g', { class: `series ${s.cls}` }, svg('polyline', { class: 'line', points: pts }));
    s.values.forEach((v, i) => g.append(svg('circle', { class: 'dot', cx: x(i), cy: y(v), r: n > 40 ? 1.5 : 3 })));
    chart.append(g);
  }
  const legend = h('ul', { class: 'legend-list', 'aria-hidden': 'true' }, series.map((s) =>
    h('li', { class: s.cls }, h('span', { class: 'swatch' }), s.name)));
  const table = h('table', { class: 'data stats' },
    h('caption', { text: title }),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: periodHeader }), series.map((s) => h('th', { scope: 'col', class: 'num', text: s.name })))),
    h('tbody', {}, periods.map((p, i) => h('tr', {}, h('th', { scope: 'row', text: p }),
      series.map((s) => h('td', { class: 'num', text: fmtNumber(s.values[i]) }))))));
  const fig = figure(id, chart, table, caption);
  fig.insertBefore(legend, fig.querySelector('.chart-tools'));
  return fig;
}

/**
 * stackedChart draws one horizontal bar per row, cut into segments, one per
 * column (an outcome's values): rows are {key, label, total, suppressed,
 * cells: [{value, suppressed}]} in columns' order, columns {key, label}. A
 * suppressed row is drawn as suppressed; in a row that shows its total, the
 * cells it hides are drawn together at the end of the bar, hatched (their
 * sum is the total less the cells shown, which the table gives anyway),
 * never one by one, never as 0. A legend names the segments; the table
 * below gives every figure (a column for the total, totalHeader, then one
 * per column), suppressedText for the hidden ones.
 */
export function stackedChart({ id, title, rows, columns, axisLabel, categoryHeader, totalHeader, suppressedText, hiddenText, caption }) {
  id = id || uid('chart');
  const labelW = 340;
  const barW = 440;
  const rowH = 26;
  const top = 10;
  const width = labelW + barW + 150;
  const plotH = rows.length * rowH;
  const height = top + plotH + 52;
  const max = Math.max(0, ...rows.filter((r) => !r.suppressed && r.total != null).map((r) => r.total));
  const ticks = niceTicks(max);
  const scale = barW / ticks[ticks.length - 1];
  const titleId = `${id}-title`;
  const hatch = `${id}-hatch`;
  const seg = (c, i) => (c.key === 'unrecorded' ? 'seg-unrecorded' : `seg-${i % 5}`);
  const chart = svg('svg', {
    class: 'chart chart-stacked', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': titleId,
    preserveAspectRatio: 'xMinYMin meet',
  }, svg('title', { id: titleId }, `${title}. ${t('chart.seeTable')}`),
  svg('defs', {}, svg('pattern', { id: hatch, width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
    svg('rect', { width: 6, height: 6, class: 'hatch-bg' }), svg('line', { x1: 0, y1: 0, x2: 0, y2: 6, class: 'hatch-line' }))));
  valueAxis(chart, { ticks, scale, labelW, barW, top, plotH, axisLabel });
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const g = svg('g', { class: r.suppressed ? 'bar-row suppressed' : 'bar-row', dataset: { key: r.key } });
    g.append(svg('text', { class: 'bar-label', x: labelW - 10, y: y + rowH / 2 + 5, 'text-anchor': 'end' }, truncate(r.label, 40)));
    if (r.suppressed || r.total == null) {
      g.append(svg('rect', { class: 'bar-suppressed', x: labelW, y: y + 4, width: 12, height: rowH - 8 }),
        svg('text', { class: 'bar-value muted', x: labelW + 20, y: y + rowH / 2 + 5 }, suppressedText));
      chart.append(g);
      return;
    }
    let x = labelW;
    let shown = 0;
    r.cells.forEach((c, j) => {
      if (c.suppressed || c.value == null || c.value === 0) return;
      const w = c.value * scale;
      g.append(svg('rect', { class: `seg ${seg(columns[j], j)}`, x, y: y + 4, width: w, height: rowH - 8, dataset: { col: columns[j].key } }));
      x += w;
      shown += c.value;
    });
    const rest = r.total - shown;
    if (r.cells.some((c) => c.suppressed) && rest > 0) {
      g.append(svg('rect', { class: 'seg seg-hidden', x, y: y + 4, width: rest * scale, height: rowH - 8, fill: `url(#${hatch})` }));
      x += rest * scale;
    }
    g.append(svg('text', { class: 'bar-value', x: x + 8, y: y + rowH / 2 + 5 }, fmtNumber(r.total)));
    chart.append(g);
  });
  const legend = h('ul', { class: 'legend-list stack', 'aria-hidden': 'true' },
    columns.map((c, j) => h('li', { class: seg(c, j) }, h('span', { class: 'swatch' }), c.label)),
    h('li', { class: 'seg-hidden' }, h('span', { class: 'swatch' }), hiddenText));
  const table = h('table', { class: 'data stats' },
    h('caption', { text: title }),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: categoryHeader }), h('th', { scope: 'col', class: 'num', text: totalHeader }),
      columns.map((c) => h('th', { scope: 'col', class: 'num', text: c.label })))),
    h('tbody', {}, rows.map((r) => h('tr', { dataset: { key: r.key, suppressed: String(!!r.suppressed) } },
      h('th', { scope: 'row', text: r.label }),
      [{ value: r.total, suppressed: r.suppressed }, ...r.cells].map((c) => h('td', { class: 'num' },
        r.suppressed || c.suppressed || c.value == null ? h('span', { class: 'muted', text: suppressedText }) : fmtNumber(c.value)))))));
  const fig = figure(id, chart, table, caption);
  fig.insertBefore(legend, fig.querySelector('.chart-tools'));
  return fig;
}

// valueAxis draws a horizontal bar chart's value axis into chart: a grid
// line and a label at each tick, the axis line and its title.
function valueAxis(chart, { ticks, scale, labelW, barW, top, plotH, axisLabel }) {
  for (const v of ticks) {
    const x = labelW + v * scale;
    chart.append(svg('line', { class: 'grid', x1: x, x2: x, y1: top - 4, y2: top + plotH }),
      svg('text', { class: 'axis', x, y: top + plotH + 16, 'text-anchor': 'middle' }, fmtNumber(v)));
  }
  chart.append(svg('line', { class: 'axis-line', x1: labelW, x2: labelW, y1: top - 4, y2: top + plotH }),
    svg('text', { class: 'axis-title', x: labelW + barW / 2, y: top + plotH + 40, 'text-anchor': 'middle' }, axisLabel));
}
