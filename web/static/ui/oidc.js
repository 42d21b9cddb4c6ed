// Sign-in at an organisation's own identity provider: OpenID Connect,
// authorization code with PKCE (S256), the console a public client with no
// secret. The hub lists the providers (GET /auth/providers); the tokens the
// provider issues are kept in this module's memory only — never in
// sessionStorage, lasting storage or a cookie — so they end with the tab (and
// with a reload). What must survive the redirect to the provider and back is
// in sessionStorage, and holds no token: the PKCE verifier, the state and the
// nonce of the one pending sign-in, and the page to come back to.

import { t } from './i18n.js';

const PENDING = 'liaison.oidc.pending';

/** CALLBACK is the console's redirect URI path at every provider. */
export const CALLBACK = '/ui/callback';

/** The tokens of this tab: {access, refresh, id, expires (ms), provider}, or null. */
let tokens = null;

/** A refresh in flight, shared by the calls that need it. */
let refreshing = null;

let listed = null;

/** providers returns the providers the hub offers (cached for the tab's life). */
export async function providers() {
  if (!listed) {
    listed = fetch('/auth/providers', { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'omit' })
      .then((r) => (r.ok ? r.json() : { providers: [] }))
      .then((b) => (Array.isArray(b.providers) ? b.providers : []))
      .catch(() => []);
  }
  return listed;
}

function b64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function random(n) {
  const a = new Uint8Array(n);
  crypto.getRandomValues(a);
  return b64url(a);
}

async function s256(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return b64url(new Uint8Array(digest));
}

function redirectURI() {
  return location.origin + CALLBACK;
}

/**
 * startSignIn sends the browser to provider p's authorization endpoint,
 * remembering (in sessionStorage, for this tab) the PKCE verifier, the state,
 * the nonce, the purpose chosen and the page to come back to (a hash).
 */
export async function startSignIn(p, purpose, back) {
  const verifier = random(32);
  const pending = { provider: p.id, verifier, state: random(16), nonce: random(16), purpose, back: back || '' };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const q = new URLSearchParams({
    response_type: 'code', client_id: p.client_id, redirect_uri: redirectURI(), scope: p.scope,
    state: pending.state, nonce: pending.nonce, code_challenge: await s256(verifier), code_challenge_method: 'S256',
  });
  if (p.audience) q.set('audience', p.audience);
  location.assign(`${p.authorization_endpoint}?${q}`);
}

/** isCallback reports whether this page is the provider sending the browser back. */
export function isCallback() {
  return location.pathname === CALLBACK;
}

/** SignInError is a sign-in at a provider that failed, with what to tell the person. */
export class SignInError extends Error {}

/**
 * completeSignIn finishes the sign-in the provider sent the browser back
 * from: it checks the state, exchanges the code (with the PKCE verifier) at
 * the token endpoint, checks the ID token's nonce, and keeps the tokens in
 * memory. It returns {provider, claims (the ID token's, else the access
 * token's), purpose, back}; it throws SignInError.
 */
export async function completeSignIn() {
  const q = new URLSearchParams(location.search);
  let pending = null;
  try {
    pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  } catch {
    pending = null;
  }
  sessionStorage.removeItem(PENDING); // one use, whatever happens
  if (q.get('error')) throw new SignInError(t('oidc.refused', { why: q.get('error_description') || q.get('error') }));
  if (!pending || !q.get('state') || q.get('state') !== pending.state) {
    throw new SignInError(t('oidc.notHere'));
  }
  const p = (await providers()).find((x) => x.id === pending.provider);
  if (!p) throw new SignInError(t('oidc.gone'));
  const got = await tokenRequest(p, {
    grant_type: 'authorization_code', code: q.get('code') || '', redirect_uri: redirectURI(),
    client_id: p.client_id, code_verifier: pending.verifier,
  });
  const id = got.id_token ? decode(got.id_token) : null;
  if (got.id_token && (!id || id.nonce !== pending.nonce)) {
    tokens = null;
    throw new SignInError(t('oidc.nonce'));
  }
  return { provider: p, claims: id || decode(tokens.access) || {}, purpose: pending.purpose, back: pending.back };
}

/** tokenRequest posts a grant to p's token endpoint and keeps the tokens it answers. */
async function tokenRequest(p, form) {
  let resp;
  try {
    resp = await fetch(p.token_endpoint, {
      method: 'POST', body: new URLSearchParams(form), cache: 'no-store', credentials: 'omit', redirect: 'error',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    });
  } catch {
    throw new SignInError(t('oidc.unreachable'));
  }
  let body = {};
  try {
    body = await resp.json();
  } catch {
    body = {};
  }
  if (!resp.ok || typeof body.access_token !== 'string') {
    throw new SignInError(t('oidc.noTokens', { why: body.error || resp.status }));
  }
  const lifetime = Number(body.expires_in) > 0 ? Number(body.expires_in) * 1000 : 5 * 60 * 1000;
  tokens = {
    access: body.access_token, refresh: body.refresh_token || (tokens && tokens.refresh) || '',
    id: body.id_token || (tokens && tokens.id) || '', expires: Date.now() + lifetime, lifetime, provider: p,
  };
  return body;
}

/** accessToken returns this tab's access token, or '' when there is none. */
export function accessToken() {
  return tokens ? tokens.access : '';
}

/**
 * freshToken returns the access token, refreshing it first when it is about
 * to expire (within 30 seconds, or a quarter of its lifetime if shorter) and
 * a refresh token is held; '' when there is none any more.
 */
export async function freshToken() {
  if (!tokens) return '';
  if (tokens.expires - Date.now() > Math.min(30 * 1000, tokens.lifetime / 4)) return tokens.access;
  return (await refresh()) ? tokens.access : '';
}

/** refresh uses the refresh token once; it reports whether new tokens came back. */
export async function refresh() {
  if (!tokens || !tokens.refresh) return false;
  if (!refreshing) {
    const p = tokens.provider;
    refreshing = tokenRequest(p, { grant_type: 'refresh_token', refresh_token: tokens.refresh, client_id: p.client_id })
      .then(() => true, () => {
        tokens = null;
        return false;
      })
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

/**
 * forget drops the tokens of this tab and returns the URL that ends the
 * session at the provider (its end_session_endpoint, with the ID token as
 * hint and the console as the place to come back to), or '' when the
 * provider has none.
 */
export function forget() {
  const t = tokens;
  tokens = null;
  if (!t || !t.provider.end_session_endpoint) return '';
  const q = new URLSearchParams({ client_id: t.provider.client_id, post_logout_redirect_uri: `${location.origin}/` });
  if (t.id) q.set('id_token_hint', t.id);
  return `${t.provider.end_session_endpoint}?${q}`;
}

/** decode returns a JWT's payload (for display and the nonce only), or null. */
function decode(jwt) {
  const parts = String(jwt).split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}
