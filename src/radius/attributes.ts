/**
 * Named attributes for [[reply]] rules: "Filter-Id" = "admins" → the TLV bytes.
 *
 * Names, numbers, types and VALUE names come from FreeRADIUS-format dictionaries: the standard
 * ones bundled with the `radius` package, the vendor ones in this repository's dictionaries/
 * (Cisco, Fortinet, Palo Alto, Microsoft RFC 2548, RFC 6911), and any `dictionaries` files from
 * the configuration. This module checks and encodes each value itself; the `radius` package (its
 * dictionary state is global) resolves the name and frames the TLV, wrapping vendor attributes
 * in Vendor-Specific (RFC 2865 §5.26, vendor type and length one octet each). Start-up only.
 *
 * Names compare case-insensitively. Tagged attributes (RFC 2868 §3) take the tag after a colon:
 * "Tunnel-Type:1" = "VLAN". Without one, an integer carries tag 0 (the 3-octet value follows
 * a zero tag octet, "If the Tag field is unused, it MUST be zero"), and a string has no tag
 * octet unless it starts with a byte ≤ 0x1F, which would read as a tag: then 0 is written.
 *
 * Value syntax: string/text → UTF-8; integer → a number or a VALUE name ("VLAN"); ipaddr →
 * dotted IPv4; ipv6addr → IPv6; ipv6prefix → "2001:db8::/48"; octets → "0x…" hex or text;
 * byte, short → numbers. Attributes the server owns or that need per-packet encryption
 * (User-Password, Message-Authenticator, Tunnel-Password, MPPE keys …) are refused.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIPv4, isIPv6 } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-ignore -- radius 1.1.4 ships no type declarations; RadiusApi below types what is used.
import radius from 'radius';

interface RadiusApi {
  add_dictionary(file: string): void;
  load_dictionaries(): void;
  load_dictionary(file: string): void;
  attr_name_to_id(name: string, vendor?: number): string | undefined;
  encode(args: {
    code: string;
    identifier: number;
    authenticator: Buffer;
    secret: string;
    attributes: unknown[];
    add_message_authenticator: boolean;
  }): Buffer;
}
const lib = radius as unknown as RadiusApi;

export type AttributeErrorCode = 'unknown-attribute' | 'bad-tag' | 'bad-value' | 'not-allowed' | 'dictionary';

/** A [[reply]] attribute that cannot be encoded, or a dictionary file that cannot be loaded. */
export class AttributeError extends Error {
  constructor(
    readonly code: AttributeErrorCode,
    /** the attribute name as written, or the dictionary file */
    readonly attribute: string,
    readonly reason: string,
  ) {
    super(`${attribute}: ${reason}`);
    this.name = 'AttributeError';
  }
}

const STANDARD = -1;

interface AttrDef {
  name: string;
  vendor: number;
  id: number;
  type: string;
  tagged: boolean;
  encrypted: boolean;
}

const here = dirname(fileURLToPath(import.meta.url));
/** src/radius/ and dist/radius/ both sit two levels below the repository root. */
export const PROJECT_DICTIONARIES = resolve(here, '..', '..', 'dictionaries');
const PACKAGE_DICTIONARIES = join(dirname(createRequire(import.meta.url).resolve('radius')), '..', 'dictionaries');
const SHIPPED = ['dictionary.rfc6911', 'dictionary.cisco', 'dictionary.fortinet', 'dictionary.microsoft', 'dictionary.paloalto'];

/** RFC 2865 §5: value at most 253 octets; inside Vendor-Specific, 255 − 2 − 4 − 2 = 247. */
const MAX_VALUE = 253;
const MAX_VSA_VALUE = 247;

/** Set by the server itself, or encrypted per packet with the request authenticator. */
const REFUSED = new Set(['user-password', 'chap-password', 'message-authenticator', 'eap-message', 'proxy-state', 'vendor-specific']);

const attrs = new Map<string, AttrDef>();
const enums = new Map<string, Map<string, number>>();
/** vendor id → true when its VSAs use the RFC 2865 layout (format=1,1) */
const vendorLayoutOk = new Map<number, boolean>();
/** Loaded dictionary files, with the mtime and size they had: one changed since is read again (SIGHUP). */
const loaded = new Map<string, string>();
const stamp = (file: string): string => {
  try {
    const st = statSync(file);
    return `${st.mtimeMs}:${st.size}`;
  } catch {
    return ''; // parseFile says why it cannot be read
  }
};
const vendorIdByName = new Map<string, number>();

interface Staged {
  attrs: Map<string, AttrDef>;
  enums: [string, string, number][];
  vendors: Map<string, { id: number; ok: boolean }>;
}

const KEYWORD = /^(ATTRIBUTE|VALUE|VENDOR|BEGIN-VENDOR|END-VENDOR|\$INCLUDE)(?=\s|$)/;
const WELL_FORMED = /^(?:VENDOR\s+\S+\s+\d+(?:\s+\S+)?|BEGIN-VENDOR\s+\S+(?:\s+\S+)?|END-VENDOR(?:\s+\S+)?|ATTRIBUTE\s+\S+\s+(?:[\d.]+|0x[0-9a-f]+)\s+\S+(?:\s+\S+)?|VALUE\s+\S+\s+\S+\s+(?:\d+|0x[0-9a-f]+)|\$INCLUDE\s+\S+)$/i;

function parseFile(file: string, staged: Staged, seen: Set<string>, extra: boolean): void {
  if (seen.has(file)) return;
  seen.add(file);
  let text: string;
  try {
    text = readFileSync(file, 'ascii');
  } catch (err) {
    throw new AttributeError('dictionary', file, `cannot read (${(err as NodeJS.ErrnoException).code})`);
  }
  let vendor = STANDARD;
  for (const [index, raw] of text.split('\n').entries()) {
    // The subset the `radius` package reads (lib/radius.js _load_dictionary), same meaning.
    const line = raw.replace(/#.*/, '').trim();
    // An administrator's file: a line of these keywords that does not parse is a mistake, said
    // with its line, rather than an attribute silently missing.
    if (extra && !WELL_FORMED.test(line) && KEYWORD.test(line)) {
      throw new AttributeError('dictionary', file, `line ${index + 1}: "${line.slice(0, 60)}" is not a valid ${(KEYWORD.exec(line) as RegExpExecArray)[0]} line`);
    }
    let m: RegExpExecArray | null;
    if ((m = /^VENDOR\s+(\S+)\s+(\d+)(?:\s+(\S+))?/.exec(line))) {
      const format = /format=(\d),(\d)/.exec(m[3] ?? '');
      staged.vendors.set(m[1] as string, { id: Number(m[2]), ok: format === null || (format[1] === '1' && format[2] === '1') });
    } else if ((m = /^BEGIN-VENDOR\s+(\S+)/.exec(line))) {
      const name = m[1] as string;
      const id = staged.vendors.get(name)?.id ?? vendorIdByName.get(name);
      if (id === undefined) throw new AttributeError('dictionary', file, `BEGIN-VENDOR ${name}: unknown vendor`);
      vendor = id;
    } else if (/^END-VENDOR\b/.test(line)) {
      vendor = STANDARD;
    } else if ((m = /^ATTRIBUTE\s+(\S+)\s+(\d+)\s+(\S+)(?:\s+(\S+))?/.exec(line))) {
      const name = m[1] as string;
      const id = Number(m[2]);
      const flags = (m[4] ?? '').split(',');
      if (extra && vendor === STANDARD) {
        const clash = [...attrs.values()].find((x) => x.vendor === STANDARD && x.id === id && x.name.toLowerCase() !== name.toLowerCase());
        if (clash !== undefined) {
          throw new AttributeError('dictionary', file, `ATTRIBUTE ${name} ${id} redefines ${clash.name} (a vendor attribute needs BEGIN-VENDOR)`);
        }
      }
      staged.attrs.set(name.toLowerCase(), {
        name,
        vendor,
        id,
        type: (m[3] as string).toLowerCase(),
        tagged: flags.includes('has_tag'),
        encrypted: flags.some((x) => x.startsWith('encrypt=')),
      });
    } else if ((m = /^VALUE\s+(\S+)\s+(\S+)\s+(\d+)/.exec(line))) {
      staged.enums.push([(m[1] as string).toLowerCase(), (m[2] as string).toLowerCase(), Number(m[3])]);
    } else if ((m = /^\$INCLUDE\s+(\S+)/.exec(line))) {
      parseFile(resolve(dirname(file), m[1] as string), staged, seen, extra);
    }
  }
}

function load(files: readonly string[], extra: boolean): void {
  const fresh = files.map((f) => resolve(f)).filter((f) => loaded.get(f) !== stamp(f));
  if (fresh.length === 0) return;
  const staged: Staged = { attrs: new Map(), enums: [], vendors: new Map() };
  const seen = new Set<string>();
  for (const f of fresh) parseFile(f, staged, seen, extra);
  // All files parsed and checked: now commit, to our index and to the `radius` package.
  for (const [name, v] of staged.vendors) {
    vendorIdByName.set(name, v.id);
    vendorLayoutOk.set(v.id, v.ok);
  }
  for (const [k, def] of staged.attrs) attrs.set(k, def);
  for (const [attr, name, n] of staged.enums) {
    const m = enums.get(attr) ?? new Map<string, number>();
    m.set(name, n);
    enums.set(attr, m);
  }
  lib.load_dictionaries();
  for (const f of fresh) {
    loaded.set(f, stamp(f));
    lib.add_dictionary(f);
    // add_dictionary alone is not enough once the package has loaded its set (it loads once).
    lib.load_dictionary(f);
  }
}

function ensureLoaded(): void {
  if (loaded.size > 0) return;
  // The package loads its own directory itself (load_dictionaries); we index the same files.
  const bundled = readdirSync(PACKAGE_DICTIONARIES)
    .sort()
    .map((f) => join(PACKAGE_DICTIONARIES, f));
  load([...bundled, ...SHIPPED.map((f) => join(PROJECT_DICTIONARIES, f))], false);
}

/**
 * Loads the standard and shipped dictionaries and then `extraFiles` (FreeRADIUS format), once
 * each. Throws AttributeError (code 'dictionary') for an unreadable file, an unknown vendor, or
 * a standard attribute number redefined under another name (a common mistake in vendor files
 * written without BEGIN-VENDOR, which would corrupt the package's global dictionary).
 */
export function loadDictionaries(extraFiles: readonly string[]): void {
  ensureLoaded();
  load(extraFiles, true);
}

function bad(name: string, reason: string): AttributeError {
  return new AttributeError('bad-value', name, reason);
}

function hexOrText(name: string, value: string): Buffer {
  if (!/^0x/i.test(value)) return Buffer.from(value, 'utf8');
  const hex = value.slice(2);
  if (!/^(?:[0-9a-f]{2})+$/i.test(hex)) throw bad(name, 'octets in 0x… form need an even number of hex digits');
  return Buffer.from(hex, 'hex');
}

function unsigned(name: string, value: string | number, max: number, def: AttrDef): number {
  let n: number | undefined;
  if (typeof value === 'number') n = value;
  else if (/^\d+$/.test(value)) n = Number(value);
  else n = enums.get(def.name.toLowerCase())?.get(value.toLowerCase());
  if (n === undefined) throw bad(name, `"${value}" is not a number or a VALUE name of ${def.name}`);
  if (!Number.isInteger(n) || n < 0 || n > max) throw bad(name, `${value} is out of range 0..${max}`);
  return n;
}

/** IPv6 text → 16 octets (via the WHATWG URL parser, which normalises embedded IPv4 to hex). */
function ipv6(name: string, text: string): Buffer {
  if (!isIPv6(text) || text.includes('%')) throw bad(name, `"${text}" is not an IPv6 address`);
  const host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  const [head, tail] = host.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function valueBytes(name: string, def: AttrDef, value: string | number): Buffer {
  const text = String(value);
  switch (def.type) {
    case 'string':
    case 'text':
      return Buffer.from(text, 'utf8');
    case 'octets':
      return hexOrText(name, text);
    case 'integer': {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(unsigned(name, value, def.tagged ? 0xffffff : 0xffffffff, def));
      return out;
    }
    case 'short': {
      const out = Buffer.alloc(2);
      out.writeUInt16BE(unsigned(name, value, 0xffff, def));
      return out;
    }
    case 'byte':
      return Buffer.from([unsigned(name, value, 0xff, def)]);
    case 'ipaddr':
      if (!isIPv4(text)) throw bad(name, `"${text}" is not an IPv4 address`);
      return Buffer.from(text.split('.').map(Number));
    case 'ipv6addr':
      return ipv6(name, text);
    case 'ipv6prefix': {
      // RFC 3162 §2.3: Reserved (0), Prefix-Length, Prefix (sent as all 16 octets).
      const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
      const bits = m ? Number(m[2]) : -1;
      if (m === null || bits > 128) throw bad(name, `"${text}" is not an IPv6 prefix such as 2001:db8::/48`);
      const prefix = ipv6(name, m[1] as string);
      for (let i = 0; i < 128; i++) {
        if (i >= bits && ((prefix[i >> 3] as number) >> (7 - (i & 7))) & 1) throw bad(name, `"${text}" has bits set beyond /${bits}`);
      }
      return Buffer.concat([Buffer.from([0, bits]), prefix]);
    }
    default:
      throw new AttributeError('not-allowed', name, `type ${def.type} is not supported in reply attributes`);
  }
}

/** "Tunnel-Type:1" → name and tag; "Filter-Id" → no tag. */
function splitTag(written: string): { name: string; tag: number | undefined } {
  const m = /^(.*):(\d+)$/.exec(written);
  if (m === null) return { name: written, tag: undefined };
  const tag = Number(m[2]);
  if (tag > 0x1f) throw new AttributeError('bad-tag', written, 'a tag is 0..31 (RFC 2868 §3)');
  return { name: m[1] as string, tag };
}

/**
 * The TLV bytes of one attribute (a Vendor-Specific TLV for vendor attributes).
 * Throws AttributeError: unknown-attribute, bad-tag, bad-value or not-allowed.
 */
export function encodeAttribute(name: string, value: string | number): Buffer {
  ensureLoaded();
  const { name: bare, tag } = splitTag(name);
  const def = attrs.get(bare.toLowerCase());
  if (def === undefined) throw new AttributeError('unknown-attribute', name, 'no such attribute in the loaded dictionaries');
  if (REFUSED.has(def.name.toLowerCase()) || def.encrypted) {
    throw new AttributeError('not-allowed', name, 'set by the server or encrypted per packet; not allowed in reply rules');
  }
  if (tag !== undefined && !def.tagged) throw new AttributeError('bad-tag', name, `${def.name} takes no tag`);
  if (def.vendor !== STANDARD && vendorLayoutOk.get(def.vendor) === false) {
    throw new AttributeError('not-allowed', name, `vendor ${def.vendor} does not use the RFC 2865 VSA layout (format=1,1)`);
  }

  let bytes = valueBytes(name, def, value);
  if (bytes.length === 0) throw bad(name, 'empty value');
  if (def.tagged) {
    if (def.type === 'integer') bytes = Buffer.concat([Buffer.from([tag ?? 0]), bytes.subarray(1)]);
    else if (tag !== undefined || (bytes[0] as number) <= 0x1f) bytes = Buffer.concat([Buffer.from([tag ?? 0]), bytes]);
  }
  const max = def.vendor === STANDARD ? MAX_VALUE : MAX_VSA_VALUE;
  if (bytes.length > max) throw bad(name, `value is ${bytes.length} octets; at most ${max} fit`);

  const attr = [def.name, bytes];
  const packet = lib.encode({
    code: 'Access-Accept',
    identifier: 0,
    authenticator: Buffer.alloc(16),
    secret: 'unused',
    attributes: def.vendor === STANDARD ? [attr] : [['Vendor-Specific', def.vendor, [attr]]],
    add_message_authenticator: false,
  });
  // A copy: the TLV must not keep the package's 4096-byte packet buffer alive.
  return Buffer.from(packet.subarray(20));
}
