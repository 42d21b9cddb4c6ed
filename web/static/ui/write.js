// Writing: the forms of the event types the signed-in person may append to
// a case now (GET /v1/cases/{id}/writable), each generated from the type's
// data schema in the hub's OpenAPI document (AppendRequest's discriminator →
// Append<Type> → <Type>Data), with the label and share list the protocol
// lets the writer give; and the form that opens a case (POST /v1/cases,
// CaseOpenedData). Errors of the hub appear beside the fields they name,
// with a summary linking to them; a write that lost a race (409) is
// reloaded and re-applied with the person's values kept.

import { call, me, openapi } from './api.js';
import { announce, clear, describe, fieldLabel, h, heading, hubMessage, problemView, uid } from './dom.js';
import { orgName, t, tv } from './i18n.js';
import { parsePath, resolver, schemaForm } from './schemaform.js';

/** dataSchemaOf returns the data schema of an appendable type, from the OpenAPI document. */
export function dataSchemaOf(doc, type) {
  const resolve = resolver(doc);
  const req = (((doc.components || {}).schemas || {}).AppendRequest) || {};
  const mapping = ((req.discriminator || {}).mapping) || {};
  if (!mapping[type]) return null;
  const variant = resolve({ $ref: mapping[type] });
  const data = ((variant.properties || {}).data) || null;
  return data ? resolve(data) : null;
}

/**
 * errorSummary shows the hub's field errors at the top of a form, each a
 * link to its field (whose own error is shown beside it by locate's
 * widget); it takes the focus.
 */
function errorSummary(box, errors, locate) {
  const items = errors.map((e) => {
    const w = locate(e.field);
    if (w && w.show) w.show(e.message);
    const target = w && w.focusable ? w.focusable() : null;
    const text = `${fieldLabel(e.field)}: ${hubMessage(e.message)}`;
    if (!target) return h('li', { text });
    if (!target.id) target.id = uid('f');
    const a = h('a', { href: `#${target.id}`, text });
    a.addEventListener('click', (ev) => {
      ev.preventDefault();
      target.focus();
      target.scrollIntoView({ block: 'center' });
    });
    return h('li', {}, a);
  });
  const sum = h('div', { class: 'error-summary', role: 'alert', tabindex: '-1' },
    h('h4', { text: t('err.summary', { n: errors.length }) }), h('ul', {}, items));
  clear(box).append(sum);
  sum.focus();
}

/**
 * writePanel is the case page's "Record" card: a button per event type the
 * person may append now, and the form of the one chosen. page holds the
 * case id and refresh(sections), which reloads what a write changed.
 */
export async function writePanel(page, writable) {
  const [doc, who] = await Promise.all([openapi(), me()]);
  const box = h('section', { class: 'card write', id: 'write', 'aria-labelledby': 'write-h' },
    h('h2', { id: 'write-h', tabindex: '-1', text: t('write.title') }));
  const state = { version: writable.version, events: writable.events || [], forms: new Map(), open: '' };
  const list = h('ul', { class: 'write-types' });
  const area = h('div', { class: 'write-area' });
  const ctx = { resolve: resolver(doc), orgs: who.organisations || [] };

  const listBox = h('div', {});
  const draw = () => {
    clear(list);
    const offered = state.events.filter((ev) => dataSchemaOf(doc, ev.type));
    if (!offered.length) {
      clear(listBox).append(h('p', { class: 'muted write-none', text: t('write.nothing') }));
      return;
    }
    if (!list.isConnected) clear(listBox).append(list);
    for (const ev of offered) {
      const btn = h('button', {
        type: 'button', class: 'secondary write-type', dataset: { type: ev.type },
        'aria-pressed': String(state.open === ev.type), 'aria-controls': 'write-area',
      }, tv('event', ev.type));
      btn.addEventListener('click', () => openForm(ev.type));
      list.append(h('li', {}, btn));
    }
  };

  const openForm = (type) => {
    state.open = type;
    for (const b of list.querySelectorAll('button.write-type')) b.setAttribute('aria-pressed', String(b.dataset.type === type));
    let f = state.forms.get(type);
    if (!f) {
      f = buildForm(type);
      state.forms.set(type, f);
    }
    clear(area).append(f.el);
    f.heading.focus();
  };

  const closeForm = (type) => {
    state.forms.delete(type);
    state.open = '';
    clear(area);
    for (const b of list.querySelectorAll('button.write-type')) b.setAttribute('aria-pressed', 'false');
  };

  const offerOf = (type) => state.events.find((e) => e.type === type);

  function buildForm(type) {
    const offer = offerOf(type);
    const form = schemaForm(dataSchemaOf(doc, type), ctx);
    const head = h('h3', { tabindex: '-1', id: uid('wh') }, t('write.formTitle', { type: tv('event', type) }));
    const intro = h('p', { class: 'muted', text: t('write.feeds', { sections: (offer.sections || []).map((s) => tv('section', s)).join(', ') }) });
    const summary = h('div', { class: 'summary-box' });
    const outcome = h('div', { class: 'write-outcome', 'aria-live': 'polite' });

    // The label and the share list: untouched, the hub applies the type's defaults.
    let touched = false;
    const labelSel = h('select', { id: uid('tlp'), name: 'classification' },
      (offer.labels || []).map((l) => h('option', { value: l, selected: l === offer.classification }, `${l} — ${tv('tlpmeaning', l)}`)));
    const labelHint = h('span', { class: 'hint', id: uid('hint') });
    describe(labelSel, labelHint.id);
    const labelErr = h('p', { class: 'field-error', id: uid('err'), hidden: true });
    const labelField = h('div', { class: 'field' }, h('label', { for: labelSel.id, text: t('write.label') }), labelHint, labelErr, labelSel);
    let shareBoxes = [];
    let shareField = null;
    const shareErr = h('p', { class: 'field-error', id: uid('err'), hidden: true });
    if (offer.share_list) {
      shareBoxes = ctx.orgs.map((o) => {
        const id = uid('sw');
        const input = h('input', { type: 'checkbox', id, name: 'share_with', value: o.id, checked: (offer.share_with || []).includes(o.id) });
        input.addEventListener('change', () => { touched = true; explain(); });
        return { id: o.id, input, el: h('div', { class: 'check-row' }, input, h('label', { for: id, text: orgName(o.id) })) };
      });
      shareField = h('fieldset', { class: 'group orgs share' },
        h('legend', { text: t('write.shareWith') }), shareErr, h('div', { class: 'checks-grid' }, shareBoxes.map((b) => b.el)));
    }
    const shared = () => shareBoxes.filter((b) => b.input.checked).map((b) => b.id);
    const explain = () => {
      const l = labelSel.value;
      const names = shared().map(orgName);
      let s;
      if (l === 'TLP:AMBER+STRICT') s = t('write.audStrict');
      else if (l === 'TLP:RED') s = names.length ? t('write.audNamed', { orgs: names.join(', ') }) : t('write.audOwn');
      else if (l === 'TLP:AMBER') s = names.length ? t('write.audNamed', { orgs: names.join(', ') }) : t('write.audSection');
      else s = t('write.audSection');
      labelHint.textContent = s;
    };
    labelSel.addEventListener('change', () => { touched = true; explain(); });
    explain();

    const submit = h('button', { type: 'submit' }, t('write.submit', { type: tv('event', type) }));
    const cancel = h('button', { type: 'button', class: 'secondary' }, t('write.cancel'));
    cancel.addEventListener('click', () => {
      closeForm(type);
      announce(t('write.cancelled'));
      const b = list.querySelector(`button.write-type[data-type="${type}"]`);
      if (b) b.focus();
    });
    const formEl = h('form', { class: 'event-form', novalidate: true, dataset: { type }, 'aria-labelledby': head.id },
      head, intro, summary, form.el,
      h('fieldset', { class: 'group labelling' }, h('legend', { text: t('write.sharing') }), labelField, shareField),
      h('div', { class: 'buttons' }, submit, cancel), outcome);

    const showErr = (el, control, msg) => {
      el.hidden = false;
      el.textContent = hubMessage(msg);
      control.setAttribute('aria-invalid', 'true');
      describe(control, el.id);
    };
    const clearErrors = () => {
      form.clearErrors();
      for (const [el, c] of [[labelErr, labelSel], [shareErr, shareBoxes[0] && shareBoxes[0].input]]) {
        el.hidden = true;
        if (c) c.removeAttribute('aria-invalid');
      }
      clear(summary);
    };
    const locate = (path) => {
      const segs = parsePath(path);
      if (segs[0] === 'data') return form.lookup(segs.slice(1));
      if (segs[0] === 'classification') return { focusable: () => labelSel, show: (m) => showErr(labelErr, labelSel, m) };
      if (segs[0] === 'share_with' && shareBoxes.length) {
        const on = shareBoxes.filter((b) => b.input.checked);
        const b = typeof segs[1] === 'number' && on[segs[1]] ? on[segs[1]] : shareBoxes[0];
        return { focusable: () => b.input, show: (m) => showErr(shareErr, b.input, m) };
      }
      return null;
    };

    const send = async () => {
      clearErrors();
      clear(outcome);
      const body = { type, data: form.value(), expected_version: state.version };
      if (touched) {
        body.classification = labelSel.value;
        if (offer.share_list) body.share_with = shared();
      }
      submit.disabled = true;
      formEl.setAttribute('aria-busy', 'true');
      const before = state.version;
      try {
        const res = await call('POST', `/v1/cases/${encodeURIComponent(page.caseId)}/events`, body);
        closeForm(type);
        const seen = res.version > before;
        const msg = seen ? t('write.saved', { type: tv('event', type) }) : t('write.savedHidden', { type: tv('event', type) });
        const done = h('p', { class: 'ok write-done', role: 'status', tabindex: '-1', dataset: { type } }, h('strong', { text: msg }));
        area.append(done);
        await page.refresh(offer.sections || []);
        announce(msg);
        done.focus();
      } catch (e) {
        if (e.status === 400 && e.problem.errors.length) {
          errorSummary(summary, e.problem.errors, locate);
        } else if (e.status === 409) {
          conflict();
        } else if (e.status === 403) {
          clear(summary).append(problemView(e, '', t('write.refused')));
        } else {
          clear(summary).append(problemView(e));
        }
        announce(t('write.notSaved'));
      } finally {
        submit.disabled = false;
        formEl.removeAttribute('aria-busy');
      }
    };

    // Someone wrote meanwhile: say so, keep what was typed, reload and re-apply.
    const conflict = () => {
      const again = h('button', { type: 'button', class: 'reapply' }, t('write.reapply'));
      const box = h('div', { class: 'problem conflict', role: 'alert', tabindex: '-1' },
        h('p', {}, h('strong', { text: t('write.conflictTitle') }), ' ', t('write.conflict')), again);
      again.addEventListener('click', async () => {
        again.disabled = true;
        try {
          const w = await call('GET', `/v1/cases/${encodeURIComponent(page.caseId)}/writable`);
          state.version = w.version;
          state.events = w.events || [];
          await page.refresh(null);
          if (!offerOf(type)) {
            clear(box).append(h('p', { text: t('write.noLonger', { type: tv('event', type) }) }));
            return;
          }
          const note = h('p', { class: 'ok reapplied', role: 'status', tabindex: '-1', text: t('write.reloaded', { version: w.version }) });
          clear(summary).append(note);
          note.focus();
          announce(t('write.reloaded', { version: w.version }));
        } catch (e) {
          clear(box).append(problemView(e));
        }
      });
      clear(summary).append(box);
      box.focus();
    };

    formEl.addEventListener('submit', (ev) => {
      ev.preventDefault();
      send();
    });
    return { el: formEl, heading: head };
  }

  listBox.append(list);
  box.append(h('p', { class: 'muted', text: t('write.intro') }), listBox, h('div', { id: 'write-area' }, area));
  draw();
  return {
    el: box,
    /** update takes a new writable answer (after a write or a reload). */
    update(w) {
      state.version = w.version;
      state.events = w.events || [];
      draw();
    },
    open: openForm,
    types: () => state.events.filter((ev) => dataSchemaOf(doc, ev.type)).map((e) => e.type),
    sectionsOf: (type) => ((offerOf(type) || {}).sections || []),
  };
}

/** openCaseView is the form that opens a case (#/cases/new): CaseOpenedData, from the OpenAPI document. */
export async function openCaseView(view) {
  view.append(h('p', { class: 'crumbs' }, h('a', { href: '#/cases' }, t('case.back'))), heading(t('open.title')),
    h('p', { class: 'lead', text: t('open.lead') }));
  let doc;
  let who;
  try {
    [doc, who] = await Promise.all([openapi(), me()]);
  } catch (e) {
    view.append(problemView(e));
    return t('open.title');
  }
  if (!who.open_cases) {
    view.append(h('p', { class: 'problem', role: 'alert', text: t('open.notAllowed') }));
    return t('open.title');
  }
  const resolve = resolver(doc);
  const form = schemaForm(resolve({ $ref: '#/components/schemas/CaseOpenedData' }), { resolve, orgs: who.organisations || [] });
  const summary = h('div', { class: 'summary-box' });
  const submit = h('button', { type: 'submit' }, t('open.submit'));
  const formEl = h('form', { class: 'event-form card', novalidate: true, dataset: { type: 'CaseOpened' } }, summary, form.el,
    h('div', { class: 'buttons' }, submit, h('a', { class: 'button secondary', href: '#/cases' }, t('write.cancel'))));
  formEl.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    form.clearErrors();
    clear(summary);
    submit.disabled = true;
    try {
      const res = await call('POST', '/v1/cases', form.value());
      announce(t('open.done'));
      location.hash = `#/cases/${res.case_id}`;
    } catch (e) {
      if (e.status === 400 && e.problem.errors.length) {
        errorSummary(summary, e.problem.errors, (path) => form.lookup(parsePath(path)));
      } else {
        clear(summary).append(problemView(e, '', e.status === 403 ? t('open.notAllowed') : ''));
      }
      submit.disabled = false;
    }
  });
  view.append(formEl);
  return t('open.title');
}
