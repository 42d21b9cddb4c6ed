// The console's entry point: the router (hash-based: #/cases, #/cases/ID,
// #/audit, #/break-glass, #/stats, #/signin), the header with who is signed in
// and the purpose of their reads, and the sign-in page: the organisations'
// identity providers (oidc.js), the demo identities on a demo hub, a pasted
// token.

import {
  PURPOSES, call, clearSession, keepReturn, peekReturn, saveSession, session, setPurpose, storedSession, takeReturn,
  tokenClaims,
} from './api.js';
import { SignInError, completeSignIn, forget, isCallback, providers, startSignIn } from './oidc.js';
import { announce, clear, field, h, problemView } from './dom.js';
import { caseListView, caseView } from './cases.js';
import { auditView } from './audit.js';
import { statsView } from './stats.js';

const main = document.getElementById('main');

/** The purposes that read cases (the others are oversight and research). */
const CASE_PURPOSES = ['case-management', 'risk-management', 'reintegration', 'case-conference'];

/**
 * pages lists the pages that serve a purpose, as [hash, label, shows(path)]:
 * the navigation. The hub decides what the user may read; this only spares
 * them pages that would answer 403 for their purpose.
 */
function pages(purpose) {
  const out = [];
  if (CASE_PURPOSES.includes(purpose)) out.push(['#/cases', 'Cases', (p) => p.startsWith('/cases')]);
  if (purpose === 'oversight') {
    out.push(['#/audit', 'Access history', (p) => p === '/audit'],
      ['#/break-glass', 'Break-glass use', (p) => p === '/break-glass']);
  }
  if (purpose === 'oversight' || purpose === 'research') out.push(['#/stats', 'Statistics', (p) => p === '/stats']);
  return out;
}

/** landing is where a signed-in user starts: the first page of their purpose. */
function landing(s) {
  const first = pages(s.purpose)[0];
  return first ? first[0] : '#/cases';
}

/** parseRoute splits the hash into a path ("/cases/ID") and its query. */
function parseRoute() {
  const raw = location.hash.startsWith('#/') ? location.hash.slice(1) : '/';
  const [path, query] = raw.split('?');
  return { path, params: new URLSearchParams(query || '') };
}

/** render draws the page the hash names. */
async function render() {
  const hash = location.hash;
  const { path, params } = parseRoute();
  const s = session();
  renderHeader(s, path);
  const view = h('div', { class: 'view' });
  clear(main).append(view);
  delete main.dataset.ready;
  delete main.dataset.route;
  delete main.dataset.hash;
  if (!s || path === '/signin') {
    if (s && path === '/signin') {
      location.replace(landing(s));
      return;
    }
    await signInView(view, params);
    return finish(view, 'Sign in', '/signin', hash);
  }
  if (path === '/') {
    location.replace(landing(s));
    return;
  }
  let title = 'Not found';
  const m = path.match(/^\/cases\/([^/]+)$/);
  if (path === '/cases') title = await caseListView(view, params);
  else if (m) title = await caseView(view, decodeURIComponent(m[1]));
  else if (path === '/audit') title = await auditView(view, params, false);
  else if (path === '/break-glass') title = await auditView(view, params, true);
  else if (path === '/stats') title = await statsView(view);
  else view.append(h('h1', { tabindex: '-1', text: 'Not found' }), h('p', {}, 'This page does not exist. ', h('a', { href: landing(s) }, 'Go to the start page.')));
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

/** renderHeader shows the navigation for the purpose, who is signed in, and the purpose picker. */
function renderHeader(s, path) {
  const nav = clear(document.getElementById('nav'));
  const who = clear(document.getElementById('who'));
  if (!s) return;
  nav.append(h('ul', {}, pages(s.purpose).map(([href, text, shows]) =>
    h('li', {}, h('a', { href, 'aria-current': shows(path) ? 'page' : null, text })))));

  const purpose = h('select', { id: 'purpose-select' },
    PURPOSES.map((p) => h('option', { value: p, selected: p === s.purpose }, p)));
  purpose.addEventListener('change', () => {
    setPurpose(purpose.value);
    announce(`Purpose set to ${purpose.value}. Your reads now state this purpose.`);
    // Stay on this page if it serves the new purpose, else go to the purpose's start page.
    const next = session();
    const { path: p } = parseRoute();
    if (pages(next.purpose).some(([, , shows]) => shows(p))) render();
    else location.hash = landing(next);
  });
  who.append(
    h('p', { class: 'who-name' }, h('span', { class: 'visually-hidden' }, 'Signed in as '), h('strong', { text: s.label || s.sub })),
    h('p', { class: 'who-org', text: [s.agency, (s.roles || []).join(', ')].filter(Boolean).join(' · ') }),
    h('div', { class: 'who-purpose' }, h('label', { for: purpose.id, text: 'Purpose' }), purpose),
    h('button', { type: 'button', class: 'secondary', on: { click: signOut } }, 'Sign out'));
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
  if (end) {
    location.assign(end);
    return;
  }
  location.hash = '#/signin';
  announce('Signed out. The token was removed from this tab.');
}

/**
 * signIn keeps a token for this tab and opens the page the user asked for
 * (a link followed while signed out), else their start page.
 */
function signIn(token, purpose, label) {
  const c = tokenClaims(token) || {};
  const s = {
    token, purpose: purpose || c.purpose || '', sub: c.sub || '', agency: c.agency || '',
    roles: Array.isArray(c.roles) ? c.roles : [], label: label || c.sub || 'Signed in',
  };
  saveSession(s);
  const { path } = parseRoute();
  const target = takeReturn() || (path === '/' || path === '/signin' ? landing(s) : location.hash);
  if (location.hash === target) render();
  else location.hash = target;
}

/** signInView offers the demo identities (in demo mode) and, always, a token form. */
async function signInView(view, params) {
  view.append(h('h1', { tabindex: '-1', text: 'Sign in to Liaison' }),
    h('p', { class: 'lead' }, 'Liaison shares case information between the organisations working with a participant, ',
      'each seeing what its mandate and the participant\'s consent allow. Every read is recorded for the oversight board.'));
  const stored = storedSession();
  if (params.get('expired')) {
    view.append(h('div', { class: 'problem', role: 'alert' },
      h('p', {}, h('strong', {}, 'Signed out: the hub refused the token.'), ' It may have expired, or not be valid for this hub. Sign in again: you will come back to the page you were on.')));
  } else if (stored && stored.kind === 'oidc') {
    view.append(h('div', { class: 'problem', role: 'alert' },
      h('p', {}, h('strong', {}, 'Your sign-in ended in this tab.'), ' The page was reloaded, or your session at your organisation could not be renewed. Sign in again: you will come back to this page.')));
  }
  if (ssoError) {
    view.append(h('div', { class: 'problem', role: 'alert' }, h('p', {}, h('strong', {}, 'Sign-in failed. '), ssoError)));
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

/**
 * providerList offers the organisations' identity providers: pick your
 * organisation and the purpose of your reads, sign in at its provider, and
 * come back to the page you were on.
 */
function providerList(listed, stored) {
  const last = (stored && stored.kind === 'oidc' && stored.provider) || (peekReturn() || {}).provider || '';
  const purpose = h('select', { id: 'sso-purpose' },
    PURPOSES.map((p) => h('option', { value: p, selected: p === ((stored && stored.purpose) || 'case-management') }, p)));
  const err = h('div', { 'aria-live': 'assertive' });
  const list = h('ul', { class: 'personas providers' });
  for (const p of listed) {
    const btn = h('button', { type: 'button', class: p.id === last ? 'persona provider current' : 'persona provider', dataset: { provider: p.id } },
      h('span', { class: 'persona-name', text: p.label }),
      h('span', { class: 'persona-meta' }, p.organisations.map((o, i) => [i ? ' · ' : '', h('span', { class: 'nowrap', text: o })])));
    btn.addEventListener('click', async () => {
      clear(err);
      btn.disabled = true;
      const { path } = parseRoute();
      const back = takeReturn() || (path === '/' || path === '/signin' ? '' : location.hash);
      try {
        await startSignIn(p, purpose.value, back);
      } catch {
        err.append(problemView({ problem: { title: 'Sign-in failed', detail: 'this browser cannot start a secure sign-in here' } }));
        btn.disabled = false;
      }
    });
    list.append(h('li', {}, btn));
  }
  return h('section', { class: 'card', 'aria-labelledby': 'sso-h' },
    h('h2', { id: 'sso-h', text: 'Sign in with your organisation' }),
    h('p', {}, 'Pick your organisation: you sign in at its own identity provider and come back here. Your token is kept in this tab\'s memory only.'),
    field('Purpose of your reads', purpose, 'Every read states a purpose; the protocol refuses one outside your organisation\'s remit.'),
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
      label: c.name || c.preferred_username || c.email || c.sub || 'Signed in',
      agency: orgs.length === 1 ? orgs[0] : r.provider.label, roles: [],
    };
    saveSession(s);
    const back = r.back && !r.back.startsWith('#/signin') && r.back !== '#/' ? r.back : landing(s);
    history.replaceState(null, '', `/${back}`);
    announce(`Signed in as ${s.label}.`);
  } catch (e) {
    ssoError = e instanceof SignInError ? e.message : 'The sign-in could not be completed.';
    history.replaceState(null, '', '/#/signin');
  }
}

function renderPersonas(box, personas) {
  box.append(h('h2', { id: 'demo-h', text: 'Demo identities' }),
    h('p', {}, 'This hub runs with the synthetic demo data set. Pick who you are: the hub issues you a development token, valid for 8 hours, kept in this browser tab only.'));
  const err = h('div', { 'aria-live': 'assertive' });
  const list = h('ul', { class: 'personas' });
  for (const p of personas) {
    const name = p.label.split(' — ')[0];
    const role = p.label.includes(' — ') ? p.label.split(' — ').slice(1).join(' — ') : '';
    const btn = h('button', { type: 'button', class: 'persona', dataset: { sub: p.sub } },
      h('span', { class: 'persona-name', text: name }),
      role ? h('span', { class: 'persona-role', text: role }) : null,
      h('span', { class: 'persona-meta' }, [p.agency, p.roles.join(', '), p.purpose].map((x, i) =>
        [i ? ' · ' : '', h('span', { class: 'nowrap', text: x })])));
    btn.addEventListener('click', async () => {
      clear(err);
      btn.disabled = true;
      try {
        const { token } = await call('POST', '/demo/token', { sub: p.sub });
        signIn(token, p.purpose, p.label);
        announce(`Signed in as ${p.label}.`);
      } catch (e) {
        err.append(problemView(e, 'Sign-in failed'));
        btn.disabled = false;
      }
    });
    list.append(h('li', {}, btn));
  }
  box.append(list, err);
}

function tokenForm() {
  const token = h('textarea', { id: 'token-input', rows: '4', required: true, autocomplete: 'off', spellcheck: 'false' });
  const purpose = h('select', { id: 'token-purpose' },
    h('option', { value: '' }, 'The purpose in the token'), PURPOSES.map((p) => h('option', { value: p }, p)));
  const err = h('div', { 'aria-live': 'assertive' });
  const form = h('form', { class: 'token-form', novalidate: true },
    field('Bearer token (JWT)', token, 'From your organisation\'s identity provider, or "liaison token" on a development hub.'),
    field('Purpose of your reads', purpose, 'Every read states a purpose; the protocol refuses one outside your organisation\'s remit.'),
    h('button', { type: 'submit' }, 'Sign in with this token'), err);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clear(err);
    const t = token.value.trim();
    const claims = tokenClaims(t);
    const problems = [];
    if (!claims) problems.push({ field: 'token', message: 'is not a JSON Web Token (three base64url parts separated by dots)' });
    else if (!purpose.value && !claims.purpose) problems.push({ field: 'purpose', message: 'choose one: the token states no purpose' });
    if (problems.length) {
      err.append(problemView({ problem: { title: 'Cannot sign in', errors: problems } }));
      (claims ? purpose : token).focus();
      return;
    }
    signIn(t, purpose.value, '');
  });
  return h('section', { class: 'card', 'aria-labelledby': 'token-h' },
    h('h2', { id: 'token-h', text: 'Paste a token' }), form);
}

window.addEventListener('liaison:unauthorized', () => {
  // Keep the page across the sign-in again (and the provider's redirect).
  const stored = storedSession();
  const hash = location.hash;
  forget();
  clearSession();
  if (!hash.startsWith('#/signin')) keepReturn(hash, stored && stored.kind === 'oidc' ? stored.provider : '');
  location.hash = '#/signin?expired=1';
});
window.addEventListener('hashchange', render);
window.addEventListener('liaison:refresh', render); // e.g. after break-glass, the case again
document.getElementById('skip').addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});
if (isCallback()) finishProviderSignIn().then(render);
else render();
