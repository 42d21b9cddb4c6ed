// Tamper evidence checked in the browser with WebCrypto: RFC 6962 / RFC 9162
// Merkle proofs over the access log (leaf = SHA-256(0x00 ‖ record bytes),
// node = SHA-256(0x01 ‖ left ‖ right)), the signed checkpoint note (C2SP
// signed-note, Ed25519), and the stored bytes of an access record, rebuilt
// from its JSON exactly as the hub encodes it (eventlog/accesslog Encode).
//
// Sizes and indexes are BigInt: bit operations on plain numbers stop at 32 bits.

const enc = new TextEncoder();

/** available reports whether this page may use WebCrypto (a secure context: https or localhost). */
export function available() {
  return !!(globalThis.crypto && crypto.subtle);
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** leafHash is RFC 6962's hash of a leaf. */
export function leafHash(data) {
  return sha256(concat(Uint8Array.of(0), data));
}

function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

/** equal compares two byte arrays. */
export function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** b64 decodes standard base64 (the API's encoding of hashes). */
export function b64(s) {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

/** hex shows bytes as lower-case hex. */
export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

const lsb = (n) => (n & 1n) === 1n;

/**
 * verifyInclusion checks an RFC 9162 §2.1.3.2 inclusion proof: that leaf is
 * leaf index of the tree of size size whose root is root.
 */
export async function verifyInclusion(index, size, leaf, path, root) {
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  if (fn > sn) return false;
  let r = leaf;
  for (const p of path) {
    if (sn === 0n) return false;
    if (lsb(fn) || fn === sn) {
      r = await nodeHash(p, r);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(r, root);
}

/**
 * verifyConsistency checks an RFC 9162 §2.1.4.2 consistency proof: that the
 * tree of size first with root firstRoot is a prefix of the tree of size
 * second with root secondRoot.
 */
export async function verifyConsistency(first, second, firstRoot, secondRoot, path) {
  const m = BigInt(first);
  const n = BigInt(second);
  if (m > n) return false;
  if (m === n) return path.length === 0 && equal(firstRoot, secondRoot);
  if (m === 0n) return path.length === 0; // the empty tree is a prefix of every tree
  if (path.length === 0) return false;
  const proof = (m & (m - 1n)) === 0n ? [firstRoot, ...path] : [...path]; // m a power of two: its root is a node of the proof
  let fn = m - 1n;
  let sn = n - 1n;
  while (lsb(fn)) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = proof[0];
  let sr = proof[0];
  for (const c of proof.slice(1)) {
    if (sn === 0n) return false;
    if (lsb(fn) || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(fr, firstRoot) && equal(sr, secondRoot);
}

/**
 * checkNote verifies a signed checkpoint note with a note verifier key
 * ("name+hash+base64(0x01 ‖ Ed25519 public key)"). It returns {body, signed,
 * checked, why}: signed is true when a signature line of that key verifies;
 * checked is false when this browser cannot verify Ed25519. why names what
 * failed, as a code the console translates (cp.why.<code>).
 */
export async function checkNote(note, verifierKey) {
  const cut = note.lastIndexOf('\n\n');
  if (cut < 0) return { body: null, signed: false, checked: true, why: 'no-signatures' };
  const body = note.slice(0, cut + 1);
  // name+hash+key, where the base64 key may itself hold "+".
  const m = String(verifierKey || '').match(/^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+=*)$/);
  if (!m) return { body, signed: false, checked: true, why: 'key-malformed' };
  const [, name, hashHex, keyB64] = m;
  const key = b64(keyB64);
  if (key.length !== 33 || key[0] !== 1) return { body, signed: false, checked: true, why: 'key-not-ed25519' };
  const kh = (await sha256(concat(enc.encode(`${name}\n`), key))).slice(0, 4);
  if (hex(kh) !== hashHex) return { body, signed: false, checked: true, why: 'key-hash' };
  let pub;
  try {
    pub = await crypto.subtle.importKey('raw', key.slice(1), { name: 'Ed25519' }, false, ['verify']);
  } catch {
    return { body, signed: false, checked: false, why: 'no-ed25519' };
  }
  for (const line of note.slice(cut + 2).split('\n')) {
    const m = line.match(/^\u2014 (\S+) (\S+)$/);
    if (!m || m[1] !== name) continue;
    const sig = b64(m[2]);
    if (sig.length !== 68 || !equal(sig.slice(0, 4), kh)) continue;
    if (await crypto.subtle.verify({ name: 'Ed25519' }, pub, sig.slice(4), enc.encode(body))) {
      return { body, signed: true, checked: true, why: '' };
    }
  }
  return { body, signed: false, checked: true, why: 'no-valid-signature' };
}

/** parseCheckpointBody reads "origin\nsize\nbase64 root\n…". */
export function parseCheckpointBody(body) {
  const lines = String(body || '').split('\n');
  if (lines.length < 4 || !/^\d+$/.test(lines[1])) return null;
  try {
    return { origin: lines[0], size: BigInt(lines[1]), root: b64(lines[2]) };
  } catch {
    return null;
  }
}

/**
 * recordBytes rebuilds the stored bytes of an access record from its JSON:
 * the fields in their fixed order, without the index, strings quoted as Go
 * quotes them (accesslog.appendString).
 */
export function recordBytes(r) {
  const list = (xs) => `[${(xs || []).map(goString).join(',')}]`;
  const s = `{"time":${goString(r.time)},"request_id":${goString(r.request_id)},"sub":${goString(r.sub)},` +
    `"agency":${goString(r.agency)},"roles":${list(r.roles)},"purpose":${goString(r.purpose)},` +
    `"action":${goString(r.action)},"case_id":${goString(r.case_id)},"section":${goString(r.section)},` +
    `"decision":${goString(r.decision)},"status":${Number(r.status)},"reasons":${list(r.reasons)},` +
    `"policy_revision":${goString(r.policy_revision)},"break_glass":${r.break_glass ? 'true' : 'false'},` +
    `"withheld":${Number(r.withheld)}` +
    // Fields added later, each only when it is not empty (old records keep
    // their bytes).
    ['issuer', 'justification', 'legal_basis', 'reference']
      .filter((f) => r[f])
      .map((f) => `,"${f}":${goString(r[f])}`).join('') + '}';
  return enc.encode(s);
}

/**
 * goString quotes a string as the hub does: plain printable ASCII as is,
 * anything else as Go's encoding/json would (HTML-safe escapes for < > &,
 * \u2028 and \u2029, short escapes for \b \f \n \r \t).
 */
function goString(v) {
  const s = String(v ?? '');
  if (/^[\x20-\x7f]*$/.test(s) && !/["\\]/.test(s)) return `"${s}"`;
  const short = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (short[ch]) out += short[ch];
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
