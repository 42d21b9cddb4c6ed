// Forms generated from JSON Schema: the data schemas of the hub's OpenAPI
// document (GET /v1/openapi.json), the same schemas the hub validates with.
// Nothing here knows an event type: objects become groups of fields, arrays
// of objects lists of rows one can add and remove, arrays of organisations
// sets of check boxes, maps rows of name and value, dates date inputs,
// enumerations selects showing names (the practice codes' names from
// x-enum-descriptions, translated) or, for a set of them, check boxes,
// integers number inputs. Labels are the
// field names in the reader's language.
//
// A form answers its value (absent optional fields left out, so the hub's
// defaults apply), and finds the control of a field path the hub names in an
// error ("data.needs[0].level") to show the error beside it.

import { describe, h, hubMessage, uid, undescribe } from './dom.js';
import { has, orgName, t, tv } from './i18n.js';

/** isOrg reports whether a string schema holds an organisation id of the directory. */
function isOrg(s) {
  return s['x-org'] === true || /^An organisation id of the directory/.test(s.description || '');
}

/** isFreeText reports whether a string schema is free text (line breaks allowed): a textarea. */
function isFreeText(s) {
  return /line breaks/.test(s.description || '') || (s.maxLength || 0) > 1024;
}

/**
 * parsePath splits a field path of the hub into segments:
 * "data.needs[0].level" → ["data", "needs", 0, "level"].
 */
export function parsePath(path) {
  return (String(path).match(/[^.[\]]+|\[\d+\]/g) || []).map((s) => (s.startsWith('[') ? Number(s.slice(1, -1)) : s));
}

/**
 * resolver returns a function that follows $ref (and a lone allOf) in doc's
 * components, so that a field may be written inline or refer to a named
 * schema (PracticeCode, TargetGroup…).
 */
export function resolver(doc) {
  const resolve = (s) => {
    let guard = 0;
    while (s && guard++ < 20) {
      if (typeof s.$ref === 'string' && s.$ref.startsWith('#/')) {
        const target = s.$ref.slice(2).split('/').reduce((o, k) => (o ? o[k] : undefined), doc);
        const { $ref, ...rest } = s;
        s = { ...(target || {}), ...rest };
      } else if (Array.isArray(s.allOf) && s.allOf.length === 1) {
        const { allOf, ...rest } = s;
        s = { ...resolve(allOf[0]), ...rest };
      } else break;
    }
    return s || {};
  };
  return resolve;
}

/**
 * schemaForm builds the controls of an object schema (the data of an event).
 * ctx: {resolve, orgs: [{id, type}]}. It returns {el, value(), lookup(path),
 * clearErrors(), control(path)}; lookup takes a path below the object
 * ("needs[0].level" or ["needs", 0, "level"]) and returns the nearest widget
 * that holds it.
 */
export function schemaForm(schema, ctx) {
  const root = objectWidget(ctx.resolve(schema), '', ctx, true, true);
  return {
    el: root.el,
    value: () => root.get() || {},
    lookup: (path) => root.lookup(Array.isArray(path) ? path : parsePath(path)) || root,
    clearErrors: () => root.clear(),
  };
}

/** widget dispatches on the schema's shape. */
function widget(s, name, ctx, required) {
  s = ctx.resolve(s);
  if (s.type === 'object') {
    if (s.additionalProperties && typeof s.additionalProperties === 'object') return mapWidget(s, name, ctx, required);
    return objectWidget(s, name, ctx, required, false);
  }
  if (s.type === 'array') {
    const items = ctx.resolve(s.items || {});
    if (items.type === 'string' && isOrg(items) && !items.enum) {
      return setWidget(name, required, (ctx.orgs || []).map((o) => ({ value: o.id, label: orgName(o.id) })), 'orgs');
    }
    if (items.type === 'string' && Array.isArray(items.enum) && s.uniqueItems) {
      const names = Array.isArray(items['x-enum-descriptions']) ? items['x-enum-descriptions'] : null;
      return setWidget(name, required, items.enum.map((v, i) => ({ value: v, label: enumLabel(name, v, names ? names[i] : null) })), 'values');
    }
    return listWidget(s, name, ctx, required);
  }
  return leafWidget(s, name, ctx, required);
}

function labelOf(name) {
  return tv('field', name);
}

/** errorSlot is the paragraph that shows a widget's error, and the functions that fill and clear it. */
function errorSlot(target) {
  const el = h('p', { class: 'field-error', id: uid('err'), hidden: true });
  return {
    el,
    show(msg) {
      el.hidden = false;
      el.textContent = hubMessage(msg);
      const c = target();
      if (c) {
        c.setAttribute('aria-invalid', 'true');
        describe(c, el.id);
      }
    },
    clear() {
      if (el.hidden) return;
      el.hidden = true;
      el.textContent = '';
      const c = target();
      if (c) {
        c.removeAttribute('aria-invalid');
        undescribe(c, el.id);
      }
    },
  };
}

function requiredMark(required) {
  return required ? h('span', { class: 'req' }, ` ${t('form.required')}`) : null;
}

/** leafWidget is one input, select or textarea with its label, hint and error. */
function leafWidget(s, name, ctx, required, labelText) {
  const id = uid('in');
  let control;
  let hint = '';
  if (Array.isArray(s.enum)) {
    const names = Array.isArray(s['x-enum-descriptions']) ? s['x-enum-descriptions'] : null;
    control = h('select', { id, name },
      h('option', { value: '' }, required ? t('form.choose') : t('form.notGiven')),
      s.enum.map((v, i) => h('option', { value: v }, enumLabel(name, v, names ? names[i] : null))));
  } else if (s.type === 'boolean') {
    control = h('select', { id, name },
      h('option', { value: '' }, t('form.notGiven')), h('option', { value: 'true' }, t('form.yes')), h('option', { value: 'false' }, t('form.no')));
  } else if (s.type === 'integer' || s.type === 'number') {
    control = h('input', { id, name, type: 'number', inputmode: 'numeric', step: '1', min: s.minimum, max: s.maximum, class: 'short' });
    if (s.minimum !== undefined && s.maximum !== undefined) hint = t('form.between', { min: s.minimum, max: s.maximum });
  } else if (s.format === 'date') {
    control = h('input', { id, name, type: 'date', class: 'short' });
  } else if (s.format === 'date-time') {
    control = h('input', { id, name, type: 'datetime-local', step: '1' });
  } else if (isOrg(s)) {
    control = h('select', { id, name },
      h('option', { value: '' }, required ? t('form.choose') : t('form.notGiven')),
      (ctx.orgs || []).map((o) => h('option', { value: o.id }, orgName(o.id))));
  } else if (isFreeText(s)) {
    control = h('textarea', { id, name, rows: '3', maxlength: s.maxLength });
  } else {
    const ref = typeof s.pattern === 'string';
    control = h('input', { id, name, type: 'text', maxlength: s.maxLength, autocomplete: 'off', spellcheck: ref ? 'false' : null });
    if (ref) hint = t('form.hintRef');
  }
  if (has(`hint.${name}`)) hint = [tv('hint', name), hint].filter(Boolean).join(' ');
  if (required) control.setAttribute('aria-required', 'true');
  const hintEl = hint ? h('span', { class: 'hint', id: uid('hint'), text: hint }) : null;
  if (hintEl) describe(control, hintEl.id);
  const err = errorSlot(() => control);
  const el = h('div', { class: 'field', dataset: { field: name } },
    h('label', { for: id }, labelText || labelOf(name), requiredMark(required)), hintEl, err.el, control);
  return {
    el,
    get() {
      const v = control.value;
      if (v === '') return undefined;
      if (s.type === 'boolean') return v === 'true';
      if (s.type === 'integer' || s.type === 'number') return /^-?\d+$/.test(v.trim()) ? Number(v) : v;
      if (s.format === 'date-time') {
        const d = new Date(v);
        return Number.isNaN(d.getTime()) ? v : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
      }
      return v;
    },
    lookup: () => null,
    focusable: () => control,
    show: err.show,
    clear: err.clear,
  };
}

/** enumLabel names an enumerated value: a practice code with its name, else the value's word in the field's vocabulary. */
function enumLabel(name, v, description) {
  if (description !== null && description !== undefined) return `${v} — ${tv('practice', v) === v ? description : tv('practice', v)}`;
  return tv(`enum.${name}`, v);
}

/** objectWidget is a group of fields (a fieldset, except at the root). */
function objectWidget(s, name, ctx, required, isRoot) {
  const props = s.properties || {};
  const req = new Set(s.required || []);
  const children = Object.entries(props).map(([k, sub]) => [k, widget(sub, k, ctx, req.has(k))]);
  const first = () => (children.length ? children[0][1].focusable() : null);
  const err = errorSlot(first);
  const body = children.map(([, w]) => w.el);
  const el = isRoot
    ? h('div', { class: 'schema-form' }, err.el, body)
    : h('fieldset', { class: 'group', dataset: { field: name } }, h('legend', {}, labelOf(name), requiredMark(required)), err.el, body);
  return {
    el,
    get() {
      const o = {};
      for (const [k, w] of children) {
        const v = w.get();
        if (v !== undefined) o[k] = v;
      }
      return !isRoot && Object.keys(o).length === 0 ? undefined : o;
    },
    lookup(segs) {
      if (!segs.length) return this;
      const child = children.find(([k]) => k === segs[0]);
      if (!child) return null;
      return child[1].lookup(segs.slice(1)) || child[1];
    },
    focusable: first,
    show: err.show,
    clear() {
      err.clear();
      for (const [, w] of children) w.clear();
    },
  };
}

/**
 * listWidget is a list of rows (objects or single values) with "add" and
 * "remove"; rows are numbered as the hub numbers them in its errors.
 */
function listWidget(s, name, ctx, required) {
  const items = ctx.resolve(s.items || {});
  const rows = [];
  const rowsEl = h('div', { class: 'rows' });
  const label = labelOf(name);
  const add = h('button', { type: 'button', class: 'secondary small add-row' }, t('form.add', { name: label }));
  const err = errorSlot(() => (rows.length ? rows[0].w.focusable() : add));
  const legendId = uid('lg');
  const el = h('fieldset', { class: 'group list', dataset: { field: name } },
    h('legend', { id: legendId }, label, requiredMark(required)), err.el, rowsEl, add);
  const renumber = () => rows.forEach((r, i) => r.setNumber(i + 1));
  const addRow = () => {
    const n = rows.length + 1;
    let w;
    let legend = null;
    let rowEl;
    const remove = h('button', { type: 'button', class: 'link remove-row' });
    if (items.type === 'object') {
      w = objectWidget(items, name, ctx, true, true);
      legend = h('legend', {});
      rowEl = h('fieldset', { class: 'row' }, legend, w.el, remove);
    } else {
      w = widget(items, name, ctx, true);
      rowEl = h('div', { class: 'row row-single' }, w.el, remove);
    }
    const row = {
      w, el: rowEl,
      setNumber(k) {
        const text = t('form.row', { name: label, n: k });
        if (legend) legend.textContent = text;
        else w.el.querySelector('label').firstChild.textContent = text;
        remove.textContent = t('form.remove');
        remove.setAttribute('aria-label', t('form.removeRow', { row: text }));
      },
    };
    remove.addEventListener('click', () => {
      const i = rows.indexOf(row);
      rows.splice(i, 1);
      rowEl.remove();
      renumber();
      const next = rows[Math.min(i, rows.length - 1)];
      (next ? next.w.focusable() : add).focus();
    });
    rows.push(row);
    rowsEl.append(rowEl);
    row.setNumber(n);
    return row;
  };
  add.addEventListener('click', () => {
    const r = addRow();
    const f = r.w.focusable();
    if (f) f.focus();
  });
  if (required || (s.minItems || 0) > 0) addRow();
  return {
    el,
    get() {
      const out = [];
      for (const r of rows) {
        const v = r.w.get();
        if (v !== undefined && !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0)) out.push(v);
      }
      return out.length ? out : required ? [] : undefined;
    },
    lookup(segs) {
      if (!segs.length) return this;
      // The hub numbers the rows it was sent: the non-empty ones.
      const sent = rows.filter((r) => {
        const v = r.w.get();
        return v !== undefined && !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);
      });
      const r = typeof segs[0] === 'number' ? sent[segs[0]] : null;
      if (!r) return null;
      return r.w.lookup(segs.slice(1)) || r.w;
    },
    focusable: () => (rows.length ? rows[0].w.focusable() : add),
    show: err.show,
    clear() {
      err.clear();
      for (const r of rows) r.w.clear();
    },
  };
}

/**
 * setWidget is a set of values chosen from a list (organisations, the
 * values of an enumeration): one check box each. The hub numbers the values
 * it was sent, in the list's order.
 */
function setWidget(name, required, options, kind) {
  const boxes = options.map((o) => {
    const id = uid('cb');
    const input = h('input', { type: 'checkbox', id, name, value: o.value });
    return { id: o.value, input, el: h('div', { class: 'check-row' }, input, h('label', { for: id, text: o.label })) };
  });
  const err = errorSlot(() => (boxes.length ? boxes[0].input : null));
  const el = h('fieldset', { class: `group ${kind}`, dataset: { field: name } },
    h('legend', {}, labelOf(name), requiredMark(required)), err.el, h('div', { class: 'checks-grid' }, boxes.map((b) => b.el)));
  const checked = () => boxes.filter((b) => b.input.checked);
  return {
    el,
    get() {
      const ids = checked().map((b) => b.id);
      return ids.length ? ids : required ? [] : undefined;
    },
    lookup(segs) {
      if (!segs.length) return this;
      const b = typeof segs[0] === 'number' ? checked()[segs[0]] : null;
      return b ? { el: b.el, focusable: () => b.input, show: err.show, clear: err.clear, lookup: () => null, get: () => b.id } : null;
    },
    focusable: () => (boxes.length ? boxes[0].input : null),
    show: err.show,
    clear: err.clear,
  };
}

/** mapWidget is an object used as a map (a risk assessment's domains): rows of a name and a value. */
function mapWidget(s, name, ctx, required) {
  const values = ctx.resolve(s.additionalProperties);
  const rows = [];
  const rowsEl = h('div', { class: 'rows' });
  const label = labelOf(name);
  const add = h('button', { type: 'button', class: 'secondary small add-row' }, t('form.add', { name: label }));
  const err = errorSlot(() => (rows.length ? rows[0].key : add));
  const el = h('fieldset', { class: 'group map', dataset: { field: name } },
    h('legend', {}, label, requiredMark(required)), err.el, rowsEl, add);
  add.addEventListener('click', () => {
    const keyId = uid('in');
    const key = h('input', { type: 'text', id: keyId, maxlength: 128, autocomplete: 'off', spellcheck: 'false', class: 'short' });
    const v = leafWidget(values, name, ctx, true, t('form.mapValue'));
    const remove = h('button', { type: 'button', class: 'link remove-row' }, t('form.remove'));
    const keyErr = errorSlot(() => key);
    const rowEl = h('div', { class: 'row row-map' },
      h('div', { class: 'field' }, h('label', { for: keyId, text: t('form.mapKey', { name: label }) }), h('span', { class: 'hint', text: t('form.hintRef') }), keyErr.el, key),
      v.el, remove);
    const row = { key, v, el: rowEl, keyErr };
    remove.setAttribute('aria-label', t('form.removeRow', { row: label }));
    remove.addEventListener('click', () => {
      rows.splice(rows.indexOf(row), 1);
      rowEl.remove();
      add.focus();
    });
    rows.push(row);
    rowsEl.append(rowEl);
    key.focus();
  });
  return {
    el,
    get() {
      const o = {};
      for (const r of rows) {
        const k = r.key.value.trim();
        const v = r.v.get();
        if (k === '' && v === undefined) continue;
        o[k] = v === undefined ? '' : v;
      }
      return Object.keys(o).length ? o : undefined;
    },
    lookup(segs) {
      if (!segs.length) return this;
      const r = rows.find((x) => x.key.value.trim() === String(segs[0]));
      return r ? { el: r.el, focusable: () => r.v.focusable(), show: r.v.show, clear: r.v.clear, lookup: () => null } : null;
    },
    focusable: () => (rows.length ? rows[0].key : add),
    show: err.show,
    clear() {
      err.clear();
      for (const r of rows) {
        r.v.clear();
        r.keyErr.clear();
      }
    },
  };
}
