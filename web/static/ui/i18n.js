// The console's languages: the catalogues (i18n/<lang>.json, one flat object
// of keys and texts per language, every language with the same keys — a Go
// test, web/i18n_test.go, keeps them so), t() and tn() to look texts up, tv()
// for the protocol's vocabulary (sections, stages, event types, field names,
// enumerated values…), and Intl for dates and numbers.
//
// The person picks the language; the choice is the one thing the console
// keeps in lasting storage (the browser's local storage, key liaison.lang): a language code,
// never anything about a case or a token.

/** The languages of the console, each named in its own language. */
export const LANGUAGES = [
  { code: 'en', name: 'English', locale: 'en-GB' },
  { code: 'fr', name: 'Français', locale: 'fr-FR' },
  { code: 'de', name: 'Deutsch', locale: 'de-DE' },
];

/** locale is the language's locale for Intl: dates and numbers as written in Europe. */
function locale() {
  return (LANGUAGES.find((l) => l.code === current) || LANGUAGES[0]).locale;
}

const PREF = 'liaison.lang';

let current = 'en';
let texts = {};
let fallback = {};

/** lang returns the language in force ("en", "fr", "de"). */
export function lang() {
  return current;
}

/** preferred returns the language the person chose, else the browser's if the console has it, else English. */
export function preferred() {
  let saved = '';
  try {
    saved = localStorage.getItem(PREF) || '';
  } catch {
    saved = '';
  }
  if (LANGUAGES.some((l) => l.code === saved)) return saved;
  for (const l of navigator.languages || [navigator.language || '']) {
    const code = String(l).slice(0, 2).toLowerCase();
    if (LANGUAGES.some((x) => x.code === code)) return code;
  }
  return 'en';
}

async function catalogue(code) {
  const resp = await fetch(new URL(`./i18n/${code}.json`, import.meta.url), { cache: 'no-cache', credentials: 'omit' });
  if (!resp.ok) throw new Error(`catalogue ${code}: ${resp.status}`);
  return resp.json();
}

/**
 * setLang loads the catalogue of code and puts it in force: <html lang>,
 * and, when remember is true, the person's choice in the browser's local storage.
 */
export async function setLang(code, remember) {
  if (!LANGUAGES.some((l) => l.code === code)) code = 'en';
  if (!Object.keys(fallback).length) fallback = await catalogue('en');
  texts = code === 'en' ? fallback : await catalogue(code);
  current = code;
  document.documentElement.lang = code;
  if (remember) {
    try {
      localStorage.setItem(PREF, code);
    } catch {
      // Storage refused (private mode): the choice holds for this page only.
    }
  }
}

/** has reports whether the catalogue has a text for key. */
export function has(key) {
  return Object.hasOwn(texts, key) || Object.hasOwn(fallback, key);
}

function fill(s, params) {
  if (!params) return s;
  return s.replace(/\{(\w+)\}/g, (m, name) => (Object.hasOwn(params, name) ? String(params[name]) : m));
}

/**
 * t returns the text of key in the language in force, with {name}
 * placeholders filled from params. A key missing from the language falls
 * back to English, then to the key itself (the Go test keeps that from
 * happening).
 */
export function t(key, params) {
  const s = Object.hasOwn(texts, key) ? texts[key] : Object.hasOwn(fallback, key) ? fallback[key] : key;
  return fill(s, params);
}

/**
 * tn is t for a count: key.one or key.other as the language's plural rules
 * say for n (n is also the {n} placeholder, formatted).
 */
export function tn(key, n, params) {
  const cat = new Intl.PluralRules(locale()).select(n) === 'one' ? 'one' : 'other';
  return t(`${key}.${cat}`, { ...params, n: fmtNumber(n) });
}

/**
 * tv returns the word of the protocol's vocabulary for value in kind
 * ("section", "stage", "event", "field", "purpose", "tlp", "orgtype",
 * "org", "role", "legal", "erasure.status", "decision", "action",
 * "practice", or "enum.<field>"), or the value itself when the catalogue
 * has none (an organisation of another directory, an action the console
 * does not know).
 */
export function tv(kind, value) {
  const key = `${kind}.${value}`;
  return has(key) ? t(key) : String(value ?? '');
}

/** keys lists the catalogue's keys under prefix ("action."), in the catalogue's order, without the prefix. */
export function keys(prefix) {
  return Object.keys(fallback).filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
}

/** orgName is an organisation's name, else its id. */
export function orgName(id) {
  return tv('org', id);
}

/** fmtNumber formats a number for the language in force. */
export function fmtNumber(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

/** fmtTime shows an RFC 3339 time in the reader's time zone, to the minute. */
export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

/** fmtTimeLong shows an RFC 3339 time in the reader's time zone, to the second, with the zone. */
export function fmtTimeLong(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'long' }).format(d);
}

/** fmtDate shows a date (YYYY-MM-DD, a calendar day, no time zone) in the language in force. */
export function fmtDate(ymd) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(ymd || ''));
  if (!m) return String(ymd || '—');
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeZone: 'UTC' }).format(d);
}

/** fmtDay shows the UTC day of an RFC 3339 time, short (for chart axes). */
export function fmtDay(iso, withYear) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const opts = withYear ? { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' } : { day: 'numeric', month: 'short', timeZone: 'UTC' };
  return new Intl.DateTimeFormat(locale(), opts).format(d);
}

/** fmtMonth shows the UTC month of an RFC 3339 time. */
export function fmtMonth(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(locale(), { month: 'short', year: 'numeric', timeZone: 'UTC' }).format(d);
}

/** fmtRelative says how far a time is from now ("in 6 days", "2 hours ago"). */
export function fmtRelative(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const secs = (d.getTime() - Date.now()) / 1000;
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
  const abs = Math.abs(secs);
  if (abs < 3600) return rtf.format(Math.round(secs / 60), 'minute');
  if (abs < 86400 * 2) return rtf.format(Math.round(secs / 3600), 'hour');
  return rtf.format(Math.round(secs / 86400), 'day');
}

/** list joins words as the language does ("a, b and c"). */
export function fmtList(words) {
  return new Intl.ListFormat(locale(), { style: 'long', type: 'conjunction' }).format(words.map(String));
}
