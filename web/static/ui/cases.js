// The case list (#/cases): the cases the reader may read, newest change
// first, found by subject reference (answered by the hub over every case),
// the reader's caseload, stage, paging by the hub's cursor. The case page
// (#/cases/ID): its summary, the "Record" card (write.js), its sections —
// what the reader may see, what is withheld and why — its timeline, and
// break-glass where the protocol would grant it.

import { SECTIONS, STAGES, call, get, me, recall, remember, session } from './api.js';
import { add, announce, clear, describe, field, h, heading, hubMessage, problemView, select, shortId, uid } from './dom.js';
import { fmtNumber, fmtTime, orgName, t, tn, tv } from './i18n.js';
import { itemView, timelineView } from './items.js';
import { planView } from './plan.js';
import { writePanel } from './write.js';

/** The filters of the case list, as the hash carries them. */
const LIST_PARAMS = ['q', 'caseload', 'stage', 'order', 'limit'];

/** caseListView renders one page of the cases the user may read. */
export async function caseListView(view, params) {
  const s = session();
  const q = params.get('q') || '';
  const caseload = params.get('caseload') || 'all';
  const stage = params.get('stage') || '';
  const order = params.get('order') || 'recent';
  const limit = params.get('limit') || '50';
  const cursor = params.get('cursor') || '';
  const page = Number(params.get('page') || '1');

  const qInput = h('input', { type: 'search', name: 'q', value: q, autocomplete: 'off', spellcheck: 'false', maxlength: '128' });
  const qErr = h('p', { class: 'field-error', id: uid('err'), hidden: true });
  const loadSel = select('caseload', [['all', t('cases.caseloadAll')], ['mine', t('cases.caseloadMine')]], caseload);
  const stageSel = select('stage', [['', t('cases.allStages')], ...STAGES.map((x) => [x, tv('stage', x)])], stage);
  const orderSel = select('order', [['recent', t('cases.orderRecent')], ['opened', t('cases.orderOpened')]], order);
  const limitSel = select('limit', [['25', '25'], ['50', '50'], ['100', '100'], ['250', '250']], limit);
  const qField = field(t('cases.search'), qInput, t('cases.searchHint'));
  qField.insertBefore(qErr, qInput);
  const filters = h('form', { class: 'filters case-filters', role: 'search', 'aria-label': t('cases.filtersLabel') },
    qField, field(t('cases.caseload'), loadSel), field(t('cases.stage'), stageSel), field(t('cases.order'), orderSel),
    field(t('cases.perPage'), limitSel), h('button', { type: 'submit' }, t('cases.show')));
  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams();
    const vals = { q: qInput.value.trim(), caseload: loadSel.value, stage: stageSel.value, order: orderSel.value, limit: limitSel.value };
    for (const k of LIST_PARAMS) if (vals[k] && !(k === 'caseload' && vals[k] === 'all') && !(k === 'order' && vals[k] === 'recent')) next.set(k, vals[k]);
    location.hash = `#/cases?${next}`;
  });

  const idInput = h('input', { type: 'text', name: 'case', autocomplete: 'off', spellcheck: 'false', size: '38' });
  const byId = h('form', { class: 'filters', 'aria-label': t('cases.byIdLabel') },
    field(t('cases.byId'), idInput, t('cases.byIdHint')),
    h('button', { type: 'submit', class: 'secondary' }, t('cases.openById')));
  byId.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = idInput.value.trim().toLowerCase();
    if (id) location.hash = `#/cases/${encodeURIComponent(id)}`;
  });

  let who = null;
  try {
    who = await me();
  } catch {
    who = null;
  }
  view.append(
    h('div', { class: 'title-row' }, heading(t('cases.title')),
      who && who.open_cases ? h('a', { class: 'button', href: '#/cases/new', id: 'open-case' }, t('cases.open')) : null),
    h('p', { class: 'lead' }, t('cases.lead', { purpose: tv('purpose', s.purpose) })),
    h('div', { class: 'toolbar' }, filters, byId));
  const out = h('div', { 'aria-busy': 'true' });
  view.append(out);
  announce(t('cases.loading'));
  let res;
  try {
    res = await get('/v1/cases', { q, caseload: caseload === 'all' ? '' : caseload, stage, order, limit, cursor });
  } catch (e) {
    out.removeAttribute('aria-busy');
    const qe = e.status === 400 ? (e.problem.errors || []).find((x) => x.field === 'q') : null;
    if (qe) {
      qErr.hidden = false;
      qErr.textContent = hubMessage(qe.message);
      qInput.setAttribute('aria-invalid', 'true');
      describe(qInput, qErr.id);
    }
    out.append(problemView(e, t('cases.failed')));
    return t('cases.title');
  }
  out.removeAttribute('aria-busy');
  const items = res.items || [];
  announce(tn('cases.count', items.length, { page }));
  if (!items.length) {
    out.append(h('p', { class: 'muted', text: page > 1 ? t('cases.noMore') : q ? t('cases.noneFound', { q }) : t('cases.none') }));
  } else {
    const caption = [t('cases.page', { page }), q ? t('cases.matching', { q }) : '', caseload === 'mine' ? t('cases.caseloadMine') : '',
      stage ? tv('stage', stage) : '', tn('cases.count', items.length, { page })].filter(Boolean).join(' · ');
    out.append(h('table', { class: 'data cases' },
      h('caption', { text: caption }),
      h('thead', {}, h('tr', {}, [t('cases.colRef'), t('cases.colCase'), t('cases.colStage'), t('cases.colChange'), t('cases.colSections')]
        .map((c) => h('th', { scope: 'col', text: c })))),
      h('tbody', {}, items.map((c) => h('tr', { dataset: { caseId: c.case_id } },
        h('th', { scope: 'row' }, c.subject_ref
          ? h('a', { href: `#/cases/${c.case_id}`, class: 'ref' }, c.subject_ref)
          : h('span', { class: 'muted', text: t('cases.refHidden') })),
        h('td', {}, h('a', { href: `#/cases/${c.case_id}`, 'aria-label': t('cases.caseLink', { id: c.case_id }), title: c.case_id, tabindex: c.subject_ref ? '-1' : null },
          h('code', { text: shortId(c.case_id) }))),
        h('td', {}, h('span', { class: `stage stage-${c.stage}`, text: tv('stage', c.stage) })),
        h('td', {}, c.last_change ? h('time', { datetime: c.last_change, text: fmtTime(c.last_change) }) : '—'),
        h('td', { class: 'sections-cell', text: (c.sections || []).map((x) => tv('section', x)).join(', ') || '—' }))))));
  }
  const base = new URLSearchParams();
  for (const k of LIST_PARAMS) if (params.get(k)) base.set(k, params.get(k));
  const pager = h('nav', { class: 'pager', 'aria-label': t('cases.pages') });
  if (page > 1) pager.append(h('a', { href: `#/cases?${base}` }, t('pager.first')));
  if (res.next_cursor) {
    const next = new URLSearchParams(base);
    next.set('cursor', res.next_cursor);
    next.set('page', String(page + 1));
    pager.append(h('a', { href: `#/cases?${next}`, rel: 'next' }, t('pager.next')));
  }
  out.append(pager);
  return t('cases.title');
}

/** caseView renders one case: summary, the "Record" card, sections, timeline, break-glass. */
export async function caseView(view, id) {
  const s = session();
  const title = h('span', { text: shortId(id) });
  view.append(h('p', { class: 'crumbs' }, h('a', { href: '#/cases' }, t('case.back'))),
    heading(t('case.title'), ' ', title));
  announce(t('case.loading'));
  let c;
  try {
    c = await call('GET', `/v1/cases/${encodeURIComponent(id)}`);
  } catch (e) {
    view.append(caseRefusal(e, id));
    announce(t('case.notOpened'));
    return t('case.titleOf', { id: shortId(id) });
  }
  view.dataset.caseId = c.case_id;
  const label = c.subject_ref || shortId(c.case_id);
  title.textContent = label;
  let writable = null;
  try {
    writable = await call('GET', `/v1/cases/${encodeURIComponent(c.case_id)}/writable`);
  } catch {
    writable = null; // the page still reads; nothing is offered to write
  }
  const summary = h('dl', { class: 'case-summary' });
  const drawSummary = (cs) => {
    clear(summary).append(
      cs.subject_ref ? h('div', {}, h('dt', {}, t('case.subjectRef')), h('dd', { class: 'subject-ref', text: cs.subject_ref })) : null,
      h('div', {}, h('dt', {}, t('case.id')), h('dd', {}, h('code', { text: cs.case_id }))),
      h('div', {}, h('dt', {}, t('case.stage')), h('dd', {}, stageSteps(cs.stage))),
      h('div', {}, h('dt', {}, t('case.version')), h('dd', { class: 'case-version', text: tn('case.events', cs.version) })),
      cs.last_change ? h('div', {}, h('dt', {}, t('case.lastChange')), h('dd', {}, h('time', { datetime: cs.last_change, text: fmtTime(cs.last_change) }))) : null,
      h('div', {}, h('dt', {}, t('case.purpose')), h('dd', { text: tv('purpose', s.purpose) })));
  };
  drawSummary(c);
  const bg = activeBreakGlass(c.case_id);
  add(view, summary,
    bg ? h('p', { class: 'banner breakglass-banner', role: 'note' },
      h('strong', {}, t('bg.active')), ' ', t('bg.activeUntil', { time: fmtTime(bg) })) : null,
    h('p', { class: 'legend' }, t('case.legendRefused'), ' ',
      h('span', { class: 'withheld' }, t('case.legendWithheldWord')), ' ', t('case.legendWithheld'), ' ', t('case.legendTlp')));

  const toc = h('ol', { class: 'toc' });
  const content = h('div', { class: 'sections' });
  const timeline = timelineBox(c.case_id);
  const column = h('div', {});
  const boxes = new Map();
  const shared = new Map(); // section → promise of its items (null when refused), for the plan's needs
  const page = {
    caseId: c.case_id,
    // refresh reloads what a write changed: the summary, the sections it
    // feeds (all of them when null), the timeline, and what may be written.
    async refresh(sections) {
      const jobs = [
        call('GET', `/v1/cases/${encodeURIComponent(c.case_id)}`).then(drawSummary, () => {}),
        timeline.load(),
        call('GET', `/v1/cases/${encodeURIComponent(c.case_id)}/writable`).then((w) => { if (panel) panel.update(w); }, () => {}),
      ];
      for (const [name, b] of boxes) if (!sections || sections.includes(name)) jobs.push(b.load());
      await Promise.all(jobs);
    },
  };
  let panel = null;
  if (writable && (writable.events || []).length) {
    try {
      panel = await writePanel(page, writable);
      column.append(panel.el);
    } catch (e) {
      column.append(problemView(e, t('write.unavailable')));
    }
  }
  column.append(content, timeline.el);
  if (writable && writable.break_glass) column.append(breakGlassBox(c.case_id));
  view.append(h('div', { class: 'case-grid' },
    h('nav', { class: 'toc-box', 'aria-label': t('case.tocLabel') }, h('h2', { class: 'toc-title', text: t('case.sections') }), toc,
      h('ul', { class: 'toc-more' },
        panel ? h('li', {}, h('button', { type: 'button', class: 'link', on: { click: () => focusBlock('write', 'h2') } }, t('write.title'))) : null,
        h('li', {}, h('button', { type: 'button', class: 'link', on: { click: () => focusBlock('timeline') } }, t('tl.title'))))),
    column));

  const readable = new Set(c.sections || []);
  for (const name of SECTIONS) {
    const box = h('section', { class: 'sec', id: `section-${name}`, dataset: { section: name, state: 'loading' }, 'aria-labelledby': `h-${name}` });
    const tocBtn = h('button', { type: 'button', class: 'link', on: { click: () => focusBlock(`section-${name}`) } }, tv('section', name));
    const tocItem = h('li', {}, tocBtn);
    toc.append(tocItem);
    content.append(box);
    boxes.set(name, { load: () => loadSection(c.case_id, name, readable.has(name), box, tocItem, panel, shared) });
  }
  await Promise.all([...[...boxes.values()].map((b) => b.load()), timeline.load()]);
  const open = [...boxes.keys()].filter((n) => view.querySelector(`#section-${n}`).dataset.state === 'loaded').length;
  announce(t('case.loaded', { ref: label, open: fmtNumber(open), all: fmtNumber(boxes.size) }));
  return t('case.titleOf', { id: label });
}

/** caseRefusal explains a case that could not be opened: erased, unknown or hidden, or refused. */
function caseRefusal(e, id) {
  if (e.status === 410) {
    return h('div', { class: 'gone', role: 'alert' }, h('h2', {}, t('case.erasedTitle')), h('p', {}, t('case.erased')));
  }
  if (e.status === 404) {
    return h('div', { class: 'problem', role: 'alert' }, h('h2', {}, t('case.noneTitle')),
      h('p', {}, t('case.none', { id })));
  }
  if (e.status === 403) return problemView(e, '', t('case.purposeRefused', { purpose: tv('purpose', session().purpose) }));
  return problemView(e, t('case.notOpened'));
}

/**
 * loadSection asks for one section and renders it: its items, or why it is
 * refused. shared receives, under the section's name, a promise of its items
 * (null when refused): the plan's overview gives each need its level from
 * the needs section's.
 */
async function loadSection(caseId, name, listed, box, tocItem, panel, shared) {
  let done = () => {};
  shared.set(name, new Promise((resolve) => { done = resolve; }));
  const state = h('span', { class: 'sec-state', text: t('sec.loading') });
  const set = (st, text) => {
    box.dataset.state = st;
    state.textContent = text;
    tocItem.className = `toc-${st}`;
    tocItem.querySelector('button').setAttribute('aria-label', `${tv('section', name)}: ${text}`);
    const old = tocItem.querySelector('.toc-note');
    if (old) old.remove();
    if (st === 'refused') tocItem.append(h('span', { class: 'toc-note', 'aria-hidden': 'true' }, ` ${t('sec.refusedShort')}`));
  };
  const head = h('h3', { id: `h-${name}`, tabindex: '-1' }, tv('section', name), ' ', state);
  box.setAttribute('aria-busy', 'true');
  let sec;
  try {
    sec = await call('GET', `/v1/cases/${encodeURIComponent(caseId)}/sections/${name}`);
  } catch (e) {
    done(null);
    clear(box).append(head);
    box.removeAttribute('aria-busy');
    box.classList.remove('sec-breakglass');
    if (e.status === 403 || e.status === 404) {
      set('refused', t('sec.refusedState'));
      const s = session();
      const why = e.status === 404 ? t('sec.hidden')
        : t('sec.refused', { org: orgName(s.agency), purpose: tv('purpose', s.purpose) });
      box.append(h('p', { class: 'refusal' }, h('strong', {}, t('sec.notAvailable')), ' ', why),
        e.problem.detail ? h('details', { class: 'problem-details' }, h('summary', {}, t('sec.rule')), h('p', { class: 'muted', text: e.problem.detail })) : null);
    } else if (e.status === 410) {
      set('error', t('sec.erasedState'));
      box.append(h('p', { class: 'refusal', text: t('case.erased') }));
    } else {
      set('error', t('sec.errorState'));
      box.append(problemView(e));
    }
    return;
  }
  clear(box).append(head);
  box.removeAttribute('aria-busy');
  const items = sec.items || [];
  done(items);
  set('loaded', tn('sec.items', items.length));
  box.classList.toggle('sec-breakglass', !!sec.break_glass);
  if (sec.break_glass) {
    state.textContent += ` · ${t('sec.bgState')}`;
    box.append(h('p', { class: 'banner breakglass-banner' }, h('strong', {}, t('sec.bgOpened')), ' ', t('sec.bgFlagged')));
  }
  const reasons = Array.isArray(sec.reasons) ? sec.reasons : [];
  const s = session();
  const why = t('item.withheldWhy', { org: orgName(s.agency) });
  if (reasons.length) {
    box.append(h('details', { class: 'rule' }, h('summary', {}, t('sec.rule')), h('ul', {}, reasons.map((r) => h('li', { text: r })))));
  }
  const writeHere = panel ? panel.types().filter((type) => panel.sectionsOf(type).includes(name)) : [];
  if (!items.length) {
    box.append(h('p', { class: 'muted', text: t('sec.empty') }));
  } else if (name === 'plan') {
    // The plan at a glance, then its entries as recorded (folded).
    box.append(planView(items, { why, needs: shared.get('needs'), goTo: focusBlock }),
      h('details', { class: 'plan-entries' }, h('summary', {}, tn('plan.entries', items.length)), items.map((it) => itemView(it, why))));
  } else {
    for (const it of items) box.append(itemView(it, why));
  }
  if (writeHere.length) {
    box.append(h('p', { class: 'sec-write' }, writeHere.map((type) =>
      h('button', { type: 'button', class: 'link', dataset: { writeType: type }, on: { click: () => panel.open(type) } },
        t('sec.recordHere', { type: tv('event', type) })))));
  }
}

/** timelineBox is the case's timeline, oldest or newest first (the reader's choice, kept for the tab). */
function timelineBox(caseId) {
  let newest = recall('timeline-newest') === true;
  const body = h('div', { id: 'timeline-body' }, h('p', { class: 'muted', text: t('sec.loading') }));
  const toggle = h('button', { type: 'button', class: 'secondary small', id: 'timeline-order', 'aria-pressed': String(newest) }, t('tl.newestFirst'));
  const note = h('p', { class: 'muted tl-note', text: newest ? t('tl.leadNewest') : t('tl.leadOldest') });
  let items = null;
  const draw = () => {
    if (!items) return;
    clear(body).append(timelineView(items, t('item.withheldWhy', { org: orgName(session().agency) }), newest));
  };
  toggle.addEventListener('click', () => {
    newest = !newest;
    remember('timeline-newest', newest);
    toggle.setAttribute('aria-pressed', String(newest));
    note.textContent = newest ? t('tl.leadNewest') : t('tl.leadOldest');
    draw();
    announce(newest ? t('tl.leadNewest') : t('tl.leadOldest'));
  });
  const el = h('section', { class: 'sec timeline-box', id: 'timeline', 'aria-labelledby': 'h-timeline' },
    h('div', { class: 'tl-top' }, h('h3', { id: 'h-timeline', tabindex: '-1', text: t('tl.title') }), toggle), note, body);
  return {
    el,
    async load() {
      try {
        const res = await call('GET', `/v1/cases/${encodeURIComponent(caseId)}/events`);
        items = res.items || [];
        draw();
      } catch (e) {
        clear(body).append(problemView(e, t('tl.failed')));
      }
    },
  };
}

function focusBlock(id, level) {
  const box = document.getElementById(id);
  if (!box) return;
  box.scrollIntoView({ block: 'start' });
  const hd = box.querySelector(level || 'h3');
  if (hd) hd.focus({ preventScroll: true });
}

/** stageSteps shows the case's stage among all stages, in order. */
function stageSteps(stage) {
  const at = STAGES.indexOf(stage);
  return h('ol', { class: 'steps', 'aria-label': t('case.stageIs', { stage: tv('stage', stage) }) }, STAGES.map((st, i) =>
    h('li', { class: i < at ? 'done' : i === at ? 'current' : 'todo', 'aria-current': i === at ? 'step' : null, text: tv('stage', st) })));
}

/** activeBreakGlass returns the expiry of this tab's break-glass grant on a case, if still running. */
function activeBreakGlass(caseId) {
  const grants = recall('breakglass') || {};
  const exp = grants[caseId];
  return exp && new Date(exp) > new Date() ? exp : null;
}

/** breakGlassBox is the emergency-access form, folded by default; offered only where the protocol would grant it. */
function breakGlassBox(caseId) {
  const just = h('textarea', { id: 'bg-justification', rows: '3', minlength: '20', 'aria-required': 'true' });
  const count = h('span', { class: 'hint', 'aria-live': 'polite' }, tn('bg.chars', 0));
  just.addEventListener('input', () => { count.textContent = tn('bg.chars', just.value.trim().length); });
  const out = h('div', { class: 'bg-out' });
  const submit = h('button', { type: 'submit', class: 'danger' }, t('bg.submit'));
  const form = h('form', { novalidate: true }, field(t('bg.justification'), just, t('bg.justificationHint')), h('p', {}, count), submit, out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(out);
    const text = just.value.trim();
    if (text.length < 20) {
      out.append(problemView({ problem: { title: '', detail: '', errors: [{ field: 'justification', message: `must be at least 20 characters (${text.length})` }] }, status: 400 }, '', t('bg.tooShort')));
      just.focus();
      return;
    }
    submit.disabled = true;
    try {
      const res = await call('POST', `/v1/cases/${encodeURIComponent(caseId)}/break-glass`, { justification: text });
      const grants = recall('breakglass') || {};
      grants[caseId] = res.expires_at;
      remember('breakglass', grants);
      out.append(h('p', { class: 'ok', role: 'status' }, h('strong', {}, t('bg.granted', { time: fmtTime(res.expires_at) })), ' ', t('bg.reloading')));
      announce(t('bg.granted', { time: fmtTime(res.expires_at) }));
      setTimeout(() => window.dispatchEvent(new CustomEvent('liaison:refresh')), 600);
    } catch (e) {
      out.append(problemView(e, t('bg.refused')));
      submit.disabled = false;
    }
  });
  return h('details', { class: 'breakglass', id: 'breakglass' },
    h('summary', {}, t('bg.title')),
    h('p', {}, t('bg.explain')),
    form);
}
