// Feed subscriptions (#/subscriptions): an organisation that may follow a
// feed (GET /v1/me, services.feed) registers the webhook endpoints its feed is
// pushed to (POST /v1/subscriptions; the signing secret shown this once),
// sees each of its organisation's subscriptions — its state, paused after
// repeated failure, with the last result — and its delivery log (GET
// /v1/subscriptions/{id}/deliveries: the last 100 attempts, newest first),
// resumes a paused one and deletes one after a confirmation
// (docs/api.md, "Webhooks").

import { call, get, me, session } from './api.js';
import { announce, clear, describe, field, h, heading, hubMessage, problemView, uid, undescribe } from './dom.js';
import { fmtNumber, fmtTime, fmtTimeLong, orgName, t, tn, tv } from './i18n.js';

/** feedPurposes lists the purposes the signed-in person may follow a feed for. */
export function feedPurposes(who) {
  return (who && who.services && who.services.feed) || [];
}

/** urlMessage puts the hub's word on a webhook URL into the reader's language. */
function urlMessage(msg) {
  const m = String(msg || '');
  if (m.startsWith('must be https')) return t('subs.errHttps');
  if (m === 'must be an absolute URL') return t('subs.errAbsolute');
  if (m === 'must not hold credentials') return t('subs.errCredentials');
  return hubMessage(m);
}

/** errorSlot is a field's error paragraph, with show and hide that keep aria-invalid and aria-describedby in step. */
function errorSlot(control) {
  const el = h('p', { class: 'field-error', id: uid('err'), hidden: true });
  return {
    el,
    show(msg) {
      el.hidden = false;
      el.textContent = msg;
      control.setAttribute('aria-invalid', 'true');
      describe(control, el.id);
    },
    hide() {
      el.hidden = true;
      el.textContent = '';
      control.removeAttribute('aria-invalid');
      undescribe(control, el.id);
    },
  };
}

/** subscriptionsView draws the page: the form to register an endpoint, then the organisation's subscriptions. */
export async function subscriptionsView(view) {
  view.append(heading(t('subs.title')), h('p', { class: 'lead', text: t('subs.lead') }));
  let who;
  try {
    who = await me();
  } catch (e) {
    view.append(problemView(e));
    return t('subs.title');
  }
  const purposes = feedPurposes(who);
  const listBox = h('section', { class: 'subs-list', 'aria-labelledby': 'subs-list-h' });
  const redraw = (focus) => drawList(listBox, focus);
  view.append(registerForm(purposes, redraw), listBox);
  await drawList(listBox);
  return t('subs.title');
}

/** registerForm registers an endpoint: its URL and the purpose of the feed it receives. */
function registerForm(purposes, redraw) {
  const s = session() || {};
  const url = h('input', {
    type: 'url', name: 'url', id: 'subs-url', 'aria-required': 'true', autocomplete: 'off', spellcheck: 'false',
    inputmode: 'url', placeholder: 'https://', size: '48', maxlength: '2048',
  });
  const purpose = h('select', { name: 'purpose', id: 'subs-purpose' },
    purposes.map((p) => h('option', { value: p, selected: p === s.purpose }, tv('purpose', p))));
  const urlErr = errorSlot(url);
  const purposeErr = errorSlot(purpose);
  const urlField = field(t('subs.url'), url, t('subs.urlHint'));
  urlField.append(urlErr.el);
  const purposeField = field(t('subs.purpose'), purpose, t('subs.purposeHint'));
  purposeField.append(purposeErr.el);
  const out = h('div', { class: 'subs-out' });
  const secret = h('div', { class: 'subs-secret-slot' });
  const submit = h('button', { type: 'submit' }, t('subs.register'));
  const form = h('form', { class: 'subs-form', novalidate: true, 'aria-labelledby': 'subs-new-h' }, urlField, purposeField, submit, out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(out);
    urlErr.hide();
    purposeErr.hide();
    const u = url.value.trim();
    if (!u) {
      urlErr.show(t('subs.urlRequired'));
      url.focus();
      return;
    }
    submit.disabled = true;
    try {
      const sub = await call('POST', '/v1/subscriptions', { url: u, purpose: purpose.value });
      url.value = '';
      clear(secret).append(secretBox(sub, () => url.focus()));
      announce(t('subs.registered'));
      await redraw();
      secret.querySelector('h3').focus();
    } catch (e) {
      let first = null;
      for (const fe of (e.problem && e.problem.errors) || []) {
        if (fe.field === 'url') {
          urlErr.show(urlMessage(fe.message));
          first = first || url;
        } else if (fe.field === 'purpose') {
          purposeErr.show(hubMessage(fe.message));
          first = first || purpose;
        }
      }
      let sentence = '';
      if (e.status === 403) sentence = t('subs.forbidden');
      else if (e.status === 409) sentence = t('subs.tooMany');
      else if (first) sentence = t('subs.fixFields');
      out.append(problemView(e, t('subs.registerFailed'), sentence));
      if (first) first.focus();
    } finally {
      submit.disabled = false;
    }
  });
  return h('section', { class: 'card', 'aria-labelledby': 'subs-new-h' },
    h('h2', { id: 'subs-new-h', text: t('subs.newTitle') }),
    purposes.length ? [h('p', { class: 'muted', text: t('subs.newLead') }), form] : h('p', { class: 'muted', text: t('subs.noFeed') }),
    secret);
}

/**
 * secretBox shows a new subscription's signing secret, the one time the hub
 * gives it: in a read-only field to copy, with the warning that it will not
 * be shown again. "I have stored it" removes it from the page.
 */
function secretBox(sub, after) {
  const hid = uid('secret-h');
  const value = h('input', {
    type: 'text', id: 'subs-secret', name: 'secret', readonly: true, value: sub.secret, class: 'secret-value',
    autocomplete: 'off', spellcheck: 'false', size: '48',
  });
  value.addEventListener('focus', () => value.select());
  const said = h('span', { class: 'copy-note', role: 'status' });
  const copy = h('button', { type: 'button', id: 'subs-copy' }, t('subs.copy'));
  copy.addEventListener('click', async () => {
    let ok = false;
    try {
      await navigator.clipboard.writeText(sub.secret);
      ok = true;
    } catch {
      value.focus();
      value.select();
      try {
        ok = document.execCommand('copy');
      } catch {
        ok = false;
      }
    }
    said.textContent = ok ? t('subs.copied') : t('subs.copyByHand');
  });
  const done = h('button', { type: 'button', class: 'secondary', id: 'subs-secret-done' }, t('subs.stored'));
  const box = h('section', { class: 'card secret-box', 'aria-labelledby': hid, dataset: { subscription: sub.id } },
    h('h3', { id: hid, tabindex: '-1', text: t('subs.secretTitle') }),
    h('p', { class: 'banner secret-warning' }, h('strong', { text: t('subs.secretOnce') }), ' ', t('subs.secretWarning')),
    field(t('subs.secretLabel'), value, t('subs.secretHint', { url: sub.url })),
    h('div', { class: 'buttons' }, copy, done, said));
  done.addEventListener('click', () => {
    box.remove();
    announce(t('subs.secretGone'));
    after();
  });
  return box;
}

/** drawList shows the organisation's subscriptions, each with its delivery log; focus names an element to focus afterwards. */
async function drawList(box, focus) {
  const refresh = h('button', { type: 'button', class: 'secondary', id: 'subs-refresh' }, t('subs.refresh'));
  refresh.addEventListener('click', async () => {
    refresh.disabled = true;
    await drawList(box, '#subs-refresh');
  });
  clear(box).append(h('div', { class: 'title-row' }, h('h2', { id: 'subs-list-h', tabindex: '-1', text: t('subs.listTitle') }), refresh));
  box.setAttribute('aria-busy', 'true');
  let items;
  let logs;
  try {
    items = (await get('/v1/subscriptions')).items || [];
    logs = await Promise.all(items.map((s) => get(`/v1/subscriptions/${encodeURIComponent(s.id)}/deliveries`)
      .then((r) => r.items || [], (e) => e)));
  } catch (e) {
    box.removeAttribute('aria-busy');
    box.append(problemView(e, t('subs.listFailed')));
    return;
  }
  box.removeAttribute('aria-busy');
  if (!items.length) box.append(h('p', { class: 'muted', text: t('subs.none') }));
  const redraw = (f) => drawList(box, f);
  items.forEach((s, i) => box.append(subscriptionCard(s, logs[i], redraw)));
  announce(tn('subs.count', items.length));
  const target = focus ? box.querySelector(focus) : null;
  if (target) target.focus();
}

/** stateText says a subscription's state in words: paused and why, or retrying. */
function stateText(s) {
  if (s.status === 'paused') return t('subs.pausedWhy', { n: fmtNumber(s.failures || 0), result: s.last_result || '—' });
  if (s.failures > 0) return tn('subs.retrying', s.failures, { result: s.last_result || '—' });
  return '';
}

/** subscriptionCard shows one subscription: what it is, its state, resume and delete, its delivery log. */
function subscriptionCard(s, log, redraw) {
  const hid = `sub-h-${s.id}`;
  const owner = s.owner || {};
  const actions = h('div', { class: 'buttons' });
  const out = h('div', { class: 'sub-out' });
  if (s.status === 'paused') {
    const resume = h('button', { type: 'button', class: 'resume-sub' }, t('subs.resume'));
    resume.addEventListener('click', async () => {
      resume.disabled = true;
      clear(out);
      try {
        await call('POST', `/v1/subscriptions/${encodeURIComponent(s.id)}/resume`);
        announce(t('subs.resumed', { url: s.url }));
        await redraw(`#${CSS.escape(hid)}`);
      } catch (e) {
        out.append(problemView(e, t('subs.resumeFailed')));
        resume.disabled = false;
      }
    });
    actions.append(resume);
  }
  const del = h('button', { type: 'button', class: 'secondary delete-sub', 'aria-expanded': 'false' }, t('subs.delete'));
  const confirmBox = h('div', { class: 'confirm-delete', hidden: true });
  del.addEventListener('click', () => {
    const open = confirmBox.hidden;
    confirmBox.hidden = !open;
    del.setAttribute('aria-expanded', String(open));
    if (open) confirmBox.querySelector('p').focus();
  });
  const yes = h('button', { type: 'button', class: 'danger confirm-delete-sub' }, t('subs.deleteYes'));
  const no = h('button', { type: 'button', class: 'secondary keep-sub' }, t('subs.deleteNo'));
  no.addEventListener('click', () => {
    confirmBox.hidden = true;
    del.setAttribute('aria-expanded', 'false');
    del.focus();
  });
  yes.addEventListener('click', async () => {
    yes.disabled = true;
    clear(out);
    try {
      await call('DELETE', `/v1/subscriptions/${encodeURIComponent(s.id)}`);
      announce(t('subs.deleted', { url: s.url }));
      await redraw('#subs-list-h');
    } catch (e) {
      out.append(problemView(e, t('subs.deleteFailed')));
      yes.disabled = false;
    }
  });
  confirmBox.append(h('p', { tabindex: '-1' }, h('strong', { text: t('subs.deleteQuestion', { url: s.url }) }), ' ', t('subs.deleteWarning')),
    h('div', { class: 'buttons' }, yes, no));
  actions.append(del);
  const why = stateText(s);
  return h('article', { class: 'card subscription', 'aria-labelledby': hid, dataset: { id: s.id, status: s.status } },
    h('h3', { id: hid, tabindex: '-1' }, h('code', { class: 'sub-url', text: s.url })),
    h('dl', { class: 'kv' },
      h('dt', {}, t('subs.state')), h('dd', { class: 'sub-state' },
        h('span', { class: `sub-status status-${s.status === 'paused' ? 'paused' : 'active'}`, text: tv('subs.status', s.status) }),
        why ? [' ', h('span', { class: 'sub-why', text: why })] : null),
      s.next_attempt && s.status !== 'paused'
        ? [h('dt', {}, t('subs.nextAttempt')), h('dd', {}, h('time', { datetime: s.next_attempt, text: fmtTime(s.next_attempt) }))]
        : null,
      h('dt', {}, t('subs.purpose')), h('dd', { text: tv('purpose', s.purpose) }),
      h('dt', {}, t('subs.createdBy')), h('dd', { text: t('subs.owner', { sub: owner.sub || '—', org: orgName(owner.agency || '') }) }),
      h('dt', {}, t('subs.createdAt')), h('dd', {}, h('time', { datetime: s.created_at, text: fmtTime(s.created_at) }))),
    actions, confirmBox, out,
    deliveryLog(s, log));
}

/** deliveryLog shows a subscription's last delivery attempts, newest first. */
function deliveryLog(s, log) {
  if (!Array.isArray(log)) return problemView(log, t('subs.logFailed'));
  if (!log.length) return h('p', { class: 'muted no-deliveries', text: t('subs.noDeliveries') });
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data deliveries' },
    h('caption', { text: tn('subs.logCaption', log.length) }),
    h('thead', {}, h('tr', {}, [t('subs.colTime'), t('subs.colWebhookId'), t('subs.colEntries'), t('subs.colResult')]
      .map((c) => h('th', { scope: 'col', text: c })))),
    h('tbody', {}, log.map((d) => h('tr', { class: 'delivery', dataset: { ok: String(!!d.ok), status: String(d.status || 0) } },
      h('th', { scope: 'row' }, h('time', { datetime: d.at, text: fmtTimeLong(d.at) })),
      h('td', {}, h('code', { text: d.webhook_id || '—' })),
      h('td', { class: 'num', text: fmtNumber(d.entries || 0) }),
      h('td', { class: d.ok ? 'ok' : 'bad' }, result(d)))))));
}

/** result says how a delivery attempt ended, in words (never by colour alone). */
function result(d) {
  if (d.ok) return t('subs.delivered', { status: d.status });
  if (d.status) return t('subs.failedStatus', { status: d.status });
  return t('subs.failedError', { error: d.error || '—' });
}
