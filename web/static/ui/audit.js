// The oversight board's pages: the access history with its filters (#/audit),
// break-glass use (#/break-glass), and the tamper evidence of the access log —
// the latest signed checkpoint, checked in the browser, and an inclusion proof
// of any record on the page.

import { call, get, recall, remember } from './api.js';
import { announce, clear, field, fmtTime, fmtTimeLong, h, problemView, select, shortId } from './dom.js';
import {
  available, b64, checkNote, equal, hex, leafHash, parseCheckpointBody, recordBytes, verifyConsistency, verifyInclusion,
} from './verify.js';

/** The query parameters of GET /v1/audit/records that the filter form sets. */
const FILTERS = ['case_id', 'agency', 'sub', 'decision', 'break_glass', 'from', 'to', 'limit'];

/** auditView renders the access history, or only break-glass use. */
export async function auditView(view, params, breakGlassOnly) {
  const title = breakGlassOnly ? 'Break-glass use' : 'Access history';
  view.append(h('h1', { tabindex: '-1', text: title }),
    h('p', { class: 'lead', text: breakGlassOnly
      ? 'Every break-glass invocation and every read made under a break-glass grant, newest records last.'
      : 'One record per API call that touched case data or the audit log, allowed or not, in the order they were made. Records hold ids and decisions, never case content.' }));
  const jobs = [];
  if (!breakGlassOnly) {
    const cpBox = h('section', { class: 'card checkpoint', 'aria-labelledby': 'cp-h' });
    view.append(cpBox);
    jobs.push(checkpointPanel(cpBox));
  }
  view.append(filterForm(params, breakGlassOnly));
  const out = h('div', { class: 'records', 'aria-busy': 'true' });
  view.append(out);
  jobs.push(loadRecords(out, params, breakGlassOnly));
  await Promise.all(jobs);
  return title;
}

function filterForm(params, breakGlassOnly) {
  const text = (name) => h('input', { type: 'text', name, value: params.get(name) || '', autocomplete: 'off', spellcheck: 'false' });
  const when = (name) => h('input', { type: 'datetime-local', name, value: params.get(name) || '', step: '1' });
  const controls = {
    case_id: text('case_id'), agency: text('agency'), sub: text('sub'),
    decision: select('decision', [['', 'Any'], ['allow', 'Allow'], ['partial', 'Partial'], ['deny', 'Deny']], params.get('decision') || ''),
    break_glass: select('break_glass', [['', 'Any'], ['true', 'Only break-glass'], ['false', 'No break-glass']], params.get('break_glass') || ''),
    from: when('from'), to: when('to'),
    limit: select('limit', [['50', '50'], ['100', '100'], ['250', '250']], params.get('limit') || '50'),
  };
  const form = h('form', { class: 'filters audit-filters', 'aria-label': 'Filter access records' },
    field('Case id', controls.case_id), field('Organisation', controls.agency), field('User (sub)', controls.sub),
    field('Decision', controls.decision), breakGlassOnly ? null : field('Break-glass', controls.break_glass),
    field('From (your local time)', controls.from), field('To (your local time)', controls.to), field('Records per page', controls.limit),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Filter'),
      h('a', { class: 'button secondary', href: breakGlassOnly ? '#/break-glass' : '#/audit' }, 'Clear filters')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const name of FILTERS) {
      const v = controls[name].value.trim();
      if (v && !(breakGlassOnly && name === 'break_glass')) q.set(name, v);
    }
    location.hash = `${breakGlassOnly ? '#/break-glass' : '#/audit'}?${q}`;
  });
  return form;
}

/** rfc3339 turns a datetime-local value (the user's local time) into UTC RFC 3339. */
function rfc3339(local) {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? local : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function loadRecords(out, params, breakGlassOnly) {
  const q = {};
  for (const name of FILTERS) q[name] = params.get(name) || '';
  q.limit = q.limit || '50';
  q.from = rfc3339(q.from);
  q.to = rfc3339(q.to);
  if (breakGlassOnly) q.break_glass = 'true';
  q.cursor = params.get('cursor') || '';
  const page = Number(params.get('page') || '1');
  announce('Loading access records…');
  let res;
  try {
    res = await get('/v1/audit/records', q);
  } catch (e) {
    out.removeAttribute('aria-busy');
    out.append(problemView(e, 'The access records could not be read'));
    return;
  }
  out.removeAttribute('aria-busy');
  const items = res.items || [];
  announce(`${items.length} access records on page ${page}.`);
  if (!items.length) {
    out.append(h('p', { class: 'muted', text: 'No access record matches.' }));
    return;
  }
  const rows = items.map((r) => recordRow(r));
  const verifyAll = h('button', { type: 'button', class: 'secondary', id: 'verify-all' }, 'Verify every record on this page');
  verifyAll.addEventListener('click', async () => {
    verifyAll.disabled = true;
    announce('Verifying the records on this page…');
    const results = [];
    for (const row of rows) results.push(await row.verify());
    const ok = results.filter((x) => x === 'ok').length;
    const bad = results.filter((x) => x === 'bad').length;
    announce(`${ok} of ${rows.length} records proven in the signed checkpoint${bad ? `; ${bad} FAILED` : ''}.`);
    verifyAll.disabled = false;
  });
  out.append(h('div', { class: 'table-tools' }, verifyAll),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data audit' },
      h('caption', {}, `Page ${page} — ${items.length} records`),
      h('thead', {}, h('tr', {}, ['#', 'Time', 'Who', 'Purpose', 'Action', 'Case · section', 'Decision', 'Flags', 'Reasons', 'Proof']
        .map((c) => h('th', { scope: 'col', text: c })))),
      h('tbody', {}, rows.map((r) => r.tr)))));
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of access records' });
  const base = new URLSearchParams();
  for (const name of FILTERS) if (params.get(name)) base.set(name, params.get(name));
  const route = breakGlassOnly ? '#/break-glass' : '#/audit';
  if (page > 1) pager.append(h('a', { href: `${route}?${base}` }, '« First page'));
  if (res.next_cursor) {
    const next = new URLSearchParams(base);
    next.set('cursor', res.next_cursor);
    next.set('page', String(page + 1));
    pager.append(h('a', { href: `${route}?${next}` }, 'Next page »'));
  }
  out.append(pager);
}

/** recordRow renders one access record, with a button that proves it is in the signed log. */
function recordRow(r) {
  const proof = h('td', { class: 'proof' });
  const btn = h('button', { type: 'button', class: 'small secondary', 'aria-label': `Verify record ${r.index}` }, 'Verify');
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
  if (r.break_glass) flags.push(h('span', { class: 'flag flag-bg', text: 'break-glass' }));
  if (r.withheld) flags.push(h('span', { class: 'flag', text: `${r.withheld} withheld` }));
  const tr = h('tr', { dataset: { index: r.index, decision: r.decision } },
    h('td', { class: 'num', text: String(r.index) }),
    h('td', {}, h('time', { datetime: r.time, title: r.time, text: fmtTimeLong(r.time) })),
    h('td', {}, h('span', { class: 'sub', text: r.sub || '(no identity)' }), h('br'),
      h('span', { class: 'muted', text: [r.agency, (r.roles || []).join(', ')].filter(Boolean).join(' · ') })),
    h('td', { class: 'nowrap', text: r.purpose || '—' }),
    h('td', { class: 'nowrap' }, h('code', { text: r.action })),
    h('td', {}, r.case_id ? h('a', { href: `#/audit?case_id=${encodeURIComponent(r.case_id)}`, title: `Records of case ${r.case_id}` },
      h('code', { text: shortId(r.case_id) })) : '—', r.section ? ` · ${r.section}` : ''),
    h('td', {}, h('span', { class: `decision decision-${r.decision}`, text: r.decision }), h('span', { class: 'muted', text: ` ${r.status}` })),
    h('td', {}, flags.length ? flags : '—'),
    h('td', { class: 'reasons' }, (r.reasons || []).join('; ')),
    proof);
  return { tr, verify };
}

/* The latest checkpoint, its signature checked: shared by the panel and the row proofs. */
let latest = null;

/** fetchCheckpoint reads the latest checkpoint and checks its signed note. */
async function fetchCheckpoint() {
  const cp = await call('GET', '/v1/audit/checkpoint');
  const sig = available() ? await checkNote(cp.note || '', cp.verifier_key) : { checked: false, signed: false, why: 'no WebCrypto on this page' };
  const body = sig.body ? parseCheckpointBody(sig.body) : null;
  const root = b64(cp.root_hash || '');
  const matches = !!body && body.size === BigInt(cp.size) && equal(body.root, root);
  latest = { ...cp, sizeN: BigInt(cp.size), root, sig, matches, at: new Date().toISOString() };
  return latest;
}

/** proveRecord checks that record r, as shown, is a leaf of the signed checkpoint. */
async function proveRecord(r) {
  if (!available()) return { state: 'na', text: 'not checked', detail: 'WebCrypto needs https or localhost: use liaison audit verify.' };
  try {
    let cp = latest || await fetchCheckpoint();
    if (BigInt(r.index) >= cp.sizeN && Date.now() - Date.parse(cp.at) > 2000) cp = await fetchCheckpoint(); // perhaps signed since
    if (BigInt(r.index) >= cp.sizeN) {
      return { state: 'pending', text: 'not yet signed', detail: `The latest checkpoint holds ${cp.size} records; the hub signs a new one every 10 seconds or 1,000 records. Check again shortly.` };
    }
    if (cp.sig.checked && !cp.sig.signed) return { state: 'bad', text: '✗ checkpoint', detail: `The checkpoint's signature does not verify: ${cp.sig.why}.` };
    const p = await get('/v1/audit/proofs/inclusion', { index: r.index, size: cp.size });
    const leaf = await leafHash(recordBytes(r));
    if (!equal(leaf, b64(p.leaf_hash || ''))) {
      return { state: 'bad', text: '✗ record altered', detail: 'The record as shown does not hash to the leaf the log committed to.' };
    }
    const ok = await verifyInclusion(r.index, cp.size, leaf, (p.hashes || []).map(b64), cp.root);
    return ok
      ? { state: 'ok', text: '✓ in signed log', detail: `Proven in the signed checkpoint of ${cp.size} records.` }
      : { state: 'bad', text: '✗ proof failed', detail: 'The inclusion proof does not lead to the signed root hash.' };
  } catch (e) {
    return { state: 'error', text: 'error', detail: (e.problem && (e.problem.detail || e.problem.title)) || String(e) };
  }
}

/** checkpointPanel shows the latest checkpoint and what the browser could verify of it. */
async function checkpointPanel(box) {
  clear(box).append(h('h2', { id: 'cp-h', text: 'Tamper evidence' }));
  const body = h('div', { 'aria-busy': 'true' }, h('p', { class: 'muted', text: 'Reading the latest checkpoint…' }));
  box.append(body);
  let cp;
  try {
    cp = await fetchCheckpoint();
  } catch (e) {
    clear(body).append(problemView(e, 'The checkpoint could not be read'));
    body.removeAttribute('aria-busy');
    return;
  }
  const checks = h('ul', { class: 'checks' });
  clear(body).append(
    h('dl', { class: 'cp' },
      h('div', {}, h('dt', {}, 'Records in the log'), h('dd', { class: 'cp-size', text: String(cp.size) })),
      h('div', {}, h('dt', {}, 'Root hash (SHA-256)'), h('dd', {}, h('code', { class: 'hash', text: hex(cp.root) }))),
      h('div', {}, h('dt', {}, 'Origin'), h('dd', { text: cp.origin })),
      h('div', {}, h('dt', {}, 'Verifier key'), h('dd', {}, h('code', { class: 'hash', text: cp.verifier_key })))),
    h('details', {}, h('summary', {}, 'Signed note'), h('pre', { class: 'note', text: cp.note })),
    checks);
  body.removeAttribute('aria-busy');
  const check = (state, text) => checks.append(h('li', { class: `check check-${state}`, dataset: { state } },
    h('span', { class: 'check-mark', 'aria-hidden': 'true', text: { ok: '✓', bad: '✗', na: '–' }[state] }),
    h('span', { class: 'visually-hidden', text: { ok: 'Passed: ', bad: 'Failed: ', na: 'Not checked: ' }[state] }), text));
  if (!available()) {
    check('na', 'This page cannot use WebCrypto (it needs https or localhost). Size and root are as the hub states them: verifiable with `liaison audit verify`.');
  } else {
    if (!cp.sig.checked) check('na', `Signature not checked: ${cp.sig.why}. Verifiable with \`liaison audit verify\`.`);
    else if (cp.sig.signed) check('ok', `Signature valid: the note is signed by ${cp.verifier_key.split('+')[0]} (compare the verifier key with checkpoint.pub in the hub's data directory).`);
    else check('bad', `Signature INVALID: ${cp.sig.why}.`);
    check(cp.matches ? 'ok' : 'bad', cp.matches ? `The signed note states this size (${cp.size}) and root hash.` : 'The signed note does NOT state the size and root hash shown.');
    await consistencyCheck(cp, check);
  }
  const again = h('button', { type: 'button', class: 'secondary' }, 'Check again');
  again.addEventListener('click', () => checkpointPanel(box).then(() => announce('Checkpoint checked again.')));
  body.append(h('p', {}, again, ' ', h('span', { class: 'muted' }, 'A full check of every record and event: ', h('code', { text: 'liaison audit verify --data DIR' }))));
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
      check('na', `First checkpoint seen in this session (${cp.size} records), remembered: the next check proves that the log only grew since.`);
    }
    return;
  }
  const from = BigInt(seen.size);
  if (from > cp.sizeN) {
    check('bad', `The log SHRANK: this session saw ${seen.size} records at ${fmtTime(seen.at)}, the hub now signs ${cp.size}.`);
    return;
  }
  let path = [];
  try {
    if (from !== cp.sizeN) path = ((await get('/v1/audit/proofs/consistency', { from: seen.size, to: cp.size })).hashes || []).map(b64);
  } catch (e) {
    check('bad', `The consistency proof could not be read: ${(e.problem && e.problem.detail) || e.message}.`);
    return;
  }
  const ok = await verifyConsistency(seen.size, cp.size, b64(seen.root), cp.root, path);
  if (!ok) check('bad', `The log was REWRITTEN: the checkpoint of ${seen.size} records seen at ${fmtTime(seen.at)} is not a prefix of the latest.`);
  else if (from === cp.sizeN) check('ok', `Unchanged since ${fmtTime(seen.at)}: same size and root hash as the checkpoint this session first saw.`);
  else check('ok', `Append-only: the checkpoint of ${seen.size} records seen at ${fmtTime(seen.at)} is a prefix of the latest (consistency proof checked in your browser).`);
}
