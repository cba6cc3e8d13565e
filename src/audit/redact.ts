/**
 * The safety net under every log line (ARCHITECTURE pattern 12). The core never hands a
 * password, code, secret or key to a logger; if a bug ever does, these rules mask it.
 *
 * The rule, for structured fields (any depth: nested objects, arrays, Error objects):
 *  1. A key is split into words (snake_case, kebab-case, camelCase, dots) and lower-cased.
 *     It is secret when
 *       - one word is one of SECRET_WORDS (password, passwd, pwd, pass, passphrase, passcode,
 *         secret, otp, totp, hotp, code, key, pin, state, seed, cookie, authorization,
 *         credential, …), or
 *       - the whole key, lower-cased without separators, contains one of SECRET_PARTS
 *         (password, passwd, passphrase, passcode, secret, credential, apikey, privatekey):
 *         this catches "userpassword", "tokenSecret", "token_secret", "masterKey"…
 *  2. The value of a secret key is replaced by "[redacted]" (the key stays, so a reader sees that
 *     something was there), except
 *       - booleans (`hasPassword: true` holds no secret),
 *       - keys whose last word names metadata about a secret, not the secret: file, path, dir,
 *         id, serial, label, length, len, count, size, type, name, at, digits, period, algorithm,
 *         required, set, present (`key_file`, `password_length`, `secret_id`),
 *       - under a key whose only secret word is `code` (an error code, not an OTP):
 *         an upper-case identifier (`ENOENT`, `ERR_STREAM_DESTROYED`), a lower-case kebab
 *         identifier (`serial-exists`) or an integer from 0 to 255 (a RADIUS packet code).
 *         An OTP is 6 to 8 digits and is never kept.
 *  3. Buffers are never printed ("[buffer N bytes]"): raw bytes in a log are a packet or a key.
 *  4. Known secrets (client shared secrets, the LDAP bind password…, passed in by the caller)
 *     are replaced wherever they occur inside any string value.
 *  5. Free text — `message`, `stack`, and an Error's message — also goes through scrub().
 *  6. Cycles print "[circular]", depth beyond 12 prints "[depth]".
 *
 * scrub(text, knownSecrets) is the rule for free text:
 *  a. every occurrence of a known secret (at least 3 characters) → "[redacted]";
 *  b. `word=value`, `word: value`, `"word":"value"` where word is secret by rule 1 → the value
 *     becomes "[redacted]" (with the same `code` exception as rule 2);
 *  c. a standalone run of 6 to 8 digits (an OTP; not part of a longer number, a dotted or
 *     dashed or colon-separated value) → "[redacted]".
 */
import { format } from 'winston';
import type { Logform } from 'winston';

export const REDACTED = '[redacted]';

const SECRET_WORDS = new Set([
  'password',
  'passwords',
  'passwd',
  'pwd',
  'pw',
  'pass',
  'passphrase',
  'passcode',
  'secret',
  'secrets',
  'otp',
  'totp',
  'hotp',
  'code',
  'codes',
  'key',
  'keys',
  'pin',
  'state',
  'seed',
  'cookie',
  'authorization',
  'credential',
  'credentials',
]);
const SECRET_PARTS = ['password', 'passwd', 'passphrase', 'passcode', 'secret', 'credential', 'apikey', 'privatekey'];
const METADATA_WORDS = new Set([
  'file',
  'path',
  'dir',
  'id',
  'serial',
  'label',
  'length',
  'len',
  'count',
  'size',
  'type',
  'name',
  'at',
  'digits',
  'period',
  'algorithm',
  'required',
  'set',
  'present',
]);

/** How a key is treated: 'plain', 'secret', or 'code' (secret only because of the word "code"). */
type KeyKind = 'plain' | 'secret' | 'code';
const keyKinds = new Map<string, KeyKind>();

function words(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
}

function classify(key: string): KeyKind {
  const cached = keyKinds.get(key);
  if (cached !== undefined) return cached;
  const ws = words(key);
  const joined = ws.join('');
  let kind: KeyKind = 'plain';
  const secretWords = ws.filter((w) => SECRET_WORDS.has(w));
  if (SECRET_PARTS.some((p) => joined.includes(p))) kind = 'secret';
  else if (secretWords.length > 0) kind = secretWords.every((w) => w === 'code' || w === 'codes') ? 'code' : 'secret';
  if (kind !== 'plain' && ws.length > 1 && METADATA_WORDS.has(ws[ws.length - 1] as string)) kind = 'plain';
  if (keyKinds.size < 10_000) keyKinds.set(key, kind);
  return kind;
}

/** True when a field with this key would be masked (for callers and tests). */
export function isSecretKey(key: string): boolean {
  return classify(key) !== 'plain';
}

function isHarmlessCode(value: unknown): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value <= 255;
  return typeof value === 'string' && /^(?:[A-Z][A-Z0-9_]*|[a-z]+(?:-[a-z]+)*)$/.test(value) && value.length <= 64;
}

/** Known secrets shorter than this are not searched for in text: they would mask ordinary words. */
const MIN_KNOWN_SECRET = 3;

function replaceKnown(text: string, knownSecrets: readonly string[]): string {
  let out = text;
  // Longest first, so a secret containing another is masked whole.
  const sorted = [...knownSecrets].filter((s) => s.length >= MIN_KNOWN_SECRET).sort((a, b) => b.length - a.length);
  for (const s of sorted) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

// b. a word, then = or : (optionally after a closing quote, as in JSON).
const KEY_SEP = /([A-Za-z][A-Za-z0-9_.-]*)("?\s*[:=]\s*)/g;
// The end of an unquoted value.
const VALUE_END = /[\s"',;&)}\]?#]/;
// c. 6 to 8 digits standing alone.
const OTP_LIKE = /(?<![\d.:\-/])\d{6,8}(?![\d.:\-/])/g;

function valueEnd(text: string, start: number): number {
  const q = text[start];
  if (q === '"' || q === "'") {
    const close = text.indexOf(q, start + 1);
    return close === -1 ? text.length : close + 1;
  }
  let i = start;
  while (i < text.length && !VALUE_END.test(text[i] as string)) i++;
  return i;
}

function maskKeyValues(text: string): string {
  let out = '';
  let copied = 0;
  KEY_SEP.lastIndex = 0;
  for (let m = KEY_SEP.exec(text); m !== null; m = KEY_SEP.exec(text)) {
    const kind = classify(m[1] as string);
    const start = m.index + m[0].length;
    if (kind === 'plain' || text.startsWith(REDACTED, start)) continue;
    const end = valueEnd(text, start);
    const value = text.slice(start, end);
    const quote = value[0] === '"' || value[0] === "'" ? value[0] : '';
    const bare = quote === '' ? value : value.slice(1, value.endsWith(quote) && value.length > 1 ? -1 : undefined);
    if (bare === '' || (kind === 'code' && isHarmlessCode(/^\d+$/.test(bare) ? Number(bare) : bare))) continue;
    out += text.slice(copied, start) + quote + REDACTED + (value.length > 1 && value.endsWith(quote) ? quote : '');
    copied = end;
    KEY_SEP.lastIndex = end;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * Masks secrets in free text (the rule is in this file's header, a–c).
 * Never throws; returns the text unchanged when nothing looks secret.
 */
export function scrub(text: string, knownSecrets: readonly string[] = []): string {
  const known = knownSecrets.length > 0 ? replaceKnown(text, knownSecrets) : text;
  return maskKeyValues(known).replace(OTP_LIKE, REDACTED);
}

export interface RedactOptions {
  /** Secrets to mask wherever they occur in a string (shared secrets, bind password). */
  knownSecrets?: readonly string[] | (() => readonly string[]);
  /** Run free-text fields (`message`, `stack`) through scrub(). Default true. */
  scrubText?: boolean;
}

/** out[key] = value, also for a key named "__proto__" (which assignment would turn into a prototype change). */
export function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

const FREE_TEXT_KEYS = new Set(['message', 'stack', 'msg']);
const MAX_DEPTH = 12;

interface Ctx {
  known: readonly string[];
  scrubText: boolean;
  /** The objects being walked, outermost first (a cycle points back into this list). */
  path: object[];
}

function cleanString(key: string, value: string, ctx: Ctx): string {
  if (ctx.scrubText && FREE_TEXT_KEYS.has(key)) return scrub(value, ctx.known);
  return ctx.known.length > 0 ? replaceKnown(value, ctx.known) : value;
}

function cleanValue(key: string, value: unknown, depth: number, ctx: Ctx): unknown {
  if (typeof value === 'string') return cleanString(key, value, ctx);
  if (value === null || typeof value !== 'object') return value;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `[buffer ${value.byteLength} bytes]`;
  if (ctx.path.includes(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[depth]';
  ctx.path.push(value);
  try {
    if (Array.isArray(value)) return value.map((v) => cleanValue(key, v, depth + 1, ctx));
    const source = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    if (value instanceof Error) {
      out.name = value.name;
      out.message = ctx.scrubText ? scrub(value.message, ctx.known) : replaceKnown(value.message, ctx.known);
      if (value.stack !== undefined) out.stack = cleanString('stack', value.stack, ctx);
    } else if (value instanceof Date) {
      return value;
    }
    for (const k of Object.keys(source)) setOwn(out, k, cleanField(k, source[k], depth + 1, ctx));
    return out;
  } finally {
    ctx.path.pop();
  }
}

function cleanField(key: string, value: unknown, depth: number, ctx: Ctx): unknown {
  const kind = classify(key);
  if (kind === 'plain' || typeof value === 'boolean' || value === undefined || value === null) {
    return cleanValue(key, value, depth, ctx);
  }
  if (kind === 'code' && isHarmlessCode(value)) return value;
  return REDACTED;
}

/** Applies the rule to one object and returns a cleaned copy (the input is never changed). */
export function redactObject<T extends object>(obj: T, options: RedactOptions = {}): T {
  const known = typeof options.knownSecrets === 'function' ? options.knownSecrets() : (options.knownSecrets ?? []);
  const ctx: Ctx = { known, scrubText: options.scrubText ?? true, path: [obj] };
  const source = obj as Record<string | symbol, unknown>;
  const out: Record<string | symbol, unknown> = {};
  for (const k of Object.keys(source)) setOwn(out as Record<string, unknown>, k, cleanField(k, source[k], 0, ctx));
  // winston keeps level, message and splat under symbols: carry them over, cleaned.
  for (const s of Object.getOwnPropertySymbols(source)) out[s] = cleanValue('message', source[s], 0, ctx);
  return out as T;
}

/** winston format: the rule above applied to every info object. */
export const redact: (options?: RedactOptions) => Logform.Format = format((info, options: unknown) =>
  redactObject(info, options as RedactOptions),
);
