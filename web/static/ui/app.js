// The console's entry point: the router (hash-based: #/cases, #/cases/new,
// #/cases/ID, #/audit, #/break-glass, #/activity, #/alerts, #/erasures,
// #/erasures/REQUEST, #/stats, #/subscriptions, #/signin), the header — who is signed in,
// the purposes of their organisation, the language — and the sign-in page:
// the organisations' identity providers (oidc.js), the demo identities on a
// demo hub, a pasted token. A token the hub refuses while someone works
// opens a sign-in dialog over the page (reauth.js): the page and what was
// typed stay, and the call is retried once signed in.

import {
  PURPOSES, call, clearSession, forgetMe, keepReturn, me, peekReturn, saveSession, session, setPurpose, storedSession, takeReturn,
  tokenClaims,
} from './api.js';
import { SignInError, completeSignIn, forget, isCallback, providers, startSignIn } from './oidc.js';
import { announce, clear, field, h, heading, problemView } from './dom.js';
import { LANGUAGES, lang, orgName, preferred, setLang, t, tv } from './i18n.js';
import { caseListView, caseView } from './cases.js';
import { activityView, auditView, breakGlassView } from './audit.js';
import { confirmView, erasuresView } from './erasure.js';
import { statsView } from './stats.js';
import { feedPurposes, subscriptionsView } from './subscriptions.js';
import { alertsView } from './alerts.js';
import { openCaseView } from './write.js';
import { installReauth } from './reauth.js';

const main = document.getElementById('main');

/** The purposes that read cases (the others are oversight and research). */
const CASE_PURPOSES = ['case-management', 'risk-management', 'reintegration', 'case-conference'];

/**
 * pages lists the pages that serve the purpose in force, as [hash, label,
 * shows(path)]: the navigation. /v1/me says which services the person may
 * use for which purpose; without it (the hub could not say), the purpose
 * alone decides. The hub decides what the person may read; this only spares
 * them pages that would answer 403.
 */
function pages(purpose, who) {
  const serves = (service, fallback) => {
    const sv = who && who.services;
    if (!sv) return fallback;
    return (sv[service] || []).includes(purpose);
  };
  const audit = serves('audit.records', purpose === 'oversight');
  const out = [];
  if (serves('case.list', CASE_PURPOSES.includes(purpose))) out.push(['#/cases', t('nav.cases'), (p) => p.startsWith('/cases')]);
  if (audit) out.push(['#/audit', t('nav.audit'), (p) => p === '/audit']);
  if (who && who.services && who.services['audit.break-glass'] ? serves('audit.break-glass', false) : audit) {
    out.push(['#/break-glass', t('nav.breakGlass'), (p) => p === '/break-glass']);
  }
  if (who && who.services && who.services['audit.summary'] ? serves('audit.summary', false) : audit) {
    out.push(['#/activity', t('nav.activity'), (p) => p === '/activity']);
  }
  if (serves('audit.alerts', false)) out.push(['#/alerts', t('nav.alerts'), (p) => p === '/alerts']);
  if (serves('erasure.list', false)) out.push(['#/erasures', t('nav.erasures'), (p) => p.startsWith('/erasures')]);
  if (serves('stats', purpose === 'oversight' || purpose === 'research')) out.push(['#/stats', t('nav.stats'), (p) => p === '/stats']);
  // Feed subscriptions: for an organisation the hub lets follow a feed, for
  // whichever purpose is in force (each subscription names its own).
  if (who && who.services ? feedPurposes(who).length > 0 : CASE_PURPOSES.includes(purpose)) {
    out.push(['#/subscriptions', t('subs.nav'), (p) => p === '/subscriptions']);
  }
  return out;
}

/** whoIs returns /v1/me for the signed-in person, or null when the hub cannot say. */
async function whoIs() {
  try {
    return await me();
  } catch {
    return null;
  }
}

/**
 * landing is where a signed-in user starts: the first page of their purpose
 * (a data-protection officer's, the erasures).
 */
function landing(s, who) {
  const all = pages(s.purpose, who);
  const decides = who && who.services && (who.services['erasure.decide'] || []).includes(s.purpose);
  const first = (decides && all.find(([href]) => href === '#/erasures')) || all[0];
  return first ? first[0] : '#/cases';
}

/** parseRoute splits the hash into a path ("/cases/ID") and its query. */
function parseRoute() {
  const raw = location.hash.startsWith('#/') ? location.hash.slice(1) : '/';
  const [path, query] = raw.split('?');
  return { path, params: new URLSearchParams(query || '') };
}

let drawing = 0;

/** render draws the page the hash names. */
async function render() {
  const turn = ++drawing;
  const hash = location.hash;
  const { path, params } = parseRoute();
  let s = session();
  const who = s ? await whoIs() : null;
  if (turn !== drawing) return; // a newer navigation is drawing
  s = session();
  if (s && who && (s.agency !== who.agency || (s.roles || []).join() !== (who.roles || []).join())) {
    // The hub says who the person is (a provider's token names no organisation the console can read).
    saveSession({ ...storedSession(), agency: who.agency, roles: who.roles || [] });
    s = session();
  }
  if (s && who && who.purposes && who.purposes.length && !who.purposes.includes(s.purpose)) {
    // A purpose outside the organisation's remit would only be refused: take its first.
    setPurpose(who.purposes[0]);
    s = session();
  }
  renderHeader(s, who, path);
  announce('');
  const view = h('div', { class: 'view' });
  clear(main).append(view);
  delete main.dataset.ready;
  delete main.dataset.route;
  delete main.dataset.hash;
  if (!s || path === '/signin') {
    if (s && path === '/signin') {
      location.replace(landing(s, who));
      return;
    }
    await signInView(view, params);
    return finish(view, t('signin.title'), '/signin', hash);
  }
  if (path === '/') {
    location.replace(landing(s, who));
    return;
  }
  let title = t('app.notFound');
  const m = path.match(/^\/cases\/([^/]+)$/);
  const er = path.match(/^\/erasures\/([^/]+)$/);
  if (path === '/cases') title = await caseListView(view, params);
  else if (path === '/cases/new') title = await openCaseView(view);
  else if (m) title = await caseView(view, decodeURIComponent(m[1]));
  else if (path === '/audit') title = await auditView(view, params);
  else if (path === '/break-glass') title = await breakGlassView(view, params);
  else if (path === '/activity') title = await activityView(view, params);
  else if (path === '/alerts') title = await alertsView(view, params);
  else if (path === '/erasures') title = await erasuresView(view, params);
  else if (er) title = await confirmView(view, decodeURIComponent(er[1]));
  else if (path === '/stats') title = await statsView(view);
  else if (path === '/subscriptions') title = await subscriptionsView(view);
  else view.append(heading(t('app.notFound')), h('p', {}, t('app.noPage'), ' ', h('a', { href: landing(s, who) }, t('app.toStart'))));
  finish(view, title, path, hash);
}

/**
 * finish titles the document, moves the focus to the page heading and marks
 * the page as drawn: data-ready, data-route (the path) and data-hash (the
 * whole hash) on <main>, which browser tests wait for.
 */
function finish(view, title, path, hash) {
  if (!view.isConnected) return;
  document.title = `${title} — Liaison`;
  // Move the focus to the new page's heading, unless the user already moved
  // into the page while it loaded.
  const h1 = view.querySelector('h1');
  if (h1 && !view.contains(document.activeElement)) h1.focus();
  main.dataset.route = path;
  main.dataset.hash = hash;
  main.dataset.ready = 'true';
}

/** languagePicker lets the person choose the console's language. */
function languagePicker() {
  const sel = h('select', { id: 'lang-select', class: 'lang-select' },
    LANGUAGES.map((l) => h('option', { value: l.code, lang: l.code, selected: l.code === lang() }, l.name)));
  sel.addEventListener('change', async () => {
    delete main.dataset.ready; // the page is drawn again, in the new language
    await setLang(sel.value, true);
    staticTexts();
    await render();
    announce(t('app.langSet'));
    const again = document.getElementById('lang-select');
    if (again) again.focus();
  });
  return h('div', { class: 'who-lang' }, h('label', { for: sel.id, text: t('app.language') }), sel);
}

/** renderHeader shows the navigation for the purpose, who is signed in, the purpose picker and the language. */
function renderHeader(s, who, path) {
  const nav = clear(document.getElementById('nav'));
  const box = clear(document.getElementById('who'));
  if (!s) {
    box.append(languagePicker());
    return;
  }
  nav.append(h('ul', {}, pages(s.purpose, who).map(([href, text, shows]) =>
    h('li', {}, h('a', { href, 'aria-current': shows(path) ? 'page' : null, text })))));
  const offered = who && who.purposes && who.purposes.length ? who.purposes : PURPOSES;
  const purpose = h('select', { id: 'purpose-select' },
    offered.map((p) => h('option', { value: p, selected: p === s.purpose }, tv('purpose', p))));
  purpose.addEventListener('change', () => {
    setPurpose(purpose.value);
    announce(t('app.purposeSet', { purpose: tv('purpose', purpose.value) }));
    // Stay on this page if it serves the new purpose, else go to the purpose's start page.
    const next = session();
    const { path: p } = parseRoute();
    if (pages(next.purpose, who).some(([, , shows]) => shows(p))) render();
    else location.hash = landing(next, who);
  });
  const agency = (who && who.agency) || s.agency;
  const roles = (who && who.roles) || s.roles || [];
  box.append(
    h('p', { class: 'who-name' }, h('span', { class: 'visually-hidden' }, t('app.signedInAs'), ' '), h('strong', { text: s.label || s.sub })),
    h('p', { class: 'who-org', text: [agency ? orgName(agency) : '', roles.map((r) => tv('role', r)).join(', ')].filter(Boolean).join(' · ') }),
    h('div', { class: 'who-purpose' }, h('label', { for: purpose.id, text: t('app.purpose') }), purpose),
    languagePicker(),
    h('button', { type: 'button', class: 'secondary', on: { click: signOut } }, t('app.signOut')));
}

/** staticTexts translates the page's own markup (index.html): the skip link, the navigation's name. */
function staticTexts() {
  document.getElementById('skip').textContent = t('app.skip');
  document.getElementById('nav').setAttribute('aria-label', t('nav.label'));
}

/**
 * signOut forgets the token and, after a sign-in at an identity provider
 * that supports it, ends the session there too (its end_session_endpoint,
 * which sends the browser back to the console).
 */
function signOut() {
  const stored = storedSession();
  const end = stored && stored.kind === 'oidc' ? forget() : '';
  clearSession();
  forgetMe();
  if (end) {
    location.assign(end);
    return;
  }
  location.hash = '#/signin';
  announce(t('app.signedOut'));
}

/**
 * signIn keeps a token for this tab and opens the page the user asked for
 * (a link followed while signed out), else their start page.
 */
async function signIn(token, purpose, label, persona) {
  const c = tokenClaims(token) || {};
  const s = {
    token, purpose: purpose || c.purpose || '', sub: c.sub || '', agency: c.agency || '',
    roles: Array.isArray(c.roles) ? c.roles : [], label: label || c.sub || t('app.signedIn'), persona: persona || '',
  };
  saveSession(s);
  forgetMe();
  const who = await whoIs();
  const { path } = parseRoute();
  const target = takeReturn() || (path === '/' || path === '/signin' ? landing(s, who) : location.hash);
  if (location.hash === target) render();
  else location.hash = target;
}

/** personaName is a demo persona's first name (the hub's label starts with it). */
function personaName(p) {
  return String(p.label || p.sub).split(' — ')[0];
}

/** signInView offers the providers, the demo identities (in demo mode) and, always, a token form. */
async function signInView(view, params) {
  view.append(heading(t('signin.title')), h('p', { class: 'lead', text: t('signin.lead') }));
  const stored = storedSession();
  if (params.get('expired')) {
    view.append(h('div', { class: 'problem', role: 'alert' }, h('p', {}, h('strong', {}, t('signin.expiredTitle')), ' ', t('signin.expired'))));
  } else if (stored && stored.kind === 'oidc') {
    view.append(h('div', { class: 'problem', role: 'alert' }, h('p', {}, h('strong', {}, t('signin.endedTitle')), ' ', t('signin.ended'))));
  }
  if (ssoError) {
    view.append(h('div', { class: 'problem', role: 'alert' }, h('p', {}, h('strong', {}, t('signin.failed')), ' ', ssoError)));
    ssoError = '';
  }
  const listed = await providers();
  if (listed.length) view.append(providerList(listed, stored));
  const demoBox = h('section', { class: 'card', 'aria-labelledby': 'demo-h' });
  view.append(demoBox);
  try {
    const personas = await call('GET', '/demo/personas');
    renderPersonas(demoBox, personas);
  } catch {
    demoBox.remove(); // Not a demo hub: only the token form.
  }
  view.append(tokenForm());
}

/** ssoError is what went wrong when a provider sent the browser back, to show once. */
let ssoError = '';

/** purposeSelect offers every purpose (nobody is signed in yet: the hub refuses one outside the remit). */
function purposeSelect(id, selected, first) {
  return h('select', { id }, first ? h('option', { value: '' }, first) : null,
    PURPOSES.map((p) => h('option', { value: p, selected: p === selected }, tv('purpose', p))));
}

/**
 * providerList offers the organisations' identity providers: pick your
 * organisation and the purpose of your reads, sign in at its provider, and
 * come back to the page you were on.
 */
function providerList(listed, stored) {
  const last = (stored && stored.kind === 'oidc' && stored.provider) || (peekReturn() || {}).provider || '';
  const purpose = purposeSelect('sso-purpose', (stored && stored.purpose) || 'case-management');
  const err = h('div', { 'aria-live': 'assertive' });
  const list = h('ul', { class: 'personas providers' });
  for (const p of listed) {
    const btn = h('button', { type: 'button', class: p.id === last ? 'persona provider current' : 'persona provider', dataset: { provider: p.id } },
      h('span', { class: 'persona-name', text: p.label }),
      h('span', { class: 'persona-meta' }, p.organisations.map((o, i) => [i ? ' · ' : '', h('span', { class: 'nowrap', text: orgName(o) })])));
    btn.addEventListener('click', async () => {
      clear(err);
      btn.disabled = true;
      const { path } = parseRoute();
      const back = takeReturn() || (path === '/' || path === '/signin' ? '' : location.hash);
      try {
        await startSignIn(p, purpose.value, back);
      } catch {
        err.append(problemView(null, '', t('signin.cannotStart')));
        btn.disabled = false;
      }
    });
    list.append(h('li', {}, btn));
  }
  return h('section', { class: 'card', 'aria-labelledby': 'sso-h' },
    h('h2', { id: 'sso-h', text: t('signin.sso') }),
    h('p', { text: t('signin.ssoLead') }),
    field(t('signin.purpose'), purpose, t('signin.purposeHint')),
    list, err);
}

/**
 * finishProviderSignIn completes a sign-in the provider sent the browser back
 * from (the console's callback page), then shows the page the person was on.
 */
async function finishProviderSignIn() {
  try {
    const r = await completeSignIn();
    const c = r.claims;
    const orgs = r.provider.organisations;
    const s = {
      kind: 'oidc', provider: r.provider.id, purpose: r.purpose || '', sub: c.sub || '',
      label: c.name || c.preferred_username || c.email || c.sub || t('app.signedIn'),
      agency: orgs.length === 1 ? orgs[0] : r.provider.label, roles: [],
    };
    saveSession(s);
    forgetMe();
    const back = r.back && !r.back.startsWith('#/signin') && r.back !== '#/' ? r.back : landing(s, await whoIs());
    history.replaceState(null, '', `/${back}`);
    announce(t('app.signedInAs') + ` ${s.label}.`);
  } catch (e) {
    ssoError = e instanceof SignInError ? e.message : t('signin.notCompleted');
    history.replaceState(null, '', '/#/signin');
  }
}

function renderPersonas(box, personas) {
  box.append(h('h2', { id: 'demo-h', text: t('signin.demo') }), h('p', { text: t('signin.demoLead') }));
  const err = h('div', { 'aria-live': 'assertive' });
  const list = h('ul', { class: 'personas' });
  for (const p of personas) {
    const name = personaName(p);
    const btn = h('button', { type: 'button', class: 'persona', dataset: { sub: p.sub } },
      h('span', { class: 'persona-name', text: name }),
      h('span', { class: 'persona-role', text: (p.roles || []).map((r) => tv('role', r)).join(', ') }),
      h('span', { class: 'persona-meta' }, [orgName(p.agency), tv('purpose', p.purpose)].map((x, i) =>
        [i ? ' · ' : '', h('span', { class: 'nowrap', text: x })])));
    btn.addEventListener('click', async () => {
      clear(err);
      btn.disabled = true;
      try {
        const { token } = await call('POST', '/demo/token', { sub: p.sub });
        const label = `${name} — ${(p.roles || []).map((r) => tv('role', r)).join(', ')}`;
        await signIn(token, p.purpose, label, p.sub);
        announce(`${t('app.signedInAs')} ${label}.`);
      } catch (e) {
        err.append(problemView(e, t('signin.failed')));
        btn.disabled = false;
      }
    });
    list.append(h('li', {}, btn));
  }
  box.append(list, err);
}

function tokenForm() {
  const token = h('textarea', { id: 'token-input', rows: '4', 'aria-required': 'true', autocomplete: 'off', spellcheck: 'false' });
  const purpose = purposeSelect('token-purpose', '', t('signin.tokenPurposeDefault'));
  const err = h('div', { 'aria-live': 'assertive' });
  const form = h('form', { class: 'token-form', novalidate: true },
    field(t('signin.token'), token, t('signin.tokenHint')),
    field(t('signin.purpose'), purpose, t('signin.purposeHint')),
    h('button', { type: 'submit' }, t('signin.tokenSubmit')), err);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clear(err);
    const tk = token.value.trim();
    const claims = tokenClaims(tk);
    let problem = '';
    if (!claims) problem = t('signin.notJwt');
    else if (!purpose.value && !claims.purpose) problem = t('signin.noPurpose');
    if (problem) {
      err.append(h('div', { class: 'problem', role: 'alert' }, h('p', { text: problem })));
      (claims ? purpose : token).focus();
      return;
    }
    signIn(tk, purpose.value, '');
  });
  return h('section', { class: 'card', 'aria-labelledby': 'token-h' },
    h('h2', { id: 'token-h', text: t('signin.paste') }), form);
}

/** leave gives up the page after a refused sign-in: forget the token, keep the page to come back to. */
function leave() {
  const stored = storedSession();
  const hash = location.hash;
  forget();
  clearSession();
  forgetMe();
  if (!hash.startsWith('#/signin')) keepReturn(hash, stored && stored.kind === 'oidc' ? stored.provider : '');
  location.hash = '#/signin?expired=1';
}

window.addEventListener('hashchange', render);
window.addEventListener('liaison:refresh', render); // e.g. after break-glass, the case again
document.getElementById('skip').addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});

(async () => {
  await setLang(preferred(), false);
  staticTexts();
  installReauth({ leave, redraw: render });
  if (isCallback()) await finishProviderSignIn();
  render();
})();
