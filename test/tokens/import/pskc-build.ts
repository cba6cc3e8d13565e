/**
 * Builds small PSKC documents for edge-case tests (not a test file itself; tap runs it as one
 * with no assertions). Written for this project from RFC 6030 §4–§6, not from any other reader.
 */
import { createCipheriv, createHmac } from 'node:crypto';

export const KEY = Buffer.from('12345678901234567890123456789012', 'hex');
export const MAC_KEY = Buffer.alloc(20, 0x5a);
export const SECRET = Buffer.from('12345678901234567890');
const XENC = 'http://www.w3.org/2001/04/xmlenc#';

export function encrypt(plain: Buffer, opts: { key?: Buffer; cipher?: string; pad?: boolean; iv?: Buffer } = {}): Buffer {
  const key = opts.key ?? KEY;
  const iv = opts.iv ?? Buffer.alloc(16, 0x0f);
  const c = createCipheriv(opts.cipher ?? `aes-${key.length * 8}-cbc`, key, iv);
  c.setAutoPadding(opts.pad ?? true);
  return Buffer.concat([iv, c.update(plain), c.final()]);
}

export interface ValueOpts {
  key?: Buffer;
  macKey?: Buffer;
  method?: string;
  /** What the ValueMAC is computed over ('none': no ValueMAC element). */
  macOver?: 'cipher' | 'plain' | 'none';
  pad?: boolean;
  cipherValue?: string;
}

/** `<EncryptedValue>…</EncryptedValue><ValueMAC>…</ValueMAC>` for a Data child. */
export function encValue(plain: Buffer, opts: ValueOpts = {}): string {
  const key = opts.key ?? KEY;
  const data = encrypt(plain, { key, pad: opts.pad });
  const method = opts.method ?? `${XENC}aes${key.length * 8}-cbc`;
  const macOver = opts.macOver ?? 'cipher';
  const mac =
    macOver === 'none' ? '' : `<ValueMAC>${createHmac('sha1', opts.macKey ?? MAC_KEY).update(macOver === 'cipher' ? data : plain).digest('base64')}</ValueMAC>`;
  return `<EncryptedValue><xenc:EncryptionMethod Algorithm="${method}"/><xenc:CipherData><xenc:CipherValue>${opts.cipherValue ?? data.toString('base64')}</xenc:CipherValue></xenc:CipherData></EncryptedValue>${mac}`;
}

export function macMethod(opts: { key?: Buffer; macKey?: Buffer | null; algorithm?: string } = {}): string {
  const alg = opts.algorithm ?? 'http://www.w3.org/2000/09/xmldsig#hmac-sha1';
  if (opts.macKey === null) return `<MACMethod Algorithm="${alg}"/>`;
  const key = opts.key ?? KEY;
  const data = encrypt(opts.macKey ?? MAC_KEY, { key, iv: Buffer.alloc(16, 0x33) });
  return `<MACMethod Algorithm="${alg}"><MACKey><xenc:EncryptionMethod Algorithm="${XENC}aes${key.length * 8}-cbc"/><xenc:CipherData><xenc:CipherValue>${data.toString('base64')}</xenc:CipherValue></xenc:CipherData></MACKey></MACMethod>`;
}

export const PRESHARED = '<EncryptionKey><ds:KeyName>Pre-shared-key</ds:KeyName></EncryptionKey>';

export interface PackageOpts {
  serial?: string | null;
  keyId?: string | null;
  algorithm?: string;
  params?: string;
  data?: string;
  policy?: string;
  device?: string;
  key?: string;
  /** Replaces the whole <Key> element (or '' for none). */
  keys?: string;
}

export function pkg(o: PackageOpts = {}): string {
  const serial = o.serial === undefined ? 'S-1' : o.serial;
  const device = `<DeviceInfo>${serial === null ? '' : `<SerialNo>${serial}</SerialNo>`}${o.device ?? ''}</DeviceInfo>`;
  const id = o.keyId === undefined ? '' : o.keyId === null ? '' : ` Id="${o.keyId}"`;
  const data = o.data ?? `<Secret><PlainValue>${SECRET.toString('base64')}</PlainValue></Secret>`;
  const key =
    o.keys ??
    `<Key${id} Algorithm="${o.algorithm ?? 'urn:ietf:params:xml:ns:keyprov:pskc:totp'}">${o.key ?? ''}<AlgorithmParameters>${o.params ?? '<ResponseFormat Length="6" Encoding="DECIMAL"/>'}</AlgorithmParameters><Data>${data}</Data>${o.policy === undefined ? '' : `<Policy>${o.policy}</Policy>`}</Key>`;
  return `<KeyPackage>${device}${key}</KeyPackage>`;
}

export function doc(body: string, head = ''): Buffer {
  return Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:xenc="${XENC}" xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" xmlns:pkcs5="http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#">${head}${body}</KeyContainer>\n`,
  );
}
