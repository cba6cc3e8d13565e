/**
 * RFC 6030 (PSKC) reader: file bytes in, token records and per-record issues out.
 *
 * ARCHITECTURE pattern 7: parse the structure first (no key needed, every algorithm checked against
 * an allow-list), then decrypt. RELIABILITY §4 bars P1–P12:
 * - No DTD, no entity (P6): any `<!DOCTYPE` is refused before the XML parser sees the text;
 *   @xmldom/xmldom expands no entities, and any warning or error it reports stops the parse.
 * - Size, PBKDF2 IterationCount and KeyLength are checked before any derivation (P6).
 * - Namespace `urn:ietf:params:xml:ns:keyprov:pskc` and Version 1.0 only (P7).
 * - Every EncryptedValue needs a ValueMAC: HMAC over IV‖ciphertext with the MAC key from
 *   MACMethod/MACKey (RFC 6030 §6.1.1). A missing ValueMAC or MACMethod refuses the file (P4);
 *   a MAC over the plaintext or a missing MACKey is accepted only with `legacy` (P5).
 * - Asymmetric (RSA/X.509) protection is reported as unsupported (P8). A ds:Signature is not
 *   verified: the file is imported with a warning saying so (P8; see README of the fixtures).
 * - A serial may appear once per file (P10, fig 10): both KeyPackages are named.
 * - Validity (RFC 6030 §5 StartDate/ExpiryDate, in Key/Policy or DeviceInfo) is carried for the
 *   server to enforce; a key already expired is refused, one not yet valid comes with a warning.
 * - A PIN key (`…pskc:pin`, fig 5) is not a token: it is left out with a warning. A key whose
 *   PINPolicy asks the server to check the PIN (PINUsageMode other than Local) is refused.
 *
 * Large files: xmldom needs ~25 s and ~2.6 GB for 100,000 KeyPackages, so the document is first
 * given to pskc-split.ts, which reads the KeyPackages into small trees and leaves the container
 * (header) to xmldom; whenever it is unsure, the whole document goes to xmldom as before. Both
 * paths feed the same checks below, in the same order.
 */
import { createDecipheriv, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { DOMParser, onWarningStopParsing } from '@xmldom/xmldom';
import type { Element } from '@xmldom/xmldom';
import { splitPskc } from './pskc-split.js';
import type { XElement } from './pskc-split.js';
import { MIN_SECRET_BYTES } from '../record.js';
import type { OtpAlgorithm, OtpDigits, TokenRecord, TokenType } from '../record.js';
import type { ImportIssue, ParseResult, RecordPlace } from './issue.js';

export interface PskcProtection {
  /** Pre-shared key (RFC 6030 §6.1), raw bytes. */
  key?: Buffer;
  /** Password for PBKDF2 (RFC 6030 §6.2). */
  password?: string;
  /** Accept a MAC over the plaintext and a missing MACKey (pre-RFC drafts) (P5). */
  legacy?: boolean;
}

export interface PskcLimits {
  maxBytes?: number;
  /** The largest file the whole-document reader takes (WHOLE_DOCUMENT_MAX_BYTES). */
  maxWholeDocumentBytes?: number;
  maxIterations?: number;
  /** Read the whole document with xmldom, skipping the fast path (for tests comparing the two). */
  wholeDocument?: boolean;
  /** Unix seconds the validity dates are checked against (default: the clock). */
  now?: number;
}

/** 256 MiB: a 100,000-token file as python-pskc writes it (indented) is ~70 MB. */
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MAX_ITERATIONS = 10_000_000;
/**
 * 32 MiB: a file the fast path cannot read goes whole to xmldom, which needs ~35 bytes of memory
 * per byte of text (a 100-MB file: 50 s and 3.5 GB); over this it is refused, not read to an
 * out-of-memory end. python-pskc's files, and most vendors', take the fast path at any size.
 */
export const WHOLE_DOCUMENT_MAX_BYTES = 32 * 1024 * 1024;

const NS = {
  pskc: 'urn:ietf:params:xml:ns:keyprov:pskc',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  xenc: 'http://www.w3.org/2001/04/xmlenc#',
  xenc11: 'http://www.w3.org/2009/xmlenc11#',
  pkcs5: 'http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#',
} as const;

const TOKEN_ALGORITHMS: Record<string, TokenType> = {
  'urn:ietf:params:xml:ns:keyprov:pskc:hotp': 'hotp',
  'urn:ietf:params:xml:ns:keyprov:pskc:totp': 'totp',
};
const PIN_ALGORITHM = 'urn:ietf:params:xml:ns:keyprov:pskc:pin';

/** XML Encryption block ciphers we decrypt (key length in bytes); everything else is refused. */
const CIPHERS: Record<string, { name: string; keyBytes: number }> = {
  [`${NS.xenc}aes128-cbc`]: { name: 'aes-128-cbc', keyBytes: 16 },
  [`${NS.xenc}aes192-cbc`]: { name: 'aes-192-cbc', keyBytes: 24 },
  [`${NS.xenc}aes256-cbc`]: { name: 'aes-256-cbc', keyBytes: 32 },
};

/** HMACs for MACMethod and the PBKDF2 PRF. */
const HMACS: Record<string, string> = {
  [`${NS.ds}hmac-sha1`]: 'sha1',
  'http://www.w3.org/2001/04/xmldsig-more#hmac-sha224': 'sha224',
  'http://www.w3.org/2001/04/xmldsig-more#hmac-sha256': 'sha256',
  'http://www.w3.org/2001/04/xmldsig-more#hmac-sha384': 'sha384',
  'http://www.w3.org/2001/04/xmldsig-more#hmac-sha512': 'sha512',
};

const PBKDF2 = `${NS.pkcs5}pbkdf2`;

/** A fault found while reading: the element at fault and why (never a value of a secret). */
class Fault extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

// ---------------------------------------------------------------- DOM helpers

function children(el: XElement, ns: string | null, name: string): XElement[] {
  const out: XElement[] = [];
  for (let n = el.firstChild; n !== null; n = n.nextSibling) {
    if (n.nodeType === 1) {
      const e = n as XElement;
      if (e.namespaceURI === ns && e.localName === name) out.push(e);
    }
  }
  return out;
}

function child(el: XElement | undefined, ns: string, name: string): XElement | undefined {
  for (let n = el?.firstChild ?? null; n !== null; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as XElement).namespaceURI === ns && (n as XElement).localName === name) return n as XElement;
  }
  return undefined;
}

/**
 * A child of PBKDF2-params: RFC 6030 fig 7 writes them unqualified (no namespace, or the default
 * pskc namespace when the file uses one); a schema-strict writer qualifies them with `ns`.
 */
function looseChild(el: XElement, ns: string, name: string): XElement | undefined {
  return [ns, null, NS.pskc].map((n) => children(el, n, name)[0]).find((c) => c !== undefined);
}

/** Descendants named ns:name in document order (getElementsByTagNameNS over any XElement). */
function descendants(el: XElement, ns: string, name: string, out: XElement[] = []): XElement[] {
  for (let n = el.firstChild; n !== null; n = n.nextSibling) {
    if (n.nodeType === 1) {
      const e = n as XElement;
      if (e.namespaceURI === ns && e.localName === name) out.push(e);
      descendants(e, ns, name, out);
    }
  }
  return out;
}

function text(el: XElement): string {
  return (el.textContent as string).trim(); // an Element's textContent is never null (DOM §4.4)
}

function childText(el: XElement | undefined, ns: string, name: string): string | undefined {
  const c = child(el, ns, name);
  return c === undefined ? undefined : text(c);
}

// ---------------------------------------------------------------- value decoding

function base64Strict(value: string, field: string): Buffer {
  const compact = value.replace(/\s+/g, '');
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(compact)) {
    throw new Fault(field, 'is not valid base64');
  }
  return Buffer.from(compact, 'base64');
}

/** A Data child (Secret, Counter, …) after the structure pass: plain text or a MACed ciphertext. */
type RawValue =
  | { kind: 'plain'; text: string }
  | { kind: 'encrypted'; cipher: { name: string; keyBytes: number }; data: Buffer; mac: Buffer | undefined };

interface CipherRef {
  name: string;
  keyBytes: number;
}

/** Reads xenc:EncryptionMethod + xenc:CipherData/CipherValue (an EncryptedValue or the MACKey). */
function readEncrypted(el: XElement, field: string): { cipher: CipherRef; data: Buffer } {
  const method = child(el, NS.xenc, 'EncryptionMethod');
  const algorithm = method?.getAttribute('Algorithm') ?? '';
  if (algorithm === '') throw new Fault(field, 'no EncryptionMethod algorithm given');
  const cipher = CIPHERS[algorithm];
  if (cipher === undefined) {
    if (/rsa/i.test(algorithm)) throw new Fault(field, `asymmetric (RSA) encryption ${algorithm} is not supported`);
    throw new Fault(field, `unsupported encryption algorithm ${algorithm}`);
  }
  const value = childText(child(el, NS.xenc, 'CipherData'), NS.xenc, 'CipherValue');
  if (value === undefined) throw new Fault(field, 'no CipherData/CipherValue');
  const data = base64Strict(value, field);
  // RFC 6030 §6.1: the IV (one block) is prepended; CBC ciphertext is whole blocks, at least one.
  if (data.length < 32 || data.length % 16 !== 0) throw new Fault(field, 'CipherValue is not IV plus whole AES blocks');
  return { cipher, data };
}

function readValue(el: XElement, field: string): RawValue {
  const plain = child(el, NS.pskc, 'PlainValue');
  if (plain !== undefined) return { kind: 'plain', text: text(plain) };
  const enc = child(el, NS.pskc, 'EncryptedValue');
  if (enc === undefined) throw new Fault(field, 'has neither PlainValue nor EncryptedValue');
  const { cipher, data } = readEncrypted(enc, field);
  const macText = childText(el, NS.pskc, 'ValueMAC');
  const mac = macText === undefined ? undefined : base64Strict(macText, 'ValueMAC');
  return { kind: 'encrypted', cipher, data, mac };
}

/** AES-CBC with the IV prepended; PKCS#7 padding is checked (a wrong key almost always fails it). */
function decrypt(cipher: CipherRef, key: Buffer, data: Buffer): Buffer | undefined {
  try {
    const d = createDecipheriv(cipher.name, key, data.subarray(0, 16));
    return Buffer.concat([d.update(data.subarray(16)), d.final()]);
  } catch {
    return undefined;
  }
}

function macEquals(expected: Buffer, actual: Buffer): boolean {
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

// ---------------------------------------------------------------- key protection

type KeySource =
  | { kind: 'none' }
  | { kind: 'preshared' }
  | { kind: 'pbkdf2'; salt: Buffer; iterations: number; keyLength: number | undefined; prf: string };

function readEncryptionKey(container: XElement, maxIterations: number): KeySource {
  const ek = child(container, NS.pskc, 'EncryptionKey');
  if (ek === undefined) return { kind: 'none' };
  if (child(ek, NS.ds, 'X509Data') !== undefined || child(ek, NS.ds, 'KeyValue') !== undefined) {
    throw new Fault('EncryptionKey', 'asymmetric (RSA, X.509) key transport is not supported: ask for a pre-shared key or password (PBKDF2) file');
  }
  const derived = child(ek, NS.xenc11, 'DerivedKey');
  if (derived === undefined) return { kind: 'preshared' };
  const method = child(derived, NS.xenc11, 'KeyDerivationMethod');
  const algorithm = method?.getAttribute('Algorithm') ?? '';
  if (algorithm !== PBKDF2) throw new Fault('KeyDerivationMethod', `unsupported key derivation ${algorithm === '' ? '(none given)' : algorithm}`);
  // RFC 6030 fig 7 puts PBKDF2-params in the pkcs5 namespace; python-pskc writes it in xenc11.
  const params = child(method, NS.pkcs5, 'PBKDF2-params') ?? child(method, NS.xenc11, 'PBKDF2-params');
  if (params === undefined) throw new Fault('PBKDF2-params', 'missing');
  const pns = params.namespaceURI as string;
  const saltEl = looseChild(params, pns, 'Salt');
  const specified = saltEl === undefined ? undefined : looseChild(saltEl, pns, 'Specified');
  if (specified === undefined) throw new Fault('Salt', 'missing Salt/Specified');
  const salt = base64Strict(text(specified), 'Salt');
  const iterEl = looseChild(params, pns, 'IterationCount');
  const iterText = iterEl === undefined ? '' : text(iterEl);
  if (!/^\d{1,15}$/.test(iterText) || Number(iterText) < 1) throw new Fault('IterationCount', 'missing or not a positive integer');
  const iterations = Number(iterText);
  if (iterations > maxIterations) throw new Fault('IterationCount', `${iterations} is over the limit of ${maxIterations}`);
  const lenEl = looseChild(params, pns, 'KeyLength');
  let keyLength: number | undefined;
  if (lenEl !== undefined) {
    if (!/^\d{1,3}$/.test(text(lenEl))) throw new Fault('KeyLength', 'is not an integer');
    keyLength = Number(text(lenEl));
  }
  const prfEl = looseChild(params, pns, 'PRF');
  const prfAlg = prfEl?.getAttribute('Algorithm') ?? '';
  const prf = prfAlg === '' ? 'sha1' : HMACS[prfAlg];
  if (prf === undefined) throw new Fault('PRF', `unsupported PBKDF2 PRF ${prfAlg}`);
  return { kind: 'pbkdf2', salt, iterations, keyLength, prf };
}

// ---------------------------------------------------------------- field parsing

function parseSuite(suite: string | undefined): OtpAlgorithm {
  if (suite === undefined || suite === '') return 'SHA1';
  const m = /^(?:HMAC-?)?SHA-?(1|256|512)$/i.exec(suite);
  if (m === null) throw new Fault('Suite', `unknown algorithm suite ${JSON.stringify(suite)}`);
  return `SHA${m[1]}` as OtpAlgorithm;
}

function parseDigits(format: XElement | undefined): OtpDigits {
  if (format === undefined) return 6;
  const encoding = format.getAttribute('Encoding');
  if (encoding !== null && encoding.toUpperCase() !== 'DECIMAL') throw new Fault('ResponseFormat', `Encoding ${encoding} is not supported (DECIMAL only)`);
  if (/^(true|1)$/i.test(format.getAttribute('CheckDigits') ?? '')) throw new Fault('ResponseFormat', 'CheckDigits is not supported');
  const length = format.getAttribute('Length') ?? '';
  if (!/^[678]$/.test(length)) throw new Fault('ResponseFormat', `Length ${JSON.stringify(length)} is not 6, 7 or 8`);
  return Number(length) as OtpDigits;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

/** Unix seconds → xs:dateTime in UTC, for messages. */
const isoDate = (s: number): string => new Date(s * 1000).toISOString().replace('.000Z', 'Z');

/** xs:dateTime → Unix seconds; a date without a zone is read as UTC. */
function parseDate(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const m = DATE.exec(value);
  const ms = m === null ? NaN : Date.parse(m[8] === undefined ? `${value}Z` : value);
  if (Number.isNaN(ms)) throw new Fault(field, `${JSON.stringify(value)} is not an xs:dateTime`);
  return Math.floor(ms / 1000);
}

// ---------------------------------------------------------------- the reader

interface Crypto {
  key: Buffer;
  /** From MACMethod/MACKey; the encryption key itself only with --legacy when MACKey is missing. */
  macKey: Buffer;
  macHash: string;
  legacy: boolean;
}

/** Checks a value's MAC (before decrypting: encrypt-then-MAC), then decrypts it. */
function openValue(v: Extract<RawValue, { kind: 'encrypted' }>, field: string, c: Crypto): Buffer {
  if (v.mac === undefined) throw new Fault('ValueMAC', `missing on the encrypted ${field}`);
  const overCipher = macEquals(v.mac, createHmac(c.macHash, c.macKey).update(v.data).digest());
  const plain = decrypt(v.cipher, c.key, v.data);
  if (!overCipher) {
    const overPlain = plain !== undefined && macEquals(v.mac, createHmac(c.macHash, c.macKey).update(plain).digest());
    if (!overPlain) throw new Fault('ValueMAC', 'MAC does not match');
    if (!c.legacy) throw new Fault('ValueMAC', 'MAC is over the plaintext (pre-RFC 6030 form): give --legacy to accept it');
  }
  if (plain === undefined) throw new Fault(field, 'cannot be decrypted');
  return plain;
}

/** The largest integer a record holds exactly; an RFC 4226 §5.1 counter may be any 8-byte value. */
const MAX_KEPT = BigInt(Number.MAX_SAFE_INTEGER);
const MAX_COUNTER = 2n ** 64n - 1n;

/** An integer Data child (xs:integer as text, or encrypted big-endian octets) of at least `min`. */
function readInteger(data: XElement | undefined, name: string, c: Crypto | undefined, min: number): number | undefined {
  const el = child(data, NS.pskc, name);
  if (el === undefined) return undefined;
  const raw = readValue(el, name);
  let n: bigint;
  if (raw.kind === 'plain') {
    const m = /^([+-]?)0*(\d+)$/.exec(raw.text);
    if (m === null) throw new Fault(name, `${JSON.stringify(raw.text)} is not an integer`);
    // Past 20 digits a value is beyond ±2^64 whatever they are: 21 of them keep its sign and size.
    n = BigInt(`${m[1]}${(m[2] as string).slice(0, 21)}`);
  } else {
    // RFC 6030 §4.3.3: encrypted integers are big-endian octets.
    const bytes = openValue(raw, name, c as Crypto);
    n = bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString('hex')}`);
  }
  const shown = raw.kind === 'plain' ? raw.text : String(n);
  if (n < BigInt(min)) throw new Fault(name, min === 0 ? `${shown} is negative: ${name} must be a non-negative integer` : `${shown} is below ${min}`);
  if (name === 'Counter' && n > MAX_COUNTER) throw new Fault(name, `${shown} is over 2^64 - 1: the counter is an unsigned 8-byte value (RFC 4226 §5.1)`);
  if (n > MAX_KEPT) throw new Fault(name, `${shown} is over 2^53 - 1 (${MAX_KEPT}), the largest value the server keeps`);
  return Number(n);
}

interface PackageOutcome {
  record?: TokenRecord;
  warning?: string;
}

function readPackage(pkg: XElement, c: Crypto | undefined): PackageOutcome {
  const keys = children(pkg, NS.pskc, 'Key');
  if (keys.length !== 1) throw new Fault('Key', keys.length === 0 ? 'missing' : 'more than one Key in a KeyPackage');
  const key = keys[0] as XElement;
  const algorithm = key.getAttribute('Algorithm') ?? '';
  if (algorithm === PIN_ALGORITHM) return { warning: 'a PIN key (for the device), not an OTP token: not imported' };
  const type = TOKEN_ALGORITHMS[algorithm];
  if (type === undefined) throw new Fault('Algorithm', `unsupported key algorithm ${JSON.stringify(algorithm)} (HOTP and TOTP only)`);

  const device = child(pkg, NS.pskc, 'DeviceInfo');
  const serial = childText(device, NS.pskc, 'SerialNo') || (key.getAttribute('Id') ?? '').trim();
  // eslint-disable-next-line no-control-regex
  if (serial === '' || serial.length > 128 || /[\u0000-\u001f\u007f]/.test(serial)) {
    throw new Fault('SerialNo', serial === '' ? 'missing (no SerialNo and no Key Id)' : 'is not a printable serial of at most 128 characters');
  }

  const params = child(key, NS.pskc, 'AlgorithmParameters');
  const algo = parseSuite(childText(params, NS.pskc, 'Suite'));
  const digits = parseDigits(child(params, NS.pskc, 'ResponseFormat'));

  const policy = child(key, NS.pskc, 'Policy');
  const pinMode = child(policy, NS.pskc, 'PINPolicy')?.getAttribute('PINUsageMode') ?? 'Local';
  if (pinMode !== 'Local') throw new Fault('PINPolicy', `PINUsageMode ${pinMode} is not supported (the server does not check token PINs)`);
  const usages = policy === undefined ? [] : children(policy, NS.pskc, 'KeyUsage').map(text);
  if (usages.length > 0 && !usages.includes('OTP')) throw new Fault('KeyUsage', 'does not allow OTP');

  const data = child(key, NS.pskc, 'Data');
  const secretEl = child(data, NS.pskc, 'Secret');
  if (secretEl === undefined) throw new Fault('Secret', 'missing (a key without a secret cannot be imported)');
  const rawSecret = readValue(secretEl, 'Secret');
  const secret = rawSecret.kind === 'plain' ? base64Strict(rawSecret.text, 'Secret') : openValue(rawSecret, 'Secret', c as Crypto);
  if (secret.length < MIN_SECRET_BYTES) {
    throw new Fault('Secret', `is ${secret.length} bytes; at least ${MIN_SECRET_BYTES} are required (RFC 4226 R6)`);
  }

  const counter = readInteger(data, 'Counter', c, 0) ?? 0;
  const t0 = readInteger(data, 'Time', c, 0) ?? 0;
  const period = readInteger(data, 'TimeInterval', c, 1) ?? 30;
  const drift = readInteger(data, 'TimeDrift', c, -Number.MAX_SAFE_INTEGER) ?? 0;

  // Validity (P10: carried here, enforced by the server; parsePskc refuses a key already expired):
  // the narrowest of Key/Policy and DeviceInfo.
  const starts = [parseDate(childText(policy, NS.pskc, 'StartDate'), 'StartDate'), parseDate(childText(device, NS.pskc, 'StartDate'), 'StartDate')];
  const ends = [parseDate(childText(policy, NS.pskc, 'ExpiryDate'), 'ExpiryDate'), parseDate(childText(device, NS.pskc, 'ExpiryDate'), 'ExpiryDate')];
  const validFrom = Math.max(...starts.map((s) => s ?? -Infinity));
  const validUntil = Math.min(...ends.map((s) => s ?? Infinity));

  const record: TokenRecord = {
    serial,
    type,
    algorithm: algo,
    digits,
    period: type === 'totp' ? period : 30,
    t0: type === 'totp' ? t0 : 0,
    counter: type === 'hotp' ? counter : 0,
    drift: type === 'totp' ? drift : 0,
    secret,
  };
  const optional: Array<[keyof TokenRecord, string | undefined]> = [
    ['issuer', childText(key, NS.pskc, 'Issuer')],
    ['manufacturer', childText(device, NS.pskc, 'Manufacturer')],
    ['model', childText(device, NS.pskc, 'Model')],
    ['user', childText(key, NS.pskc, 'UserId') || childText(device, NS.pskc, 'UserId')],
  ];
  for (const [k, v] of optional) if (v) (record as unknown as Record<string, unknown>)[k] = v;
  if (Number.isFinite(validFrom)) record.validFrom = validFrom;
  if (Number.isFinite(validUntil)) record.validUntil = validUntil;
  return { record };
}

/** Every EncryptedValue in the file must use a cipher whose key fits the key we hold (P6). */
function addCiphers(el: XElement, out: Set<CipherRef>): void {
  for (const method of descendants(el, NS.xenc, 'EncryptionMethod')) {
    const cipher = CIPHERS[method.getAttribute('Algorithm') ?? ''];
    if (cipher !== undefined) out.add(cipher);
  }
}

/** The file as the checks see it, however it was read. */
interface PskcDocument {
  container: XElement;
  /** The container's pskc:KeyPackage children, in order. */
  packages: Iterable<XElement>;
  count: number;
  /** The first pskc:EncryptedValue in document order (the wrong-key probe with --legacy). */
  firstEncrypted: XElement | undefined;
  /** The known ciphers of every xenc:EncryptionMethod in the file. */
  ciphers: Set<CipherRef>;
}

function parseXml(text: string): XElement {
  try {
    const doc = new DOMParser({ onError: onWarningStopParsing }).parseFromString(text, 'text/xml');
    return doc.documentElement as Element as XElement;
  } catch (e) {
    const message = (e as Error).message.split('\n')[0] as string;
    // xmldom's ParseError carries its locator: where the parser was (line 0 before the root element).
    const at = (e as { locator?: { lineNumber: number; columnNumber: number } }).locator;
    const where = at !== undefined && at.lineNumber > 0 ? ` at line ${at.lineNumber}, column ${at.columnNumber}` : '';
    throw new Fault('', `not well-formed XML${where}: ${message.replace(/^Reporting \w+ "(.*)" caused .*$/, '$1')}`);
  }
}

/** What xmldom is given, a whole document or a container without its KeyPackages, within its limit. */
function checkXmldomSize(what: string, bytes: number, limits: PskcLimits): void {
  const max = limits.maxWholeDocumentBytes ?? WHOLE_DOCUMENT_MAX_BYTES;
  if (bytes <= max) return;
  throw new Fault(
    '',
    `${what}; the whole-document reader takes up to ${max} bytes (it needs ~35 bytes of memory per byte): split the file into smaller ones`,
  );
}

/** The whole document through xmldom: the reference reading. */
function readWhole(text: string, bytes: number, limits: PskcLimits): PskcDocument {
  checkXmldomSize(`is ${bytes} bytes and not in the layout the large-file reader takes (or not well-formed XML)`, bytes, limits);
  const container = parseXml(text);
  const packages = children(container, NS.pskc, 'KeyPackage');
  const ciphers = new Set<CipherRef>();
  addCiphers(container, ciphers);
  return { container, packages, count: packages.length, firstEncrypted: descendants(container, NS.pskc, 'EncryptedValue')[0], ciphers };
}

/** The fast path (pskc-split.ts); undefined whenever it cannot be sure to read as readWhole does. */
function readSplit(text: string, limits: PskcLimits): PskcDocument | undefined {
  const ciphers = new Set<CipherRef>();
  let firstEncrypted: XElement | undefined;
  const split = splitPskc(text, (pkg) => {
    addCiphers(pkg, ciphers);
    firstEncrypted ??= descendants(pkg, NS.pskc, 'EncryptedValue')[0];
  });
  if (split === undefined) return undefined;
  const header = Buffer.byteLength(split.header);
  checkXmldomSize(`has ${header} bytes outside its KeyPackages, which the whole-document reader reads`, header, limits);
  let container: XElement;
  try {
    container = parseXml(split.header);
  } catch {
    return undefined; // not well-formed: readWhole gives the exact message
  }
  // An EncryptedValue outside the KeyPackages would change which one comes first: not worth the care.
  if (descendants(container, NS.pskc, 'EncryptedValue').length > 0) return undefined;
  addCiphers(container, ciphers);
  return { container, packages: split.packages(), count: split.count, firstEncrypted, ciphers };
}

/** Structure and key checks on the file as a whole; any fault here refuses the file. */
function openFile(
  content: Buffer,
  protection: PskcProtection,
  limits: PskcLimits,
): { document: PskcDocument; crypto: Crypto | undefined; warnings: string[] } {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  if (content.length > maxBytes) throw new Fault('', `is ${content.length} bytes, over the limit of ${maxBytes}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    text = '\u0000';
  }
  if (text.includes('\u0000')) throw new Fault('', 'is not UTF-8 text');
  if (/<!DOCTYPE/i.test(text)) throw new Fault('', 'has a DOCTYPE: DTDs and entities are refused');
  const document = (limits.wholeDocument === true ? undefined : readSplit(text, limits)) ?? readWhole(text, content.length, limits);
  const container = document.container;
  if (container.localName !== 'KeyContainer') throw new Fault('', `root element is ${container.localName}, not KeyContainer`);
  if (container.namespaceURI !== NS.pskc) {
    throw new Fault('KeyContainer', `namespace ${JSON.stringify(container.namespaceURI ?? '')} is not ${NS.pskc}`);
  }
  const version = container.getAttribute('Version');
  if (version !== '1.0') throw new Fault('KeyContainer', `Version ${JSON.stringify(version ?? '')} is not supported (1.0 only)`);

  const warnings: string[] = [];
  if (child(container, NS.pskc, 'Signature') !== undefined || child(container, NS.ds, 'Signature') !== undefined) {
    warnings.push('carries an XML signature that is not verified (no signing certificate is configured); its MACs and key protection still apply');
  }

  const source = readEncryptionKey(container, limits.maxIterations ?? DEFAULT_MAX_ITERATIONS);
  // Nothing encrypted: nothing to decrypt, no key needed (a plain file, or protection declared but unused).
  if (document.firstEncrypted === undefined) return { document, crypto: undefined, warnings };
  if (source.kind === 'none') throw new Fault('EncryptionKey', 'missing, but the file has encrypted values');
  // Structure before any derivation (P4, P5, P6): MAC method, MAC key, ciphers and key length.
  const macMethod = child(container, NS.pskc, 'MACMethod');
  if (macMethod === undefined) throw new Fault('MACMethod', 'missing: encrypted values without a MAC cannot be trusted');
  const macAlg = macMethod.getAttribute('Algorithm') ?? '';
  const macHash = HMACS[macAlg];
  if (macHash === undefined) throw new Fault('MACMethod', `unsupported MAC algorithm ${JSON.stringify(macAlg)}`);
  const macKeyEl = child(macMethod, NS.pskc, 'MACKey');
  const macKeyEnc = macKeyEl === undefined ? undefined : readEncrypted(macKeyEl, 'MACKey');
  if (macKeyEnc === undefined && protection.legacy !== true) {
    throw new Fault('MACKey', 'missing (pre-RFC 6030 form, MAC with the encryption key): give --legacy to accept it');
  }
  const ciphers = [...document.ciphers];
  const keyBytes = ciphers[0]?.keyBytes ?? 16;
  if (ciphers.some((c) => c.keyBytes !== keyBytes)) throw new Fault('EncryptionMethod', 'the file mixes AES key sizes');

  let key: Buffer;
  if (source.kind === 'preshared') {
    if (protection.key === undefined) throw new Fault('EncryptionKey', 'the file is encrypted with a pre-shared key: give the key');
    if (protection.key.length !== keyBytes) {
      throw new Fault('EncryptionKey', `the key given is ${protection.key.length} bytes; the file's cipher needs ${keyBytes}`);
    }
    key = protection.key;
  } else {
    const length = source.keyLength ?? keyBytes;
    if (length !== keyBytes) throw new Fault('KeyLength', `${length} does not fit the file's cipher (${keyBytes} bytes)`);
    if (protection.password === undefined) throw new Fault('EncryptionKey', 'the file is protected with a password (PBKDF2): give the password');
    key = pbkdf2Sync(protection.password, source.salt, source.iterations, length, source.prf);
  }
  const what = source.kind === 'preshared' ? 'wrong key' : 'wrong password';

  // A wrong key shows as bad padding: test it on the MAC key, else (legacy) on the first encrypted value.
  const probe = macKeyEnc ?? readEncrypted(document.firstEncrypted, 'EncryptedValue');
  const opened = decrypt(probe.cipher, key, probe.data);
  if (opened === undefined) throw new Fault('EncryptionKey', `${what}: the ${macKeyEnc === undefined ? 'first encrypted value' : 'MAC key'} does not decrypt`);
  const macKey = macKeyEnc === undefined ? key : opened;
  return { document, crypto: { key, macKey, macHash, legacy: protection.legacy === true }, warnings };
}

export function parsePskc(content: Buffer, file: string, protection: PskcProtection, limits: PskcLimits = {}): ParseResult {
  const now = limits.now ?? Math.floor(Date.now() / 1000);
  const issues: ImportIssue[] = [];
  const warnings: ImportIssue[] = [];
  let opened: ReturnType<typeof openFile>;
  try {
    opened = openFile(content, protection, limits);
  } catch (e) {
    /* c8 ignore next -- only Fault is thrown on purpose; anything else is a bug and must surface */
    if (!(e instanceof Fault)) throw e;
    const f = e;
    return { records: [], places: [], issues: [{ file, record: 'file', field: f.field, reason: f.reason }], warnings };
  }
  for (const w of opened.warnings) warnings.push({ file, record: 'file', field: 'Signature', reason: w });

  if (opened.document.count === 0) issues.push({ file, record: 'file', field: 'KeyPackage', reason: 'none in the file' });
  const records: TokenRecord[] = [];
  const places: RecordPlace[] = [];
  const seen = new Map<string, number>();
  let index = -1;
  for (const pkg of opened.document.packages) {
    index++;
    const name = `KeyPackage ${index + 1}`;
    try {
      const out = readPackage(pkg, opened.crypto);
      if (out.warning !== undefined) warnings.push({ file, record: name, field: 'Key', reason: out.warning });
      if (out.record === undefined) continue;
      const first = seen.get(out.record.serial);
      if (first !== undefined) {
        // P10: a serial is the token's identity here; two KeyPackages with one serial (fig 10) refuse the file.
        throw new Fault('SerialNo', `serial ${out.record.serial} is also in KeyPackage ${first}`);
      }
      seen.set(out.record.serial, index + 1);
      // RFC 6030 §5: the key MUST NOT be used after its ExpiryDate (nor before its StartDate, which
      // the server enforces at authentication): an expired key could never be used.
      const { validFrom, validUntil } = out.record;
      if (validUntil !== undefined && validUntil <= now) throw new Fault('ExpiryDate', `${isoDate(validUntil)} has passed: the key must not be used after it`);
      if (validFrom !== undefined && validFrom > now) {
        warnings.push({ file, record: name, field: 'StartDate', reason: `${isoDate(validFrom)} is still to come: the token is refused until then` });
      }
      records.push(out.record);
      places.push({ record: name, serial: 'SerialNo', user: 'UserId' });
    } catch (e) {
      /* c8 ignore next -- only Fault is thrown on purpose; anything else is a bug and must surface */
      if (!(e instanceof Fault)) throw e;
      const f = e;
      issues.push({ file, record: name, field: f.field, reason: f.reason });
    }
  }
  return { records, places, issues, warnings };
}
