// The plan section's overview (docs/domain.md, "The treatment plan"): the
// goals of the plans the reader may read, grouped by the four levels of the
// hierarchy of needs, each with the needs it answers (a link to the needs
// section, with the level the latest needs assessment gave), its
// responsible organisation, its due date, and its progress — the steps
// planned, in progress, achieved (or dropped) and the history of its
// updates. Reviews and the next review follow. Everything comes from the
// items the section read returned: a plan or an update the reader may not
// see is not there, and a field the protocol withheld says so.

import { h } from './dom.js';
import { fmtDate, fmtNumber, fmtTime, orgName, t, tn, tv } from './i18n.js';

/** The levels of the hierarchy of needs, in order (domain.PlanStages). */
const LEVELS = ['basic-needs', 'stabilisation', 'identity', 'reintegration'];

/** The steps a goal moves through (domain.GoalStatuses without dropped, which ends it). */
const STEPS = ['planned', 'in-progress', 'achieved'];

/**
 * planGoals follows the plan items in order: each TreatmentPlanAdopted
 * (re)defines its goals — a goal with an id is kept by later plans that list
 * it — and each GoalUpdated moves one. It returns the goals in order of
 * first appearance, each {key, id, goal, inLatest, history}, the updates of
 * goals no readable plan lists, the reviews, the next review due, and
 * whether a plan's goals were withheld.
 */
export function planGoals(items) {
  const goals = new Map();
  const orphans = [];
  const reviews = [];
  let latest = null;
  let nextReview = '';
  let goalsWithheld = false;
  const sorted = [...items].sort((a, b) => a.version - b.version);
  for (const it of sorted) {
    const data = it.data && typeof it.data === 'object' ? it.data : {};
    const redacted = Array.isArray(it.redacted) ? it.redacted : [];
    if (it.type === 'TreatmentPlanAdopted') {
      if (data.next_review_due) nextReview = data.next_review_due;
      if (!Array.isArray(data.goals)) {
        goalsWithheld = goalsWithheld || redacted.includes('goals');
        continue;
      }
      latest = new Set();
      data.goals.forEach((g, i) => {
        const key = g.id ? `id:${g.id}` : `v${it.version}:${i}`;
        latest.add(key);
        const prev = goals.get(key);
        const entry = { kind: 'plan', status: g.status || 'planned', at: it.recorded_at, by: it.originator, version: it.version };
        goals.set(key, {
          key, id: g.id || '', goal: g, plan: it,
          history: prev ? [...prev.history, entry] : [entry],
        });
      });
    } else if (it.type === 'GoalUpdated') {
      const g = data.goal_id ? goals.get(`id:${data.goal_id}`) : null;
      const entry = {
        kind: 'update', status: data.status, date: data.date, note: data.note, at: it.recorded_at, by: it.originator,
        version: it.version, redacted,
      };
      if (g) g.history.push(entry);
      else orphans.push({ ...entry, goalId: data.goal_id });
    } else if (it.type === 'PlanReviewed') {
      reviews.push({ date: data.date, note: data.note, next: data.next_review_due, at: it.recorded_at, by: it.originator, redacted });
      if (data.next_review_due) nextReview = data.next_review_due;
    }
  }
  const list = [...goals.values()].map((g) => ({ ...g, inLatest: !latest || latest.has(g.key) }));
  return { goals: list, orphans, reviews, nextReview, goalsWithheld };
}

/** current is a goal's status now: the last of its history that says one. */
function current(g) {
  for (let i = g.history.length - 1; i >= 0; i--) if (g.history[i].status) return g.history[i].status;
  return 'planned';
}

/**
 * planView renders the overview. why says why withheld fields are withheld;
 * needs is a promise of the needs section's items (null when the reader
 * may not read them), by which each need is given its assessed level;
 * goTo(id) moves the reader to a block of the page (the needs section).
 */
export function planView(items, { why, needs, goTo }) {
  const p = planGoals(items);
  const box = h('div', { class: 'plan', id: 'plan-overview' });
  box.append(h('h4', { class: 'plan-title', text: t('plan.overview') }));
  if (p.goalsWithheld && !p.goals.length) {
    box.append(h('p', { class: 'withheld-note' }, h('strong', {}, t('plan.goalsWithheld')), ' ', why));
  }
  const shown = p.goals.filter((g) => g.inLatest);
  const earlier = p.goals.filter((g) => !g.inLatest);
  if (shown.length) box.append(progressSummary(shown));
  const needLinks = [];
  const goalCard = (g) => {
    const status = current(g);
    const gl = g.goal;
    const needsList = Array.isArray(gl.needs) ? gl.needs : [];
    const needItems = needsList.map((area) => {
      const level = h('span', { class: 'need-level' });
      needLinks.push({ area, level });
      return h('li', {}, h('button', {
        type: 'button', class: 'link need-link', dataset: { need: area },
        on: { click: () => goTo('section-needs') },
      }, tv('enum.needs', area)), level);
    });
    return h('li', { class: `goal goal-${status}`, dataset: { goal: g.id, status } },
      h('h6', { class: 'goal-title' }, g.id ? h('span', { class: 'goal-id', text: g.id }) : null, ' ', gl.description || '—'),
      h('dl', { class: 'kv goal-facts' },
        h('dt', { text: t('plan.answers') }),
        h('dd', {}, needItems.length ? h('ul', { class: 'need-list' }, needItems) : h('span', { class: 'muted', text: t('plan.noNeeds') })),
        h('dt', { text: tv('field', 'responsible') }), h('dd', { class: 'goal-responsible', text: orgName(gl.responsible) }),
        gl.due ? [h('dt', { text: tv('field', 'due') }), h('dd', {}, h('time', { datetime: gl.due, text: fmtDate(gl.due) }))] : null,
        Array.isArray(gl.risk_domains) && gl.risk_domains.length
          ? [h('dt', { text: tv('field', 'risk_domains') }), h('dd', { text: gl.risk_domains.join(', ') })] : null,
        h('dt', { text: t('plan.progress') }), h('dd', {}, goalSteps(status))),
      historyView(g.history, why));
  };
  for (const level of LEVELS) {
    const here = shown.filter((g) => g.goal.stage === level);
    const hid = `plan-level-${level}`;
    box.append(h('section', { class: 'plan-level', dataset: { level }, 'aria-labelledby': hid },
      h('h5', { class: 'plan-level-title', id: hid }, tv('enum.stage', level), ' ',
        h('span', { class: 'sec-state', text: tn('plan.goals', here.length) })),
      here.length ? h('ol', { class: 'goals' }, here.map(goalCard)) : h('p', { class: 'muted', text: t('plan.levelEmpty') })));
  }
  const other = shown.filter((g) => !LEVELS.includes(g.goal.stage));
  if (other.length) box.append(h('ol', { class: 'goals' }, other.map(goalCard)));
  if (earlier.length) {
    box.append(h('details', { class: 'plan-earlier' },
      h('summary', {}, tn('plan.earlier', earlier.length)),
      h('ol', { class: 'goals' }, earlier.map(goalCard))));
  }
  if (p.orphans.length) {
    box.append(h('div', { class: 'plan-orphans' },
      h('p', { class: 'muted', text: t('plan.orphans') }),
      h('ul', {}, p.orphans.map((u) => h('li', {}, h('strong', { text: t('plan.goalId', { id: u.goalId || '—' }) }), ': ',
        updateLine(u, why))))));
  }
  box.append(reviewsView(p, why));
  if (needs && needLinks.length) {
    needs.then((list) => {
      const levels = assessedLevels(list);
      for (const { area, level } of needLinks) {
        if (levels.has(area)) level.textContent = ` (${t('plan.needLevel', { level: tv('enum.level', levels.get(area)) })})`;
      }
    }, () => {});
  }
  return box;
}

/** assessedLevels maps each need area to its level in the latest needs assessment that assessed it. */
function assessedLevels(items) {
  const out = new Map();
  for (const it of [...(items || [])].sort((a, b) => a.version - b.version)) {
    const needs = it.type === 'NeedsAssessmentRecorded' && it.data && Array.isArray(it.data.needs) ? it.data.needs : [];
    for (const n of needs) if (n && n.area && n.level) out.set(n.area, n.level);
  }
  return out;
}

/** progressSummary counts the goals by status, with a bar of those achieved. */
function progressSummary(goals) {
  const by = { planned: 0, 'in-progress': 0, achieved: 0, dropped: 0 };
  for (const g of goals) {
    const s = current(g);
    by[s] = (by[s] || 0) + 1;
  }
  const open = goals.length - by.dropped;
  const label = t('plan.achievedOf', { done: fmtNumber(by.achieved), all: fmtNumber(open) });
  return h('div', { class: 'plan-progress' },
    h('p', { class: 'plan-counts' }, tn('plan.goalsIn', goals.length, { levels: fmtNumber(new Set(goals.map((g) => g.goal.stage)).size) }), ': ',
      Object.entries(by).filter(([, n]) => n > 0).map(([s, n], i) => [i ? ' · ' : '', h('span', { class: `count-${s}`, text: `${tv('enum.status', s)} ${fmtNumber(n)}` })])),
    h('div', { class: 'plan-bar' },
      h('progress', { max: String(Math.max(open, 1)), value: String(by.achieved), 'aria-label': label }),
      h('span', { class: 'plan-bar-text', 'aria-hidden': 'true', text: label })));
}

/** goalSteps shows a goal's status among the steps, or that it was dropped. */
function goalSteps(status) {
  if (status === 'dropped') {
    return h('p', { class: 'goal-dropped' }, h('span', { class: 'status-chip dropped', text: tv('enum.status', 'dropped') }));
  }
  const at = STEPS.indexOf(status);
  return h('ol', { class: 'steps goal-steps', 'aria-label': t('plan.statusIs', { status: tv('enum.status', status) }) },
    STEPS.map((st, i) => h('li', {
      class: i < at ? 'done' : i === at ? 'current' : 'todo', 'aria-current': i === at ? 'step' : null, text: tv('enum.status', st),
    })));
}

/** historyView lists how a goal moved: the plan that set it, then each update. */
function historyView(history, why) {
  return h('details', { class: 'goal-history' },
    h('summary', {}, tn('plan.history', history.length)),
    h('ol', { class: 'goal-events' }, history.map((e) => h('li', { dataset: { status: e.status || '' } },
      e.kind === 'plan'
        ? [h('span', { text: t('plan.inPlan', { org: orgName(e.by) }) }), ' ', h('time', { datetime: e.at, text: fmtTime(e.at) }),
          ': ', h('strong', { text: tv('enum.status', e.status) })]
        : updateLine(e, why)))));
}

/** updateLine shows one goal update: its date, status, note (or that it is withheld) and who wrote it. */
function updateLine(e, why) {
  const withheld = (name) => (e.redacted || []).includes(name);
  const word = (name, text) => withheld(name)
    ? h('span', { class: 'withheld', title: why }, h('span', { class: 'lock', 'aria-hidden': 'true' }, '⊘ '), `${tv('field', name)}: ${t('item.withheldValue')}`)
    : text;
  return [
    word('date', e.date ? h('time', { datetime: e.date, text: fmtDate(e.date) }) : null), ' ',
    word('status', e.status ? h('strong', { text: tv('enum.status', e.status) }) : null), ' ',
    h('span', { class: 'muted', text: t('item.by', { org: orgName(e.by) }) }),
    e.note || withheld('note') ? [' — ', word('note', h('span', { class: 'goal-note', text: e.note }))] : null,
  ];
}

/** reviewsView lists the plan's reviews and the next review due. */
function reviewsView(p, why) {
  return h('div', { class: 'plan-reviews' },
    h('h5', { text: t('plan.reviews') }),
    p.reviews.length
      ? h('ul', {}, p.reviews.map((r) => h('li', {},
        (r.redacted || []).includes('date') ? h('span', { class: 'withheld', title: why }, t('item.withheldValue'))
          : h('time', { datetime: r.date, text: fmtDate(r.date) }), ' ',
        h('span', { class: 'muted', text: t('item.by', { org: orgName(r.by) }) }),
        r.note ? [' — ', r.note] : null,
        (r.redacted || []).includes('note') ? [' — ', h('span', { class: 'withheld', title: why }, `${tv('field', 'note')}: ${t('item.withheldValue')}`)] : null)))
      : h('p', { class: 'muted', text: t('plan.noReviews') }),
    p.nextReview ? h('p', {}, t('plan.nextReview'), ' ', h('time', { datetime: p.nextReview, text: fmtDate(p.nextReview) })) : null);
}
