// Four-eyes erasure for data-protection officers (#/erasures): find a case
// by id or subject reference (GET /v1/erasures/cases; no case content),
// request its erasure with a legal basis and a reference (POST
// /v1/cases/{id}/erase), see the requests pending and the register (GET
// /v1/erasures), and confirm (#/erasures/REQUEST: typing the case id and
// acknowledging that it cannot be undone) or cancel another officer's
// request. The requester is not offered "confirm" on their own request; if
// they try anyway, the hub's refusal is shown in plain words.

import { call, get, me, openapi } from './api.js';
import { announce, clear, field, h, heading, problemView, select, shortId, uid } from './dom.js';
import { fmtRelative, fmtTime, orgName, t, tn, tv } from './i18n.js';
import { resolver } from './schemaform.js';

/** STATUSES are the register's statuses (docs/api.md, "Erasure"). */
const STATUSES = ['pending', 'expired', 'cancelled', 'confirmed', 'retention'];

/** own reports whether the signed-in officer made request e. */
function own(e, who) {
  const by = e.requested_by || {};
  return by.agency === who.agency && by.sub === who.sub && (!by.issuer || by.issuer === who.issuer);
}

/** statusBadge shows an erasure status. */
function statusBadge(status) {
  return h('span', { class: `erasure-status status-${status}`, text: tv('erasure.status', status) });
}

/** officer names an officer: subject and organisation. */
function officer(o) {
  return o ? t('erasure.officer', { sub: o.sub, org: orgName(o.agency) }) : '—';
}

/** erasuresView is the officer's page: find and request, pending requests, the register. */
export async function erasuresView(view, params) {
  view.append(heading(t('erasure.title')), h('p', { class: 'lead', text: t('erasure.lead') }));
  let who;
  let doc;
  try {
    [who, doc] = await Promise.all([me(), openapi()]);
  } catch (e) {
    view.append(problemView(e));
    return t('erasure.title');
  }
  const canDecide = ((who.services || {})['erasure.decide'] || []).length > 0;
  const bases = (resolver(doc)({ $ref: '#/components/schemas/LegalBasis' }).enum) || [];
  const pendingBox = h('section', { class: 'card', id: 'pending', 'aria-labelledby': 'pending-h' });
  const registerBox = h('section', { class: 'card', id: 'register', 'aria-labelledby': 'register-h' });
  const reload = () => Promise.all([pendingList(pendingBox, who, canDecide), register(registerBox, params)]);
  view.append(findBox(who, bases, canDecide, params, reload), pendingBox, registerBox);
  await reload();
  return t('erasure.title');
}

/** findBox finds a case by id or subject reference and offers to request its erasure. */
function findBox(who, bases, canDecide, params, reload) {
  const by = select('by', [['subject_ref', t('erasure.bySubject')], ['case_id', t('erasure.byId')]], params.get('by') || 'subject_ref');
  const value = h('input', { type: 'text', name: 'find', autocomplete: 'off', spellcheck: 'false', value: params.get('find') || '' });
  const out = h('div', { class: 'find-out', 'aria-live': 'polite' });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': t('erasure.findLabel') },
    field(t('erasure.findBy'), by), field(t('erasure.find'), value, t('erasure.findHint')), h('button', { type: 'submit' }, t('erasure.search')));
  const search = async () => {
    clear(out);
    const v = value.value.trim();
    if (!v) return;
    let res;
    try {
      res = await get('/v1/erasures/cases', { [by.value]: by.value === 'case_id' ? v.toLowerCase() : v });
    } catch (e) {
      out.append(problemView(e, t('erasure.findFailed')));
      return;
    }
    const items = res.items || [];
    announce(tn('erasure.found', items.length));
    if (!items.length) {
      out.append(h('p', { class: 'muted', text: t('erasure.notFound') }));
      return;
    }
    out.append(h('table', { class: 'data erasable' },
      h('caption', { text: tn('erasure.found', items.length) }),
      h('thead', {}, h('tr', {}, [t('erasure.colCase'), t('erasure.colOpened'), t('erasure.colClosed'), t('erasure.colPending'), t('erasure.colAction')]
        .map((c) => h('th', { scope: 'col', text: c })))),
      h('tbody', {}, items.map((c) => {
        const act = h('td', {});
        if (c.pending) act.append(h('span', { class: 'muted', text: t('erasure.alreadyPending') }));
        else if (canDecide) {
          const btn = h('button', { type: 'button', class: 'secondary small request-erasure', dataset: { caseId: c.case_id } }, t('erasure.request'));
          btn.addEventListener('click', () => {
            btn.disabled = true;
            out.append(requestForm(c.case_id, bases, reload));
          });
          act.append(btn);
        }
        return h('tr', { dataset: { caseId: c.case_id } }, h('th', { scope: 'row' }, h('code', { text: c.case_id })),
          h('td', {}, h('time', { datetime: c.opened_at, text: fmtTime(c.opened_at) })),
          h('td', { text: c.closed ? t('form.yes') : t('form.no') }),
          h('td', {}, c.pending ? statusBadge(c.pending.status) : '—'), act);
      }))));
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    search();
  });
  if (value.value) search();
  return h('section', { class: 'card', 'aria-labelledby': 'find-h' }, h('h2', { id: 'find-h', text: t('erasure.findTitle') }), form, out);
}

/** requestForm asks for the legal basis and reference of an erasure request. */
function requestForm(caseId, bases, reload) {
  const hid = uid('rq');
  const basis = select('legal_basis', [['', t('form.choose')], ...bases.map((b) => [b, tv('legal', b)])], '');
  basis.setAttribute('aria-required', 'true');
  const ref = h('input', { type: 'text', name: 'reference', maxlength: '200', autocomplete: 'off' });
  const out = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, t('erasure.requestSubmit'));
  const form = h('form', { class: 'card request-form', novalidate: true, 'aria-labelledby': hid, dataset: { caseId } },
    h('h3', { id: hid, tabindex: '-1', text: t('erasure.requestTitle', { id: shortId(caseId) }) }),
    h('p', { class: 'muted', text: t('erasure.requestLead') }),
    field(t('erasure.legalBasis'), basis), field(t('erasure.reference'), ref, t('erasure.referenceHint')), submit, out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(out);
    submit.disabled = true;
    const body = { legal_basis: basis.value };
    if (ref.value.trim()) body.reference = ref.value.trim();
    try {
      const e = await call('POST', `/v1/cases/${encodeURIComponent(caseId)}/erase`, body);
      clear(form).append(h('p', { class: 'ok', role: 'status', tabindex: '-1' },
        h('strong', { text: t('erasure.requested') }), ' ', t('erasure.requestedUntil', { time: fmtTime(e.expires_at) })));
      form.querySelector('p').focus();
      announce(t('erasure.requested'));
      await reload();
    } catch (e) {
      out.append(problemView(e, '', e.status === 409 ? t('erasure.pendingAlready') : ''));
      submit.disabled = false;
    }
  });
  setTimeout(() => form.querySelector('h3').focus(), 0);
  return form;
}

/** pendingList shows the requests waiting for a second officer. */
async function pendingList(box, who, canDecide) {
  clear(box).append(h('h2', { id: 'pending-h', text: t('erasure.pendingTitle') }), h('p', { class: 'muted', text: t('erasure.pendingLead') }));
  let res;
  try {
    res = await get('/v1/erasures', { status: 'pending' });
  } catch (e) {
    box.append(problemView(e, t('erasure.listFailed')));
    return;
  }
  const items = res.items || [];
  if (!items.length) {
    box.append(h('p', { class: 'muted', text: t('erasure.nonePending') }));
    return;
  }
  box.append(h('ul', { class: 'pending-list' }, items.map((e) => {
    const mine = own(e, who);
    const actions = h('div', { class: 'buttons' });
    if (canDecide && !mine) actions.append(h('a', { class: 'button', href: `#/erasures/${e.request_id}`, dataset: { confirm: e.request_id } }, t('erasure.reviewConfirm')));
    if (canDecide) actions.append(cancelButton(e, () => pendingList(box, who, canDecide)));
    return h('li', { class: 'card pending', dataset: { requestId: e.request_id, caseId: e.case_id, own: String(mine) } },
      entryDetails(e),
      mine ? h('p', { class: 'own-note', text: t('erasure.ownNote') }) : null,
      actions);
  })));
}

/** entryDetails lists what a request says. */
function entryDetails(e) {
  return h('dl', { class: 'kv' },
    h('dt', {}, t('erasure.colCase')), h('dd', {}, h('code', { text: e.case_id })),
    h('dt', {}, t('erasure.status')), h('dd', {}, statusBadge(e.status)),
    h('dt', {}, t('erasure.legalBasis')), h('dd', { text: tv('legal', e.legal_basis) }),
    h('dt', {}, t('erasure.reference')), h('dd', { text: e.reference || '—' }),
    h('dt', {}, t('erasure.requestedBy')), h('dd', { text: officer(e.requested_by) }),
    h('dt', {}, t('erasure.requestedAt')), h('dd', {}, h('time', { datetime: e.requested_at, text: fmtTime(e.requested_at) })),
    e.expires_at ? [h('dt', {}, t('erasure.expiresAt')), h('dd', {}, h('time', { datetime: e.expires_at, text: fmtTime(e.expires_at) }),
      e.status === 'pending' ? ` (${fmtRelative(e.expires_at)})` : '')] : null,
    e.decided_by ? [h('dt', {}, t('erasure.decidedBy')), h('dd', { text: `${officer(e.decided_by)}, ${fmtTime(e.decided_at)}` })] : null);
}

/** cancelButton cancels a pending request (the requester may, too). */
function cancelButton(e, after) {
  const btn = h('button', { type: 'button', class: 'secondary cancel-erasure', dataset: { requestId: e.request_id } }, t('erasure.cancel'));
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try {
      await call('POST', `/v1/erasures/${encodeURIComponent(e.request_id)}/cancel`);
      announce(t('erasure.cancelled'));
      await after();
    } catch (err) {
      btn.after(problemView(err, '', err.status === 409 ? t('erasure.notPending') : ''));
      btn.disabled = false;
    }
  });
  return btn;
}

/** register lists every request and what became of it, filtered by status. */
async function register(box, params) {
  const status = params.get('status') || 'all';
  const sel = select('status', [['all', t('erasure.allStatuses')], ...STATUSES.map((s) => [s, tv('erasure.status', s)])], status);
  const form = h('form', { class: 'filters', 'aria-label': t('erasure.registerFilter') }, field(t('erasure.status'), sel), h('button', { type: 'submit', class: 'secondary' }, t('erasure.showRegister')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = `#/erasures?${new URLSearchParams({ status: sel.value })}`;
  });
  clear(box).append(h('h2', { id: 'register-h', text: t('erasure.registerTitle') }), form);
  let res;
  try {
    res = await get('/v1/erasures', { status });
  } catch (e) {
    box.append(problemView(e, t('erasure.listFailed')));
    return;
  }
  const items = res.items || [];
  if (!items.length) {
    box.append(h('p', { class: 'muted', text: t('erasure.registerEmpty') }));
    return;
  }
  box.append(h('div', { class: 'table-wrap' }, h('table', { class: 'data register' },
    h('caption', { text: tn('erasure.entries', items.length) }),
    h('thead', {}, h('tr', {}, [t('erasure.colCase'), t('erasure.status'), t('erasure.legalBasis'), t('erasure.reference'), t('erasure.requestedBy'),
      t('erasure.requestedAt'), t('erasure.expiresAt'), t('erasure.decidedBy')].map((c) => h('th', { scope: 'col', text: c })))),
    h('tbody', {}, items.map((e) => h('tr', { dataset: { requestId: e.request_id, status: e.status } },
      h('th', { scope: 'row' }, h('code', { title: e.case_id, text: shortId(e.case_id) })), h('td', {}, statusBadge(e.status)),
      h('td', { text: tv('legal', e.legal_basis) }), h('td', { text: e.reference || '—' }), h('td', { text: officer(e.requested_by) }),
      h('td', {}, h('time', { datetime: e.requested_at, text: fmtTime(e.requested_at) })),
      h('td', {}, e.expires_at ? h('time', { datetime: e.expires_at, text: fmtTime(e.expires_at) }) : '—'),
      h('td', { text: e.decided_by ? `${officer(e.decided_by)}, ${fmtTime(e.decided_at)}` : '—' })))))));
}

/**
 * confirmView is the second officer's confirmation of one request: what it
 * says, and a confirmation that asks for the case id typed and the
 * acknowledgement that erasure cannot be undone.
 */
export async function confirmView(view, requestId) {
  view.append(h('p', { class: 'crumbs' }, h('a', { href: '#/erasures' }, t('erasure.back'))), heading(t('erasure.confirmTitle')));
  let who;
  let res;
  try {
    [who, res] = await Promise.all([me(), get('/v1/erasures', { status: 'all' })]);
  } catch (e) {
    view.append(problemView(e, t('erasure.listFailed')));
    return t('erasure.confirmTitle');
  }
  const e = (res.items || []).find((x) => x.request_id === requestId);
  if (!e) {
    view.append(h('p', { class: 'problem', role: 'alert', text: t('erasure.noRequest') }));
    return t('erasure.confirmTitle');
  }
  view.append(h('section', { class: 'card' }, entryDetails(e)));
  if (e.status !== 'pending') {
    view.append(h('p', { class: 'problem', role: 'alert', text: t('erasure.notPendingNow', { status: tv('erasure.status', e.status) }) }));
    return t('erasure.confirmTitle');
  }
  const mine = own(e, who);
  const typed = h('input', { type: 'text', name: 'case_id', autocomplete: 'off', spellcheck: 'false', size: '38', 'aria-required': 'true' });
  const ack = h('input', { type: 'checkbox', id: uid('ack'), name: 'understood' });
  const out = h('div', { class: 'confirm-out' });
  const submit = h('button', { type: 'submit', class: 'danger', id: 'confirm-erasure' }, t('erasure.confirm'));
  const form = h('form', { class: 'card confirm-form', novalidate: true },
    h('h2', { text: t('erasure.confirmHeading') }),
    h('p', { text: t('erasure.confirmLead') }),
    mine ? h('p', { class: 'banner own-warning', role: 'note', text: t('erasure.ownWarning') }) : null,
    field(t('erasure.typeId'), typed, t('erasure.typeIdHint', { id: e.case_id })),
    h('div', { class: 'check-row' }, ack, h('label', { for: ack.id, text: t('erasure.understand') })),
    h('div', { class: 'buttons' }, submit, h('a', { class: 'button secondary', href: '#/erasures' }, t('write.cancel'))), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(out);
    if (typed.value.trim().toLowerCase() !== e.case_id || !ack.checked) {
      out.append(h('p', { class: 'problem', role: 'alert', text: t('erasure.confirmIncomplete') }));
      (typed.value.trim().toLowerCase() !== e.case_id ? typed : ack).focus();
      return;
    }
    submit.disabled = true;
    try {
      await call('POST', `/v1/erasures/${encodeURIComponent(requestId)}/confirm`);
      clear(form).append(h('p', { class: 'ok', role: 'status', tabindex: '-1' }, h('strong', { text: t('erasure.erased') }), ' ', t('erasure.erasedDetail')),
        h('p', {}, h('a', { href: '#/erasures' }, t('erasure.back'))));
      form.querySelector('p').focus();
      announce(t('erasure.erased'));
    } catch (err) {
      let sentence = '';
      if (err.status === 403) sentence = t('erasure.ownRefused');
      else if (err.status === 409) sentence = t('erasure.notPending');
      else if (err.status === 410) sentence = t('erasure.goneAlready');
      out.append(problemView(err, '', sentence));
      submit.disabled = false;
    }
  });
  view.append(form);
  return t('erasure.confirmTitle');
}
