// The console's only door to the hub: the session (token, purpose, who) kept in
// sessionStorage — never in lasting storage, never a cookie — and one fetch wrapper
// that adds the bearer token and the purpose and turns problem+json answers
// into ApiError.

const SESSION = 'liaison.session';

/** The purposes a read may state (CONTRACT.md). */
export const PURPOSES = ['case-management', 'risk-management', 'reintegration', 'case-conference', 'oversight', 'research'];

/** The sections of a case, in the protocol's order. */
export const SECTIONS = ['profile', 'consent', 'risk', 'needs', 'plan', 'interventions', 'counselling',
  'conferences', 'security', 'family', 'transition', 'outcomes'];

/** The case stages, in order. */
export const STAGES = ['intake', 'assessment', 'intervention', 'transition', 'released', 'closed'];

/**
 * session returns {token, purpose, sub, agency, roles, label, expires} or null
 * when nobody is signed in in this tab.
 */
export function session() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION) || 'null');
    return s && s.token ? s : null;
  } catch {
    return null;
  }
}

/** saveSession stores the session of this tab. */
export function saveSession(s) {
  sessionStorage.setItem(SESSION, JSON.stringify(s));
}

/** setPurpose changes the purpose stated on every following read. */
export function setPurpose(purpose) {
  const s = session();
  if (s) saveSession({ ...s, purpose });
}

/** clearSession forgets the token and everything remembered in this tab. */
export function clearSession() {
  sessionStorage.clear();
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
 * call sends one request to the hub as the signed-in user and returns the
 * parsed JSON answer. It throws ApiError for any answer but 2xx (status 0
 * when the hub cannot be reached). A 401 also fires "liaison:unauthorized" on
 * window, so that the console can send the user back to the sign-in page.
 */
export async function call(method, path, body) {
  const s = session();
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
    throw new ApiError(0, { title: 'The hub cannot be reached', detail: 'check that it is running and try again' });
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
    title: p.title || resp.statusText || `Error ${resp.status}`,
    detail: typeof p.detail === 'string' ? p.detail : '',
    errors: Array.isArray(p.errors) ? p.errors : [],
  });
  if (resp.status === 401 && s) window.dispatchEvent(new CustomEvent('liaison:unauthorized'));
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
