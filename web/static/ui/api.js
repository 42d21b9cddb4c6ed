// The console's only door to the hub: the session (purpose, who, and the token
// of a demo or pasted sign-in) kept in sessionStorage — never in lasting
// storage, never a cookie; the tokens of a sign-in at an identity provider
// only in memory (oidc.js) — and one fetch wrapper that adds the bearer token
// and the purpose, refreshes a provider's token when it is about to expire,
// and turns problem+json answers into ApiError.

import { accessToken, freshToken, refresh } from './oidc.js';

const SESSION = 'liaison.session';
const RETURN = 'liaison.return';

/** The purposes a read may state (docs/api.md, "The purpose of a read"); /v1/me says which are the caller's. */
export const PURPOSES = ['case-management', 'risk-management', 'reintegration', 'case-conference', 'oversight', 'research'];

/** The sections of a case, in the protocol's order. */
export const SECTIONS = ['profile', 'consent', 'risk', 'needs', 'plan', 'interventions', 'counselling',
  'conferences', 'security', 'family', 'transition', 'outcomes'];

/** The case stages, in order. */
export const STAGES = ['intake', 'assessment', 'intervention', 'transition', 'released', 'closed'];

/**
 * storedSession returns what this tab remembers of its sign-in, or null:
 * {kind: 'oidc', provider, purpose, sub, agency, roles, label} for a sign-in
 * at an identity provider (its token is in memory only), else {token,
 * purpose, sub, agency, roles, label}.
 */
export function storedSession() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION) || 'null');
  } catch {
    return null;
  }
}

/**
 * session returns {token, purpose, sub, agency, roles, label, ...} or null
 * when nobody is signed in in this tab (for a provider's sign-in, also when
 * its token is gone: the page was reloaded, or it could not be refreshed).
 */
export function session() {
  const s = storedSession();
  if (s && s.kind === 'oidc') {
    const token = accessToken();
    return token ? { ...s, token } : null;
  }
  return s && s.token ? s : null;
}

/** saveSession stores the session of this tab. */
export function saveSession(s) {
  sessionStorage.setItem(SESSION, JSON.stringify(s));
}

/** setPurpose changes the purpose stated on every following read. */
export function setPurpose(purpose) {
  const s = storedSession();
  if (s) saveSession({ ...s, purpose });
}

/** clearSession forgets the token and everything remembered in this tab. */
export function clearSession() {
  sessionStorage.clear();
}

/**
 * keepReturn remembers, across a sign-in (and a provider's redirect), the
 * page to come back to and the provider signed in with last.
 */
export function keepReturn(hash, provider) {
  sessionStorage.setItem(RETURN, JSON.stringify({ hash, provider: provider || '' }));
}

/** peekReturn returns {hash, provider} kept by keepReturn, or null. */
export function peekReturn() {
  try {
    return JSON.parse(sessionStorage.getItem(RETURN) || 'null');
  } catch {
    return null;
  }
}

/** takeReturn returns the page kept by keepReturn and forgets it ('' when none). */
export function takeReturn() {
  const r = peekReturn();
  sessionStorage.removeItem(RETURN);
  return r && typeof r.hash === 'string' ? r.hash : '';
}

/** remember and recall keep small per-tab values (e.g. a checkpoint seen). */
export function remember(key, value) {
  sessionStorage.setItem(`liaison.${key}`, JSON.stringify(value));
}

export function recall(key) {
  try {
    return JSON.parse(sessionStorage.getItem(`liaison.${key}`) || 'null');
  } catch {
    return null;
  }
}

/**
 * tokenClaims decodes a JWT's payload for display and defaults only (the hub
 * verifies the token; the console never trusts these claims for anything
 * else). It returns null when the text is not a JWT.
 */
export function tokenClaims(token) {
  const parts = String(token).trim().split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/** ApiError is a refused or failed call: status and the problem document. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title);
    this.status = status;
    this.problem = problem;
  }
}

/**
 * onUnauthorized registers what the console does when the hub refuses the
 * token of a signed-in person (401): fn returns a promise of true once the
 * person signed in again (the call is then retried once), or false.
 */
let reauth = null;
export function onUnauthorized(fn) {
  reauth = fn;
}

/**
 * call sends one request to the hub as the signed-in user and returns the
 * parsed JSON answer. It throws ApiError for any answer but 2xx (status 0
 * when the hub cannot be reached). A 401 while signed in asks the person to
 * sign in again (onUnauthorized) without leaving the page, then retries the
 * call once with the new token: a form being submitted is submitted.
 */
export async function call(method, path, body, retried) {
  let s = session();
  if (s && s.kind === 'oidc') {
    const token = await freshToken();
    s = token ? { ...s, token } : null;
  }
  const headers = { Accept: 'application/json, application/problem+json' };
  if (s) {
    headers.Authorization = `Bearer ${s.token}`;
    if (s.purpose) headers['Liaison-Purpose'] = s.purpose;
  }
  const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    throw new ApiError(0, { title: '', detail: '', errors: [] });
  }
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (resp.ok) return data;
  const p = data && typeof data === 'object' ? data : {};
  const err = new ApiError(resp.status, {
    type: typeof p.type === 'string' ? p.type : '',
    title: p.title || resp.statusText || `Error ${resp.status}`,
    detail: typeof p.detail === 'string' ? p.detail : '',
    errors: Array.isArray(p.errors) ? p.errors : [],
  });
  if (resp.status === 401 && (s || storedSession()) && !retried) {
    // A provider's token the hub refuses may have been revoked or rotated
    // early: one refresh, one more try.
    if (s && s.kind === 'oidc' && await refresh()) return call(method, path, body, true);
    if (reauth && await reauth()) return call(method, path, body, true);
  }
  throw err;
}

/** get is call('GET', path with query params from an object, skipping empty ones). */
export function get(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const qs = q.toString();
  return call('GET', qs ? `${path}?${qs}` : path);
}

/* What the hub says of the signed-in person (GET /v1/me), fetched once per sign-in. */
let meCache = null;

/**
 * me returns GET /v1/me for the signed-in person: {issuer, sub, agency,
 * org_type, roles, purposes, services, open_cases, organisations}, asked once
 * per token and kept in memory.
 */
export async function me() {
  const s = session();
  const key = s ? s.token : '';
  if (!meCache || meCache.key !== key) {
    const p = call('GET', '/v1/me');
    meCache = { key, p };
    p.catch(() => { if (meCache && meCache.p === p) meCache = null; });
  }
  return meCache.p;
}

/** forgetMe drops the cached /v1/me (after a sign-in, a sign-out). */
export function forgetMe() {
  meCache = null;
}

let apiDoc = null;

/**
 * openapi returns the hub's OpenAPI document (GET /v1/openapi.json, no
 * token): the one source of the event types' data schemas, shared with the
 * hub's validation. Fetched once per page.
 */
export function openapi() {
  if (!apiDoc) {
    apiDoc = fetch('/v1/openapi.json', { headers: { Accept: 'application/json' }, cache: 'no-cache', credentials: 'omit' })
      .then((r) => {
        if (!r.ok) throw new ApiError(r.status, { title: '', detail: '', errors: [] });
        return r.json();
      });
    apiDoc.catch(() => { apiDoc = null; });
  }
  return apiDoc;
}

/** kindOf names the error kind of an API error by its status (docs/api.md, "Errors"). */
export function kindOf(err) {
  const byStatus = {
    0: 'unreachable', 400: 'invalid', 401: 'unauthorized', 403: 'forbidden', 404: 'not-found', 409: 'conflict',
    410: 'gone', 413: 'too-large', 429: 'too-many', 500: 'internal', 503: 'unavailable',
  };
  return byStatus[err && err.status] || 'internal';
}
