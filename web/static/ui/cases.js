// The case list (#/cases) and the case page (#/cases/ID): its sections — what
// the reader may see, what is withheld and why — its timeline, and the
// break-glass form.

import { SECTIONS, STAGES, call, get, recall, remember, session } from './api.js';
import { add, announce, capitalise, clear, field, fmtTime, h, humanise, problemView, select, shortId } from './dom.js';
import { itemView, timelineView } from './items.js';

/** caseListView renders one page of the cases the user may read. */
export async function caseListView(view, params) {
  const s = session();
  const stage = params.get('stage') || '';
  const limit = params.get('limit') || '50';
  const cursor = params.get('cursor') || '';
  const page = Number(params.get('page') || '1');

  const stageSel = select('stage', [['', 'All stages'], ...STAGES.map((x) => [x, humanise(x)])], stage);
  const limitSel = select('limit', [['25', '25'], ['50', '50'], ['100', '100'], ['250', '250']], limit);
  const filters = h('form', { class: 'filters', 'aria-label': 'Filter cases' },
    field('Stage', stageSel), field('Cases per page', limitSel),
    h('button', { type: 'submit' }, 'Show cases'));
  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = '#/cases?' + new URLSearchParams({ stage: stageSel.value, limit: limitSel.value });
  });

  const idInput = h('input', { type: 'text', name: 'case', autocomplete: 'off', spellcheck: 'false', size: '38' });
  const byId = h('form', { class: 'filters', 'aria-label': 'Open a case by id' },
    field('Case id', idInput, 'The full id, e.g. from a case conference invitation.'),
    h('button', { type: 'submit', class: 'secondary' }, 'Open case'));
  byId.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = idInput.value.trim().toLowerCase();
    if (id) location.hash = `#/cases/${encodeURIComponent(id)}`;
  });

  view.append(h('h1', { tabindex: '-1', text: 'Cases' }),
    h('p', { class: 'lead' }, 'The cases you may read for the purpose ', h('strong', { text: s.purpose }),
      ', in the order they were opened. Cases you may not see are not listed.'),
    h('div', { class: 'toolbar' }, filters, byId));
  const out = h('div', { 'aria-busy': 'true' });
  view.append(out);
  announce('Loading cases…');
  let res;
  try {
    res = await get('/v1/cases', { stage, limit, cursor });
  } catch (e) {
    out.append(problemView(e, 'The cases could not be listed'));
    out.removeAttribute('aria-busy');
    return 'Cases';
  }
  out.removeAttribute('aria-busy');
  const items = res.items || [];
  announce(`${items.length} cases on page ${page}.`);
  if (!items.length) {
    out.append(h('p', { class: 'muted', text: page > 1 ? 'No more cases.' : 'No case you may read matches.' }));
  } else {
    out.append(h('table', { class: 'data cases' },
      h('caption', {}, `Page ${page}`, stage ? `, stage ${stage}` : '', ` — ${items.length} cases`),
      h('thead', {}, h('tr', {}, ['Case', 'Stage', 'Version', 'Sections you may read'].map((c) => h('th', { scope: 'col', text: c })))),
      h('tbody', {}, items.map((c) => h('tr', {},
        h('th', { scope: 'row' }, h('a', { href: `#/cases/${c.case_id}`, 'aria-label': `Case ${c.case_id}`, title: c.case_id },
          h('code', { text: shortId(c.case_id) }))),
        h('td', {}, h('span', { class: `stage stage-${c.stage}`, text: humanise(c.stage) })),
        h('td', { class: 'num', text: String(c.version) }),
        h('td', { class: 'sections-cell', text: (c.sections || []).join(', ') || '—' }))))));
  }
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of cases' });
  if (page > 1) pager.append(h('a', { href: '#/cases?' + new URLSearchParams({ stage, limit }) }, '« First page'));
  if (res.next_cursor) {
    pager.append(h('a', { href: '#/cases?' + new URLSearchParams({ stage, limit, cursor: res.next_cursor, page: String(page + 1) }) }, 'Next page »'));
  }
  out.append(pager);
  return 'Cases';
}

/** caseView renders one case: summary, sections, timeline, break-glass. */
export async function caseView(view, id) {
  const s = session();
  view.append(h('p', { class: 'crumbs' }, h('a', { href: '#/cases' }, '← All cases')),
    h('h1', { tabindex: '-1' }, 'Case ', h('code', { text: shortId(id) })));
  announce('Loading the case…');
  let c;
  try {
    c = await call('GET', `/v1/cases/${encodeURIComponent(id)}`);
  } catch (e) {
    view.append(caseRefusal(e, id));
    announce('The case could not be opened.');
    return `Case ${shortId(id)}`;
  }
  view.dataset.caseId = c.case_id;
  const readable = new Set(c.sections || []);
  const bg = activeBreakGlass(c.case_id);
  add(view,
    h('dl', { class: 'case-summary' },
      h('div', {}, h('dt', {}, 'Case id'), h('dd', {}, h('code', { text: c.case_id }))),
      h('div', {}, h('dt', {}, 'Stage'), h('dd', {}, stageSteps(c.stage))),
      h('div', {}, h('dt', {}, 'Version'), h('dd', { text: `${c.version} events` })),
      h('div', {}, h('dt', {}, 'Your purpose'), h('dd', { text: s.purpose }))),
    bg ? h('p', { class: 'banner breakglass-banner', role: 'note' },
      h('strong', {}, 'Break-glass active'), ` until ${fmtTime(bg)}: the sections it opens are shown; every read is flagged in the access log.`) : null,
    h('p', { class: 'legend' }, 'Sections you may not read are greyed, with the rule that refuses them. ',
      h('span', { class: 'withheld' }, 'Withheld'), ' marks the fields the protocol kept from you. ',
      'Badges show the Traffic Light Protocol label of each item.'));

  const toc = h('ol', { class: 'toc' });
  const content = h('div', { class: 'sections' });
  view.append(h('div', { class: 'case-grid' },
    h('nav', { class: 'toc-box', 'aria-label': 'Sections of this case' }, h('h2', { class: 'toc-title', text: 'Sections' }), toc,
      h('p', {}, h('button', { type: 'button', class: 'link', on: { click: () => focusBlock('timeline') } }, 'Timeline'))),
    h('div', {}, content, timelineBox(), breakGlassBox(c.case_id))));

  const loads = SECTIONS.map((name) => {
    const box = h('section', { class: 'sec', id: `section-${name}`, dataset: { section: name, state: 'loading' }, 'aria-labelledby': `h-${name}` },
      h('h3', { id: `h-${name}`, tabindex: '-1' }, humanise(name), ' ', h('span', { class: 'sec-state', text: 'loading…' })));
    content.append(box);
    const tocBtn = h('button', { type: 'button', class: 'link', on: { click: () => focusBlock(`section-${name}`) } }, humanise(name));
    const tocItem = h('li', {}, tocBtn);
    toc.append(tocItem);
    return loadSection(c.case_id, name, readable.has(name), box, tocItem);
  });
  const timeline = loadTimeline(c.case_id, view.querySelector('#timeline-body'));
  await Promise.all([...loads, timeline]);
  const open = SECTIONS.filter((n) => view.querySelector(`#section-${n}`).dataset.state === 'loaded').length;
  announce(`Case ${shortId(c.case_id)} loaded: ${open} of ${SECTIONS.length} sections readable.`);
  return `Case ${shortId(c.case_id)}`;
}

/** caseRefusal explains a case that could not be opened: erased, unknown or hidden, or refused. */
function caseRefusal(e, id) {
  if (e.status === 410) {
    return h('div', { class: 'gone', role: 'alert' }, h('h2', {}, 'This case was erased'),
      h('p', {}, 'Its content was crypto-shredded on a legal basis recorded by the data-protection officer: nobody can read it again. ',
        'The access log keeps its records, which hold ids, never content.'));
  }
  if (e.status === 404) {
    return h('div', { class: 'problem', role: 'alert' }, h('h2', {}, 'No such case'),
      h('p', {}, 'There is no case ', h('code', { text: id }), ' that you may see. The hub answers the same for a case that does not exist ',
        'and one the protocol hides from you (for example without the participant\'s consent).'));
  }
  return problemView(e, 'The case could not be opened');
}

/** loadSection asks for one section and renders it: its items, or why it is refused. */
async function loadSection(caseId, name, listed, box, tocItem) {
  const state = box.querySelector('.sec-state');
  const set = (st, label) => {
    box.dataset.state = st;
    state.textContent = label;
    tocItem.className = `toc-${st}`;
    tocItem.querySelector('button').setAttribute('aria-label', `${humanise(name)}: ${label}`);
  };
  let sec;
  try {
    sec = await call('GET', `/v1/cases/${encodeURIComponent(caseId)}/sections/${name}`);
  } catch (e) {
    if (e.status === 403 || e.status === 404) {
      set('refused', 'not available to you');
      box.append(h('p', { class: 'refusal' }, h('strong', {}, 'Not available to you. '), refusalReason(e, name, listed)));
    } else if (e.status === 410) {
      set('error', 'erased');
      box.append(h('p', { class: 'refusal', text: 'The case was erased: its content can no longer be read.' }));
    } else {
      set('error', 'could not be loaded');
      box.append(problemView(e));
    }
    return;
  }
  const items = sec.items || [];
  set('loaded', items.length === 1 ? '1 item' : `${items.length} items`);
  if (sec.break_glass) {
    box.classList.add('sec-breakglass');
    state.textContent += ' · break-glass';
    box.append(h('p', { class: 'banner breakglass-banner' }, h('strong', {}, 'Opened under your break-glass grant. '),
      'This read is flagged in the access log for the oversight board.'));
  }
  const reasons = Array.isArray(sec.reasons) ? sec.reasons : [];
  if (reasons.length) box.append(h('p', { class: 'rule', text: `Rule: ${reasons.map(capitalise).join('; ')}.` }));
  if (!items.length) {
    box.append(h('p', { class: 'muted', text: 'No items you may read in this section.' }));
    return;
  }
  const why = withheldWhy(name, reasons);
  for (const it of items) box.append(itemView(it, why));
}

/**
 * refusalReason is the hub's reason for refusing a section: the problem's
 * detail, which names the rule when the hub gives it.
 */
function refusalReason(e, name, listed) {
  const detail = e.problem && e.problem.detail ? capitalise(e.problem.detail) + '.' : '';
  if (e.status === 404) return 'The hub does not show this section to you.';
  if (!listed && /^The sharing protocol does not allow this\.?$/i.test(detail)) {
    const s = session();
    return `The sharing protocol does not open the ${name} section of this case to ${s.agency} for the purpose ${s.purpose}.`;
  }
  return detail || 'The sharing protocol does not allow this.';
}

/** withheldWhy says which rule withheld an item's fields: the hub's section rule when it gives one. */
function withheldWhy(name, reasons) {
  const rule = reasons.filter((r) => /summary|field|withheld|redact/i.test(r));
  if (rule.length) return `Rule: ${rule.map(capitalise).join('; ')}.`;
  return `The protocol shares only some fields of ${name} items with ${session().agency}.`;
}

function timelineBox() {
  return h('section', { class: 'sec timeline-box', id: 'timeline', 'aria-labelledby': 'h-timeline' },
    h('h3', { id: 'h-timeline', tabindex: '-1', text: 'Timeline' }),
    h('p', { class: 'muted', text: 'Every event of this case you may read, oldest first.' }),
    h('div', { id: 'timeline-body' }, h('p', { class: 'muted', text: 'Loading…' })));
}

async function loadTimeline(caseId, body) {
  try {
    const res = await call('GET', `/v1/cases/${encodeURIComponent(caseId)}/events`);
    clear(body).append(timelineView(res.items || [], `The protocol shares only some fields of this item with ${session().agency}.`));
  } catch (e) {
    clear(body).append(problemView(e, 'The timeline could not be loaded'));
  }
}

function focusBlock(id) {
  const box = document.getElementById(id);
  if (!box) return;
  box.scrollIntoView({ block: 'start' });
  const heading = box.querySelector('h3');
  if (heading) heading.focus({ preventScroll: true });
}

/** stageSteps shows the case's stage among all stages, in order. */
function stageSteps(stage) {
  const at = STAGES.indexOf(stage);
  return h('ol', { class: 'steps', 'aria-label': `Stage: ${stage}` }, STAGES.map((st, i) =>
    h('li', { class: i < at ? 'done' : i === at ? 'current' : 'todo', 'aria-current': i === at ? 'step' : null, text: humanise(st) })));
}

/** activeBreakGlass returns the expiry of this tab's break-glass grant on a case, if still running. */
function activeBreakGlass(caseId) {
  const grants = recall('breakglass') || {};
  const exp = grants[caseId];
  return exp && new Date(exp) > new Date() ? exp : null;
}

/** breakGlassBox is the emergency-access form, folded by default. */
function breakGlassBox(caseId) {
  const just = h('textarea', { id: 'bg-justification', rows: '3', minlength: '20', required: true });
  const count = h('span', { class: 'hint', 'aria-live': 'polite' }, '0 characters; at least 20.');
  just.addEventListener('input', () => { count.textContent = `${just.value.trim().length} characters; at least 20.`; });
  const out = h('div', { class: 'bg-out' });
  const submit = h('button', { type: 'submit', class: 'danger' }, 'Invoke break-glass');
  const form = h('form', { novalidate: true }, field('Justification (at least 20 characters)', just,
    'Say what emergency requires this access. It is recorded in the case\'s log.'), h('p', {}, count), submit, out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(out);
    const text = just.value.trim();
    if (text.length < 20) {
      out.append(problemView({ problem: { title: 'The justification is too short', errors: [{ field: 'justification', message: `has ${text.length} characters; at least 20 are needed` }] } }));
      just.focus();
      return;
    }
    submit.disabled = true;
    try {
      const res = await call('POST', `/v1/cases/${encodeURIComponent(caseId)}/break-glass`, { justification: text });
      const grants = recall('breakglass') || {};
      grants[caseId] = res.expires_at;
      remember('breakglass', grants);
      out.append(h('p', { class: 'ok', role: 'status' }, h('strong', {}, 'Break-glass granted'), ` until ${fmtTime(res.expires_at)}. Reloading the case…`));
      announce(`Break-glass granted until ${fmtTime(res.expires_at)}.`);
      setTimeout(() => window.dispatchEvent(new CustomEvent('liaison:refresh')), 600);
    } catch (e) {
      out.append(problemView(e, 'Break-glass refused'));
      submit.disabled = false;
    }
  });
  return h('details', { class: 'breakglass', id: 'breakglass' },
    h('summary', {}, 'Emergency access (break-glass)'),
    h('p', {}, 'In an emergency, break-glass opens every section of this case except counselling to you alone for 60 minutes, ',
      'whatever the consent and stage — but never others\' TLP:AMBER+STRICT or TLP:RED items. Only some roles may invoke it; ',
      'the invocation and every read under it are flagged for the oversight board.'),
    form);
}
