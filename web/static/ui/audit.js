// The oversight body's pages. The access history (#/audit): newest first
// (a "latest" page asks no cursor), filters, every record provable against
// the signed checkpoint in the browser, and a CSV export of the records the
// filters select. Break-glass use (#/break-glass): each grant with its
// justification, the reads made under it, and its review (an auditor marks
// a use reviewed with a note). Activity (#/activity): reads, denials and
// break-glass per organisation over time, as charts with their tables.

import { call, get, me, recall, remember } from './api.js';
import { announce, clear, download, field, h, heading, problemView, select, shortId } from './dom.js';
import { fmtDay, fmtMonth, fmtNumber, fmtTime, fmtTimeLong, keys, orgName, t, tn, tv } from './i18n.js';
import { toCSV } from './csv.js';
import { timeChart } from './charts.js';
import {
  available, b64, checkNote, equal, hex, leafHash, parseCheckpointBody, recordBytes, verifyConsistency, verifyInclusion,
} from './verify.js';

/** The query parameters of GET /v1/audit/records that the filter form sets. */
const FILTERS = ['case_id', 'agency', 'sub', 'action', 'decision', 'break_glass', 'from', 'to', 'limit', 'order'];

/** The most records one export fetches (ten pages of the largest size). */
const EXPORT_MAX = 10000;

/** The columns of the CSV export: the access record's fields (docs/api.md, "Audit"). */
const CSV_COLUMNS = ['index', 'time', 'request_id', 'issuer', 'sub', 'agency', 'roles', 'purpose', 'action', 'case_id', 'section',
  'decision', 'status', 'reasons', 'policy_revision', 'break_glass', 'withheld', 'justification', 'legal_basis', 'reference'];

/** auditView renders the access history. */
export async function auditView(view, params) {
  view.append(heading(t('audit.title')), h('p', { class: 'lead', text: t('audit.lead') }));
  const cpBox = h('section', { class: 'card checkpoint', 'aria-labelledby': 'cp-h' });
  view.append(cpBox);
  const jobs = [checkpointPanel(cpBox)];
  view.append(filterForm(params));
  const out = h('div', { class: 'records', 'aria-busy': 'true' });
  view.append(out);
  jobs.push(loadRecords(out, params));
  await Promise.all(jobs);
  return t('audit.title');
}

/** textInput is a text filter control. */
function textInput(name, params) {
  return h('input', { type: 'text', name, value: params.get(name) || '', autocomplete: 'off', spellcheck: 'false' });
}

function filterForm(params) {
  const when = (name) => h('input', { type: 'datetime-local', name, value: params.get(name) || '', step: '1' });
  const controls = {
    case_id: textInput('case_id', params), agency: textInput('agency', params), sub: textInput('sub', params),
    action: select('action', [['', t('audit.any')], ...keys('action.').map((a) => [a, `${tv('action', a)} (${a})`])], params.get('action') || ''),
    decision: select('decision', [['', t('audit.any')], ...['allow', 'partial', 'deny'].map((d) => [d, tv('decision', d)])], params.get('decision') || ''),
    break_glass: select('break_glass', [['', t('audit.any')], ['true', t('audit.bgOnly')], ['false', t('audit.bgNone')]], params.get('break_glass') || ''),
    from: when('from'), to: when('to'),
    limit: select('limit', [['50', '50'], ['100', '100'], ['250', '250'], ['1000', '1000']], params.get('limit') || '50'),
    order: select('order', [['desc', t('audit.newest')], ['asc', t('audit.oldest')]], params.get('order') || 'desc'),
  };
  const form = h('form', { class: 'filters audit-filters', 'aria-label': t('audit.filtersLabel') },
    field(t('audit.caseId'), controls.case_id), field(t('audit.org'), controls.agency), field(t('audit.user'), controls.sub),
    field(t('audit.action'), controls.action), field(t('audit.decision'), controls.decision), field(t('audit.breakGlass'), controls.break_glass),
    field(t('audit.from'), controls.from), field(t('audit.to'), controls.to), field(t('audit.order'), controls.order),
    field(t('audit.perPage'), controls.limit),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, t('audit.filter')),
      h('a', { class: 'button secondary', href: '#/audit' }, t('audit.clear'))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const name of FILTERS) {
      const v = controls[name].value.trim();
      if (v && !(name === 'order' && v === 'desc')) q.set(name, v);
    }
    location.hash = `#/audit?${q}`;
  });
  return form;
}

/** rfc3339 turns a datetime-local value (the user's local time) into UTC RFC 3339. */
function rfc3339(local) {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? local : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** query is the API query of the filters in params. */
function query(params) {
  const q = {};
  for (const name of FILTERS) q[name] = params.get(name) || '';
  q.limit = q.limit || '50';
  q.order = q.order || 'desc';
  q.from = rfc3339(q.from);
  q.to = rfc3339(q.to);
  return q;
}

async function loadRecords(out, params) {
  const q = query(params);
  q.cursor = params.get('cursor') || '';
  const page = Number(params.get('page') || '1');
  announce(t('audit.loading'));
  let res;
  try {
    res = await get('/v1/audit/records', q);
  } catch (e) {
    out.removeAttribute('aria-busy');
    out.append(problemView(e, t('audit.failed')));
    return;
  }
  out.removeAttribute('aria-busy');
  const items = res.items || [];
  announce(tn('audit.count', items.length, { page }));
  const exportBtn = h('button', { type: 'button', class: 'secondary', id: 'export-csv' }, t('audit.export'));
  const exportOut = h('span', { class: 'hint export-out', 'aria-live': 'polite' });
  exportBtn.addEventListener('click', () => exportRecords(params, exportBtn, exportOut));
  if (!items.length) {
    out.append(h('p', { class: 'muted', text: t('audit.none') }));
    return;
  }
  const rows = items.map((r) => recordRow(r));
  const verifyAll = h('button', { type: 'button', class: 'secondary', id: 'verify-all' }, t('audit.verifyAll'));
  verifyAll.addEventListener('click', async () => {
    verifyAll.disabled = true;
    announce(t('audit.verifying'));
    const results = [];
    for (const row of rows) results.push(await row.verify());
    const ok = results.filter((x) => x === 'ok').length;
    const bad = results.filter((x) => x === 'bad').length;
    announce(t('audit.verified', { ok, all: rows.length }) + (bad ? ` ${t('audit.verifiedBad', { bad })}` : ''));
    verifyAll.disabled = false;
  });
  const newest = q.order === 'desc';
  out.append(h('div', { class: 'table-tools' }, exportBtn, exportOut, verifyAll),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data audit' },
      h('caption', { text: `${t('audit.page', { page })} · ${tn('audit.count', items.length, { page })} · ${newest ? t('audit.newest') : t('audit.oldest')}` }),
      h('thead', {}, h('tr', {}, [t('audit.colIndex'), t('audit.colTime'), t('audit.colWho'), t('audit.colPurpose'), t('audit.colAction'),
        t('audit.colCase'), t('audit.colDecision'), t('audit.colFlags'), t('audit.colReasons'), t('audit.colProof')]
        .map((c) => h('th', { scope: 'col', text: c })))),
      h('tbody', {}, rows.map((r) => r.tr)))));
  const pager = h('nav', { class: 'pager', 'aria-label': t('audit.pages') });
  const base = new URLSearchParams();
  for (const name of FILTERS) if (params.get(name)) base.set(name, params.get(name));
  if (page > 1) pager.append(h('a', { href: `#/audit?${base}` }, newest ? t('pager.latest') : t('pager.first')));
  if (res.next_cursor) {
    const next = new URLSearchParams(base);
    next.set('cursor', res.next_cursor);
    next.set('page', String(page + 1));
    pager.append(h('a', { href: `#/audit?${next}`, rel: 'next' }, newest ? t('pager.older') : t('pager.next')));
  }
  out.append(pager);
}

/**
 * exportRecords fetches every record the filters select (page after page,
 * at most EXPORT_MAX) and offers them as a CSV file.
 */
async function exportRecords(params, btn, out) {
  btn.disabled = true;
  const q = query(params);
  q.limit = '1000';
  const rows = [];
  let cursor = '';
  let more = false;
  try {
    do {
      const res = await get('/v1/audit/records', { ...q, cursor });
      for (const r of res.items || []) rows.push(CSV_COLUMNS.map((c) => (c === 'roles' || c === 'reasons' ? (r[c] || []).join('; ') : r[c])));
      cursor = res.next_cursor || '';
      out.textContent = tn('audit.exporting', rows.length);
    } while (cursor && rows.length < EXPORT_MAX);
    more = !!cursor;
  } catch (e) {
    out.textContent = '';
    out.after(problemView(e, t('audit.exportFailed')));
    btn.disabled = false;
    return;
  }
  const stamp = new Date().toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
  download(`liaison-access-records-${stamp}.csv`, toCSV(CSV_COLUMNS, rows));
  const msg = more ? t('audit.exportedSome', { n: fmtNumber(rows.length) }) : tn('audit.exported', rows.length);
  out.textContent = msg;
  announce(msg);
  btn.disabled = false;
}

/** recordRow renders one access record, with a button that proves it is in the signed log. */
function recordRow(r) {
  const proof = h('td', { class: 'proof' });
  const btn = h('button', { type: 'button', class: 'small secondary', 'aria-label': t('audit.verifyOne', { index: r.index }) }, t('audit.verify'));
  const result = h('span', { class: 'proof-result', 'aria-live': 'polite' });
  proof.append(btn, result);
  const verify = async () => {
    btn.disabled = true;
    const v = await proveRecord(r);
    clear(result).append(h('span', { class: v.state === 'ok' ? 'ok' : v.state === 'bad' ? 'bad' : 'muted', title: v.detail, text: v.text }),
      h('span', { class: 'visually-hidden', text: ` ${v.detail}` }));
    result.dataset.state = v.state;
    btn.disabled = false;
    return v.state;
  };
  btn.addEventListener('click', verify);
  const flags = [];
  if (r.break_glass) flags.push(h('span', { class: 'flag flag-bg', text: t('audit.flagBg') }));
  if (r.withheld) flags.push(h('span', { class: 'flag', text: t('audit.flagWithheld', { n: r.withheld }) }));
  const tr = h('tr', { dataset: { index: r.index, decision: r.decision } },
    h('td', { class: 'num', text: String(r.index) }),
    h('td', {}, h('time', { datetime: r.time, title: r.time, text: fmtTimeLong(r.time) })),
    h('td', {}, h('span', { class: 'sub', text: r.sub || t('audit.noIdentity') }), h('br'),
      h('span', { class: 'muted', text: [r.agency ? orgName(r.agency) : '', (r.roles || []).map((x) => tv('role', x)).join(', ')].filter(Boolean).join(' · ') })),
    h('td', { class: 'nowrap', text: r.purpose ? tv('purpose', r.purpose) : '—' }),
    h('td', {}, h('span', { class: 'action-name', text: tv('action', r.action) }), h('br'), h('code', { class: 'muted', text: r.action })),
    h('td', {}, r.case_id ? h('a', { href: `#/audit?case_id=${encodeURIComponent(r.case_id)}`, title: r.case_id, 'aria-label': t('audit.caseRecords', { id: r.case_id }) },
      h('code', { text: shortId(r.case_id) })) : '—', r.section ? ` · ${r.section}` : ''),
    h('td', {}, h('span', { class: `decision decision-${r.decision}`, text: tv('decision', r.decision) }), h('span', { class: 'muted', text: ` ${r.status}` })),
    h('td', {}, flags.length ? flags : '—'),
    h('td', { class: 'reasons' }, (r.reasons || []).join('; '),
      r.justification ? h('p', { class: 'justification' }, h('strong', {}, t('audit.justification')), ' ', r.justification) : null,
      r.legal_basis ? h('p', {}, h('strong', {}, t('audit.legalBasis')), ' ', tv('legal', r.legal_basis), r.reference ? ` · ${r.reference}` : '') : null),
    proof);
  return { tr, verify };
}

/* The latest checkpoint, its signature checked: shared by the panel and the row proofs. */
let latest = null;

/** fetchCheckpoint reads the latest checkpoint and checks its signed note. */
async function fetchCheckpoint() {
  const cp = await call('GET', '/v1/audit/checkpoint');
  const sig = available() ? await checkNote(cp.note || '', cp.verifier_key) : { checked: false, signed: false, why: 'no-webcrypto' };
  const body = sig.body ? parseCheckpointBody(sig.body) : null;
  const root = b64(cp.root_hash || '');
  const matches = !!body && body.size === BigInt(cp.size) && equal(body.root, root);
  latest = { ...cp, sizeN: BigInt(cp.size), root, sig, matches, at: new Date().toISOString() };
  return latest;
}

/** whyText is a checkpoint check's failure in words. */
function whyText(code) {
  return tv('cp.why', code);
}

/** proveRecord checks that record r, as shown, is a leaf of the signed checkpoint. */
async function proveRecord(r) {
  if (!available()) return { state: 'na', text: t('proof.notChecked'), detail: t('proof.noWebCrypto') };
  try {
    let cp = latest || await fetchCheckpoint();
    if (BigInt(r.index) >= cp.sizeN && Date.now() - Date.parse(cp.at) > 2000) cp = await fetchCheckpoint(); // perhaps signed since
    if (BigInt(r.index) >= cp.sizeN) return { state: 'pending', text: t('proof.pending'), detail: t('proof.pendingDetail', { size: cp.size }) };
    if (cp.sig.checked && !cp.sig.signed) return { state: 'bad', text: t('proof.badCheckpoint'), detail: whyText(cp.sig.why) };
    const p = await get('/v1/audit/proofs/inclusion', { index: r.index, size: cp.size });
    const leaf = await leafHash(recordBytes(r));
    if (!equal(leaf, b64(p.leaf_hash || ''))) return { state: 'bad', text: t('proof.altered'), detail: t('proof.alteredDetail') };
    const ok = await verifyInclusion(r.index, cp.size, leaf, (p.hashes || []).map(b64), cp.root);
    return ok
      ? { state: 'ok', text: t('proof.ok'), detail: t('proof.okDetail', { size: cp.size }) }
      : { state: 'bad', text: t('proof.failed'), detail: t('proof.failedDetail') };
  } catch (e) {
    return { state: 'error', text: t('proof.error'), detail: (e.problem && (e.problem.detail || e.problem.title)) || String(e) };
  }
}

/** checkpointPanel shows the latest checkpoint and what the browser could verify of it. */
async function checkpointPanel(box) {
  clear(box).append(h('h2', { id: 'cp-h', text: t('cp.title') }));
  const body = h('div', { 'aria-busy': 'true' }, h('p', { class: 'muted', text: t('cp.loading') }));
  box.append(body);
  let cp;
  try {
    cp = await fetchCheckpoint();
  } catch (e) {
    clear(body).append(problemView(e, t('cp.failed')));
    body.removeAttribute('aria-busy');
    return;
  }
  const checks = h('ul', { class: 'checks' });
  clear(body).append(
    h('dl', { class: 'cp' },
      h('div', {}, h('dt', {}, t('cp.size')), h('dd', { class: 'cp-size', text: String(cp.size) })),
      h('div', {}, h('dt', {}, t('cp.root')), h('dd', {}, h('code', { class: 'hash', text: hex(cp.root) }))),
      h('div', {}, h('dt', {}, t('cp.origin')), h('dd', { text: cp.origin })),
      h('div', {}, h('dt', {}, t('cp.key')), h('dd', {}, h('code', { class: 'hash', text: cp.verifier_key })))),
    h('details', {}, h('summary', {}, t('cp.note')), h('pre', { class: 'note', text: cp.note })),
    checks);
  body.removeAttribute('aria-busy');
  const check = (state, text) => checks.append(h('li', { class: `check check-${state}`, dataset: { state } },
    h('span', { class: 'check-mark', 'aria-hidden': 'true', text: { ok: '✓', bad: '✗', na: '–' }[state] }),
    h('span', { class: 'visually-hidden', text: `${tv('cp.state', state)} ` }), text));
  if (!available()) {
    check('na', t('cp.noWebCrypto'));
  } else {
    if (!cp.sig.checked) check('na', t('cp.notChecked', { why: whyText(cp.sig.why) }));
    else if (cp.sig.signed) check('ok', t('cp.signed', { name: cp.verifier_key.split('+')[0] }));
    else check('bad', t('cp.invalid', { why: whyText(cp.sig.why) }));
    check(cp.matches ? 'ok' : 'bad', cp.matches ? t('cp.matches', { size: cp.size }) : t('cp.mismatch'));
    await consistencyCheck(cp, check);
  }
  const again = h('button', { type: 'button', class: 'secondary' }, t('cp.again'));
  again.addEventListener('click', () => checkpointPanel(box).then(() => announce(t('cp.checkedAgain'))));
  body.append(h('p', {}, again, ' ', h('span', { class: 'muted' }, t('cp.full'), ' ', h('code', { text: 'liaison audit verify --data DIR' }))));
}

/**
 * consistencyCheck proves that the log only grew since the first checkpoint
 * this tab saw (remembered in sessionStorage).
 */
async function consistencyCheck(cp, check) {
  const seen = recall('checkpoint');
  if (!seen || !cp.matches || (cp.sig.checked && !cp.sig.signed)) {
    if (cp.matches && (!cp.sig.checked || cp.sig.signed)) {
      remember('checkpoint', { size: cp.size, root: cp.root_hash, at: cp.at });
      check('na', t('cp.first', { size: cp.size }));
    }
    return;
  }
  const from = BigInt(seen.size);
  if (from > cp.sizeN) {
    check('bad', t('cp.shrank', { seen: seen.size, time: fmtTime(seen.at), size: cp.size }));
    return;
  }
  let path = [];
  try {
    if (from !== cp.sizeN) path = ((await get('/v1/audit/proofs/consistency', { from: seen.size, to: cp.size })).hashes || []).map(b64);
  } catch (e) {
    check('bad', t('cp.noProof', { why: (e.problem && e.problem.detail) || e.message }));
    return;
  }
  const ok = await verifyConsistency(seen.size, cp.size, b64(seen.root), cp.root, path);
  if (!ok) check('bad', t('cp.rewritten', { seen: seen.size, time: fmtTime(seen.at) }));
  else if (from === cp.sizeN) check('ok', t('cp.unchanged', { time: fmtTime(seen.at) }));
  else check('ok', t('cp.grew', { seen: seen.size, time: fmtTime(seen.at) }));
}

/** The filters of the break-glass list. */
const BG_FILTERS = ['reviewed', 'agency', 'case_id', 'from', 'to'];

/** breakGlassView lists break-glass use: each grant, its justification, the reads under it, its review. */
export async function breakGlassView(view, params) {
  view.append(heading(t('bgu.title')), h('p', { class: 'lead', text: t('bgu.lead') }));
  let who = null;
  try {
    who = await me();
  } catch {
    who = null;
  }
  const canReview = !!who && (who.roles || []).includes('auditor');
  const controls = {
    reviewed: select('reviewed', [['', t('bgu.all')], ['false', t('bgu.toReview')], ['true', t('bgu.reviewed')]], params.get('reviewed') || ''),
    agency: textInput('agency', params), case_id: textInput('case_id', params),
    from: h('input', { type: 'date', name: 'from', value: params.get('from') || '' }),
    to: h('input', { type: 'date', name: 'to', value: params.get('to') || '' }),
  };
  const form = h('form', { class: 'filters audit-filters', 'aria-label': t('bgu.filtersLabel') },
    field(t('bgu.state'), controls.reviewed), field(t('audit.org'), controls.agency), field(t('audit.caseId'), controls.case_id),
    field(t('bgu.from'), controls.from), field(t('bgu.to'), controls.to),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, t('audit.filter')), h('a', { class: 'button secondary', href: '#/break-glass' }, t('audit.clear'))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const n of BG_FILTERS) if (controls[n].value.trim()) q.set(n, controls[n].value.trim());
    location.hash = `#/break-glass?${q}`;
  });
  view.append(form);
  const out = h('div', { class: 'bg-uses', 'aria-busy': 'true' });
  view.append(out);
  const q = {};
  for (const n of BG_FILTERS) q[n] = params.get(n) || '';
  if (q.from) q.from = `${q.from}T00:00:00Z`;
  if (q.to) q.to = dayAfter(q.to);
  q.cursor = params.get('cursor') || '';
  const page = Number(params.get('page') || '1');
  announce(t('bgu.loading'));
  let res;
  try {
    res = await get('/v1/audit/break-glass', q);
  } catch (e) {
    out.removeAttribute('aria-busy');
    out.append(problemView(e, t('bgu.failed')));
    return t('bgu.title');
  }
  out.removeAttribute('aria-busy');
  const items = res.items || [];
  announce(tn('bgu.count', items.length));
  if (!items.length) out.append(h('p', { class: 'muted', text: t('bgu.none') }));
  for (const u of items) out.append(useCard(u, canReview));
  const pager = h('nav', { class: 'pager', 'aria-label': t('bgu.pages') });
  const base = new URLSearchParams();
  for (const n of BG_FILTERS) if (params.get(n)) base.set(n, params.get(n));
  if (page > 1) pager.append(h('a', { href: `#/break-glass?${base}` }, t('pager.latest')));
  if (res.next_cursor) {
    const next = new URLSearchParams(base);
    next.set('cursor', res.next_cursor);
    next.set('page', String(page + 1));
    pager.append(h('a', { href: `#/break-glass?${next}`, rel: 'next' }, t('pager.older')));
  }
  out.append(pager);
  return t('bgu.title');
}

/** dayAfter is the RFC 3339 start of the day after a YYYY-MM-DD (an inclusive end date). */
function dayAfter(ymd) {
  const d = new Date(`${ymd}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return ymd;
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** useCard shows one break-glass use. */
function useCard(u, canReview) {
  const r = u.record || {};
  const hid = `bgu-${r.index}`;
  const reads = u.reads || [];
  const reviewBox = h('div', { class: 'review' });
  const card = h('article', { class: 'card bg-use', dataset: { index: r.index, reviewed: String(!!u.review) }, 'aria-labelledby': hid },
    h('h2', { id: hid, class: 'bg-use-title' }, t('bgu.who', { sub: r.sub, org: orgName(r.agency) }), ' ',
      h('a', { href: `#/audit?case_id=${encodeURIComponent(r.case_id || '')}`, 'aria-label': t('audit.caseRecords', { id: r.case_id }) }, h('code', { text: shortId(r.case_id) }))),
    h('dl', { class: 'kv' },
      h('dt', {}, t('bgu.when')), h('dd', {}, h('time', { datetime: r.time, text: fmtTime(r.time) })),
      u.expires_at ? [h('dt', {}, t('bgu.until')), h('dd', {}, h('time', { datetime: u.expires_at, text: fmtTime(u.expires_at) }))] : null,
      h('dt', {}, t('bgu.roles')), h('dd', { text: (r.roles || []).map((x) => tv('role', x)).join(', ') || '—' }),
      h('dt', {}, t('bgu.record')), h('dd', { text: `#${r.index}` })),
    h('h3', { text: t('bgu.justification') }),
    h('blockquote', { class: 'justification', text: r.justification || '—' }),
    h('h3', { text: t('bgu.reads') }),
    reads.length
      ? h('table', { class: 'data inner bg-reads' },
        h('caption', { class: 'visually-hidden', text: t('bgu.readsOf', { sub: r.sub }) }),
        h('thead', {}, h('tr', {}, [t('audit.colTime'), t('audit.colAction'), t('bgu.section'), t('audit.colDecision')].map((c) => h('th', { scope: 'col', text: c })))),
        h('tbody', {}, reads.map((x) => h('tr', {},
          h('td', {}, h('time', { datetime: x.time, text: fmtTime(x.time) })), h('td', { text: tv('action', x.action) }),
          h('td', { text: x.section ? tv('section', x.section) : '—' }), h('td', { text: tv('decision', x.decision) })))))
      : h('p', { class: 'muted', text: t('bgu.noReads') }),
    u.reads_truncated ? h('p', { class: 'muted', text: t('bgu.truncated') }) : null,
    reviewBox);
  const showReview = (rv) => {
    clear(reviewBox).append(h('p', { class: 'reviewed' }, h('strong', {}, t('bgu.reviewedBy', { sub: rv.sub, org: orgName(rv.agency), time: fmtTime(rv.time) })), ' ',
      h('span', { class: 'review-note', text: rv.note })));
    card.dataset.reviewed = 'true';
  };
  if (u.review) showReview(u.review);
  else if (canReview) {
    const note = h('textarea', { name: 'note', rows: '2', maxlength: '2000', 'aria-required': 'true' });
    const out = h('div', { 'aria-live': 'polite' });
    const btn = h('button', { type: 'submit' }, t('bgu.markReviewed'));
    const form = h('form', { class: 'review-form', novalidate: true }, field(t('bgu.note'), note, t('bgu.noteHint')), btn, out);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clear(out);
      btn.disabled = true;
      try {
        const res = await call('POST', `/v1/audit/records/${r.index}/review`, { note: note.value.trim() });
        showReview(res.review);
        announce(t('bgu.marked'));
        reviewBox.querySelector('.reviewed').setAttribute('tabindex', '-1');
        reviewBox.querySelector('.reviewed').focus();
      } catch (e) {
        out.append(problemView(e, '', e.status === 409 ? t('bgu.already') : e.status === 403 ? t('bgu.notAuditor') : ''));
        btn.disabled = false;
      }
    });
    reviewBox.append(h('h3', { text: t('bgu.review') }), form);
  } else {
    reviewBox.append(h('p', { class: 'muted', text: t('bgu.notReviewed') }));
  }
  return card;
}

/** activityView draws reads, denials and break-glass per organisation over time (GET /v1/audit/summary). */
export async function activityView(view, params) {
  view.append(heading(t('act.title')), h('p', { class: 'lead', text: t('act.lead') }));
  const today = new Date().toISOString().slice(0, 10);
  const monthAgo = new Date(Date.now() - 29 * 86400000).toISOString().slice(0, 10);
  const from = h('input', { type: 'date', name: 'from', value: params.get('from') || monthAgo });
  const to = h('input', { type: 'date', name: 'to', value: params.get('to') || today });
  const bucket = select('bucket', [['day', t('act.day')], ['week', t('act.week')], ['month', t('act.month')]], params.get('bucket') || 'day');
  const form = h('form', { class: 'filters audit-filters', 'aria-label': t('act.filtersLabel') },
    field(t('bgu.from'), from), field(t('bgu.to'), to), field(t('act.bucket'), bucket), h('div', { class: 'buttons' }, h('button', { type: 'submit' }, t('act.show'))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = `#/activity?${new URLSearchParams({ from: from.value, to: to.value, bucket: bucket.value })}`;
  });
  view.append(form);
  const out = h('div', { class: 'activity', 'aria-busy': 'true' });
  view.append(out);
  announce(t('act.loading'));
  let res;
  try {
    res = await get('/v1/audit/summary', { from: from.value ? `${from.value}T00:00:00Z` : '', to: to.value ? dayAfter(to.value) : '', bucket: bucket.value });
  } catch (e) {
    out.removeAttribute('aria-busy');
    out.append(problemView(e, t('act.failed')));
    return t('act.title');
  }
  out.removeAttribute('aria-busy');
  const fmt = (iso) => (res.bucket === 'month' ? fmtMonth(iso) : res.bucket === 'week' ? t('act.weekOf', { day: fmtDay(iso) }) : fmtDay(iso));
  const series = (res.series || []).filter((s) => (s.buckets || []).some((b) => b.reads || b.denials || b.break_glass));
  const totals = series.map((s) => ({
    agency: s.agency,
    reads: s.buckets.reduce((n, b) => n + b.reads, 0),
    denials: s.buckets.reduce((n, b) => n + b.denials, 0),
    bg: s.buckets.reduce((n, b) => n + b.break_glass, 0),
  }));
  const name = (a) => (a ? orgName(a) : t('act.unknownOrg'));
  out.append(h('section', { class: 'card' }, h('h2', { text: t('act.totals') }),
    totals.length ? h('table', { class: 'data stats act-totals' },
      h('caption', { text: t('act.totalsCaption', { from: fmtTime(res.from), to: fmtTime(res.to) }) }),
      h('thead', {}, h('tr', {}, [t('audit.org'), t('act.reads'), t('act.denials'), t('act.breakGlass')].map((c, i) => h('th', { scope: 'col', class: i ? 'num' : null, text: c })))),
      h('tbody', {}, totals.map((x) => h('tr', { dataset: { agency: x.agency } }, h('th', { scope: 'row', text: name(x.agency) }),
        h('td', { class: 'num', text: fmtNumber(x.reads) }), h('td', { class: 'num', text: fmtNumber(x.denials) }), h('td', { class: 'num', text: fmtNumber(x.bg) })))))
      : h('p', { class: 'muted', text: t('act.none') })));
  for (const s of series) {
    const periods = s.buckets.map((b) => fmt(b.start));
    out.append(h('section', { class: 'card', dataset: { agency: s.agency } }, h('h2', { text: name(s.agency) }),
      timeChart({
        id: `act-${s.agency || 'none'}`,
        title: t('act.chartTitle', { org: name(s.agency) }),
        periods,
        periodHeader: t('act.period'),
        axisLabel: t('act.axis'),
        series: [
          { name: t('act.reads'), cls: 's-reads', values: s.buckets.map((b) => b.reads) },
          { name: t('act.denials'), cls: 's-denials', values: s.buckets.map((b) => b.denials) },
          { name: t('act.breakGlass'), cls: 's-bg', values: s.buckets.map((b) => b.break_glass) },
        ],
      })));
  }
  announce(t('act.loaded'));
  return t('act.title');
}
