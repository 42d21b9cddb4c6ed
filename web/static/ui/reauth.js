// Signing in again without leaving the page. When the hub refuses the token
// of someone at work (it expired, or was revoked), a modal dialog asks them
// to sign in again — as the same demo identity in one click, at their
// organisation's provider, or with a new token — over the page, which stays
// as it was (a half-filled form keeps its values). Once signed in, the call
// that was refused is retried (api.js); calls refused meanwhile wait for the
// same dialog.

import { onUnauthorized, saveSession, storedSession, tokenClaims } from './api.js';
import { providers, startSignIn } from './oidc.js';
import { clear, field, h, uid } from './dom.js';
import { orgName, t } from './i18n.js';

/**
 * installReauth makes the console ask for a new sign-in on a refused token.
 * leave() gives the page up (the person chose to sign out); redraw() draws
 * the page again (someone else signed in).
 */
export function installReauth({ leave, redraw }) {
  let pending = null;
  onUnauthorized(() => {
    if (!pending) pending = ask(leave, redraw).finally(() => { pending = null; });
    return pending;
  });
}

/** ask opens the dialog and resolves true once signed in again as the same person. */
function ask(leave, redraw) {
  return new Promise((resolve) => {
    const stored = storedSession() || {};
    const hid = uid('reauth-h');
    const pid = uid('reauth-p');
    const err = h('div', { 'aria-live': 'assertive' });
    const options = h('div', { class: 'reauth-options' });
    const dlg = h('dialog', { id: 'reauth', class: 'reauth', 'aria-labelledby': hid, 'aria-describedby': pid },
      h('h2', { id: hid, text: t('reauth.title') }),
      h('p', { id: pid, text: t('reauth.lead') }),
      options, err);
    let settled = false;
    const done = (ok) => {
      if (settled) return;
      settled = true;
      if (dlg.open) dlg.close();
      dlg.remove();
      resolve(ok);
    };
    // A new token: the same person carries on; someone else gets the page drawn afresh.
    const accept = (token) => {
      const c = tokenClaims(token) || {};
      const same = (c.sub || '') === (stored.sub || '') && (c.agency || '') === (stored.agency || '');
      const { kind, provider, ...rest } = stored;
      saveSession({ ...rest, token, sub: c.sub || '', agency: c.agency || '', roles: Array.isArray(c.roles) ? c.roles : [] });
      done(same);
      if (!same) redraw();
    };
    if (stored.persona) {
      const again = h('button', { type: 'button', id: 'reauth-persona' }, t('reauth.asPersona', { name: stored.label || stored.sub }));
      again.addEventListener('click', async () => {
        clear(err);
        again.disabled = true;
        try {
          const resp = await fetch('/demo/token', {
            method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
            body: JSON.stringify({ sub: stored.persona }), cache: 'no-store', credentials: 'omit',
          });
          const body = await resp.json();
          if (!resp.ok || typeof body.token !== 'string') throw new Error(String(resp.status));
          accept(body.token);
        } catch {
          err.append(h('p', { class: 'problem', role: 'alert', text: t('reauth.failed') }));
          again.disabled = false;
        }
      });
      options.append(h('p', {}, again));
    }
    if (stored.kind === 'oidc' && stored.provider) {
      const box = h('p', {});
      options.append(box);
      providers().then((list) => {
        const p = list.find((x) => x.id === stored.provider);
        if (!p) return;
        const btn = h('button', { type: 'button', id: 'reauth-provider' }, t('reauth.atProvider', { provider: p.label }));
        btn.addEventListener('click', () => startSignIn(p, stored.purpose, location.hash));
        box.append(btn, ' ', h('span', { class: 'hint', text: t('reauth.leaves') }));
      });
    }
    const token = h('textarea', { id: uid('reauth-token'), rows: '3', autocomplete: 'off', spellcheck: 'false' });
    const form = h('form', { class: 'reauth-token', novalidate: true },
      field(t('signin.token'), token, t('signin.tokenHint')), h('button', { type: 'submit', class: 'secondary' }, t('signin.tokenSubmit')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      clear(err);
      const tk = token.value.trim();
      if (!tokenClaims(tk)) {
        err.append(h('p', { class: 'problem', role: 'alert', text: t('signin.notJwt') }));
        token.focus();
        return;
      }
      accept(tk);
    });
    const out = h('button', { type: 'button', class: 'link', id: 'reauth-signout' }, t('reauth.signOut'));
    out.addEventListener('click', () => {
      done(false);
      leave();
    });
    options.append(h('details', { class: 'reauth-more' }, h('summary', {}, t('reauth.otherToken')), form),
      h('p', { class: 'muted' }, t('reauth.who', { name: stored.label || stored.sub || '', org: stored.agency ? orgName(stored.agency) : '' }), ' ', out));
    dlg.addEventListener('cancel', () => done(false)); // Escape: stay on the page, signed out
    document.body.append(dlg);
    dlg.showModal();
  });
}
