import { readFileSync } from 'node:fs';
import { pbkdf2Sync } from 'node:crypto';
import t from 'tap';
import { formatIssue } from '../../../src/tokens/import/issue.js';
import { parsePskc } from '../../../src/tokens/import/pskc.js';
import { KEY, MAC_KEY, PRESHARED, SECRET, doc, encValue, encrypt, macMethod, pkg } from './pskc-build.js';

const FIX = new URL('../../fixtures/pskc/', import.meta.url);
const read = (name: string): Buffer => readFileSync(new URL(name, FIX));
const RFC_SECRET = '3132333435363738393031323334353637383930'; // ASCII 12345678901234567890
const FIG6_KEY = Buffer.from('12345678901234567890123456789012', 'hex');

t.test('RFC 6030 figure 3: plain HOTP with serial, 8 digits, counter 0, user', async (t) => {
  const r = parsePskc(read('rfc6030/figure3.pskcxml'), 'figure3.pskcxml', {});
  t.same(r.issues, []);
  t.equal(r.records.length, 1);
  const rec = r.records[0]!;
  t.match(rec, { serial: '987654321', type: 'hotp', algorithm: 'SHA1', digits: 8, counter: 0, issuer: 'Issuer', manufacturer: 'Manufacturer' });
  t.equal(rec.secret.toString('hex'), RFC_SECRET);
  t.equal(rec.user, 'UID=jsmith,DC=example-bank,DC=net', 'Key/UserId wins over DeviceInfo/UserId');
});

t.test('RFC 6030 figure 5: the PIN key is left out with a warning; the HOTP key imports', async (t) => {
  const r = parsePskc(read('rfc6030/figure5.pskcxml'), 'figure5.pskcxml', {});
  t.same(r.issues, []);
  t.equal(r.records.length, 1);
  t.equal(r.records[0]!.serial, '987654321');
  t.equal(r.warnings.length, 1);
  t.match(formatIssue(r.warnings[0]!), /^figure5\.pskcxml: KeyPackage 2: Key: a PIN key/);
});

t.test('RFC 6030 figure 6 (P1): AES-128-CBC with the pre-shared key 1234…9012', async (t) => {
  const r = parsePskc(read('rfc6030/figure6.pskcxml'), 'figure6.pskcxml', { key: FIG6_KEY });
  t.same(r.issues, []);
  t.equal(r.records.length, 1);
  t.equal(r.records[0]!.secret.toString('hex'), RFC_SECRET);
  t.match(r.records[0], { serial: '987654321', digits: 8, type: 'hotp' });
});

t.test('RFC 6030 figure 7 (P2): PBKDF2 with qwerty', async (t) => {
  t.equal(pbkdf2Sync('qwerty', Buffer.from('123eff3c4a72129c', 'hex'), 1000, 16, 'sha1').toString('hex'), '651e63cd57008476af1ff6422cd02e41');
  const r = parsePskc(read('rfc6030/figure7.pskcxml'), 'figure7.pskcxml', { password: 'qwerty' });
  t.same(r.issues, []);
  t.equal(r.records[0]!.secret.toString('hex'), RFC_SECRET);
  t.match(r.records[0], { serial: '987654321', issuer: 'Example-Issuer', manufacturer: 'TokenVendorAcme', digits: 8 });
});

t.test('RFC 6030 figure 9: the signature is not verified, and the file says so in a warning', async (t) => {
  const r = parsePskc(read('rfc6030/figure9.pskcxml'), 'figure9.pskcxml', {});
  t.same(r.issues, []);
  t.equal(r.records[0]!.serial, '0755225266', 'leading zero kept: serials are text');
  t.equal(r.warnings.length, 1);
  t.match(r.warnings[0], { record: 'file', field: 'Signature', reason: /not verified/ });
  // A ds:Signature directly under the container is noticed the same way.
  const ds = parsePskc(doc(pkg() + '<ds:Signature/>'), 'x', {});
  t.equal(ds.warnings.length, 1);
});

t.test('RFC 6030 figure 10 (P10): duplicate serial 9999999 refused, naming both KeyPackages; dates carried', async (t) => {
  const r = parsePskc(read('rfc6030/figure10.pskcxml'), 'figure10.pskcxml', {}, { now: Date.UTC(2006, 2, 15) / 1000 });
  t.equal(r.issues.length, 1);
  t.equal(formatIssue(r.issues[0]!), 'figure10.pskcxml: KeyPackage 4: SerialNo: serial 9999999 is also in KeyPackage 3');
  t.same(
    r.records.map((x) => [x.serial, x.validFrom, x.validUntil]),
    [
      ['654321', Date.UTC(2006, 4, 1) / 1000, Date.UTC(2006, 4, 31) / 1000],
      ['123456', Date.UTC(2006, 4, 1) / 1000, Date.UTC(2006, 4, 31) / 1000],
      ['9999999', Date.UTC(2006, 2, 1) / 1000, Date.UTC(2006, 2, 31) / 1000],
    ],
  );
  t.same(r.warnings.map(formatIssue), [
    'figure10.pskcxml: KeyPackage 1: StartDate: 2006-05-01T00:00:00Z is still to come: the token is refused until then',
    'figure10.pskcxml: KeyPackage 2: StartDate: 2006-05-01T00:00:00Z is still to come: the token is refused until then',
  ]);
});

t.test('RFC 6030 §5: a key past its ExpiryDate is refused (figure 10 read today); the duplicate is still named', async (t) => {
  const r = parsePskc(read('rfc6030/figure10.pskcxml'), 'figure10.pskcxml', {});
  t.same(r.issues.map(formatIssue), [
    'figure10.pskcxml: KeyPackage 1: ExpiryDate: 2006-05-31T00:00:00Z has passed: the key must not be used after it',
    'figure10.pskcxml: KeyPackage 2: ExpiryDate: 2006-05-31T00:00:00Z has passed: the key must not be used after it',
    'figure10.pskcxml: KeyPackage 3: ExpiryDate: 2006-03-31T00:00:00Z has passed: the key must not be used after it',
    'figure10.pskcxml: KeyPackage 4: SerialNo: serial 9999999 is also in KeyPackage 3',
  ]);
  t.same(r.records, []);
  // The narrowest of Key/Policy and DeviceInfo decides, with a zone or without (UTC).
  const at = (policy: string, device = '') => parsePskc(doc(pkg({ policy, device })), 'x.xml', {}, { now: Date.UTC(2030, 0, 1) / 1000 });
  t.match(at('<ExpiryDate>2031-01-01T00:00:00Z</ExpiryDate>', '<ExpiryDate>2029-12-31T23:00:00-01:00</ExpiryDate>').issues, [
    { record: 'KeyPackage 1', field: 'ExpiryDate', reason: '2030-01-01T00:00:00Z has passed: the key must not be used after it' },
  ]);
  t.same(at('<ExpiryDate>2030-01-01T00:00:01</ExpiryDate>').issues, [], 'one second to go');
  const early = at('<StartDate>2030-01-01T00:00:01Z</StartDate>');
  t.same(early.issues, []);
  t.match(early.warnings, [{ record: 'KeyPackage 1', field: 'StartDate', reason: /^2030-01-01T00:00:01Z is still to come/ }]);
  t.same(at('<StartDate>2030-01-01T00:00:00Z</StartDate>').warnings, [], 'valid from now');
});

const GENERATED = [
  ['plain.pskcxml', {}],
  ['preshared.pskcxml', { key: Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex') }],
  ['pbkdf2.pskcxml', { password: 'Correct-Horse-7' }],
] as const;

t.test('make_pskc.py fixtures (plain, pre-shared with encrypted integers, PBKDF2 with xenc11 params)', async (t) => {
  const seeds = {
    'GEN-TOTP-SHA1': '12345678901234567890',
    'GEN-TOTP-SHA256': '12345678901234567890123456789012',
    'GEN-TOTP-SHA512': '1234567890'.repeat(6) + '1234',
    'GEN-HOTP': '12345678901234567890',
  };
  for (const [file, protection] of GENERATED) {
    const r = parsePskc(read(`generated/${file}`), file, protection);
    t.same(r.issues, [], file);
    t.same(
      r.records.map((x) => [x.serial, x.type, x.algorithm, x.digits, x.period, x.counter, x.secret.toString()]),
      [
        ['GEN-TOTP-SHA1', 'totp', 'SHA1', 8, 30, 0, seeds['GEN-TOTP-SHA1']],
        ['GEN-TOTP-SHA256', 'totp', 'SHA256', 8, 30, 0, seeds['GEN-TOTP-SHA256']],
        ['GEN-TOTP-SHA512', 'totp', 'SHA512', 8, 60, 0, seeds['GEN-TOTP-SHA512']],
        ['GEN-HOTP', 'hotp', 'SHA1', 6, 30, 7, seeds['GEN-HOTP']],
      ],
      file,
    );
  }
});

t.test('P5: --legacy accepts a MAC over the plaintext and a missing MACKey', async (t) => {
  for (const name of ['mac-over-plaintext', 'no-mac-key']) {
    const r = parsePskc(read(`invalid/${name}.pskcxml`), name, { key: FIG6_KEY, legacy: true });
    t.same(r.issues, [], name);
    t.equal(r.records[0]!.secret.toString('hex'), RFC_SECRET, name);
  }
  // Legacy, no MACKey, wrong key: the first encrypted value does not decrypt.
  const wrong = parsePskc(read('invalid/no-mac-key.pskcxml'), 'f', { key: Buffer.alloc(16, 1), legacy: true });
  t.match(wrong.issues, [{ record: 'file', field: 'EncryptionKey', reason: /^wrong key: the first encrypted value/ }]);
});

t.test('limits: file size and iteration cap before any work (P6)', async (t) => {
  const big = parsePskc(doc(pkg()), 'big.xml', {}, { maxBytes: 100 });
  t.match(big.issues, [{ record: 'file', reason: /over the limit of 100/ }]);
  // A file the fast path cannot read (a processing instruction inside a KeyPackage) goes whole to
  // xmldom, which takes files only up to its own, smaller limit.
  const unusual = Buffer.from(doc(pkg().replace('<DeviceInfo>', '<DeviceInfo><?pi x?>')));
  const whole = parsePskc(unusual, 'pi.xml', {}, { maxWholeDocumentBytes: unusual.length - 1 });
  t.match(whole.issues, [{ record: 'file', reason: new RegExp(`^is ${unusual.length} bytes and not in the layout the large-file reader takes .* up to ${unusual.length - 1} bytes .*: split the file`) }]);
  t.same(parsePskc(unusual, 'pi.xml', {}, { maxWholeDocumentBytes: unusual.length }).issues, [], 'at the limit: read');
  const usual = Buffer.from(doc(pkg()));
  const header = Buffer.byteLength(doc(''));
  t.same(parsePskc(usual, 'ok.xml', {}, { maxWholeDocumentBytes: header }).issues, [], 'the fast path: only the part outside the KeyPackages counts');
  t.match(parsePskc(usual, 'ok.xml', {}, { maxWholeDocumentBytes: header - 1 }).issues, [
    { record: 'file', reason: new RegExp(`^has ${header} bytes outside its KeyPackages, which the whole-document reader reads; .* up to ${header - 1} bytes`) },
  ], 'a container bulky outside its KeyPackages is held to the same limit');
  const fig7 = parsePskc(read('rfc6030/figure7.pskcxml'), 'f7', { password: 'qwerty' }, { maxIterations: 999 });
  t.match(fig7.issues, [{ field: 'IterationCount', reason: '1000 is over the limit of 999' }]);
});

t.test('text encoding: invalid UTF-8 and UTF-16 are refused', async (t) => {
  t.match(parsePskc(Buffer.from([0x3c, 0xff, 0xfe]), 'a', {}).issues, [{ reason: 'is not UTF-8 text' }]);
  t.match(parsePskc(Buffer.from('\ufeff<a/>', 'utf16le'), 'b', {}).issues, [{ reason: 'is not UTF-8 text' }]);
});

t.test('XML that is not well-formed: one file-level issue naming the line and column xmldom stopped at', async (t) => {
  const plain = read('generated/plain.pskcxml').toString('utf8');
  const lines = plain.replace('<pskc:SerialNo>GEN-HOTP</pskc:SerialNo>', '<pskc:SerialNo>GEN-HOTP</pskc:Serial>').split('\n');
  const line = lines.findIndex((l) => l.includes('</pskc:Serial>')) + 1;
  t.ok(line > 60, 'deep in the file');
  for (const eol of ['\n', '\r\n']) {
    const r = parsePskc(Buffer.from(lines.join(eol)), 'm.xml', {});
    t.same(r.issues.map(formatIssue), [`m.xml: not well-formed XML at line ${line}, column 19: Opening and ending tag mismatch: "pskc:SerialNo" != "pskc:Serial"`]);
  }
  // Nothing parsed yet (no root element): no position to give.
  t.same(parsePskc(Buffer.from('serial,secret\n'), 'n.xml', {}).issues.map(formatIssue), ['n.xml: not well-formed XML: missing root element']);
});

t.test('structure of a KeyPackage', async (t) => {
  const one = (body: string, protection = {}) => parsePskc(doc(body), 'x.xml', protection);
  t.match(one('').issues, [{ record: 'file', field: 'KeyPackage', reason: 'none in the file' }]);
  t.match(one(pkg({ keys: '' })).issues, [{ record: 'KeyPackage 1', field: 'Key', reason: 'missing' }]);
  const k = '<Key Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp"/>';
  t.match(one(pkg({ keys: k + k })).issues, [{ field: 'Key', reason: /more than one/ }]);
  t.match(one(pkg({ serial: null, keyId: 'KID-9' })).records, [{ serial: 'KID-9' }], 'Key Id when no SerialNo');
  t.match(one(pkg({ serial: null })).issues, [{ field: 'SerialNo', reason: /^missing/ }]);
  t.match(one(pkg({ serial: 'x'.repeat(129) })).issues, [{ field: 'SerialNo', reason: /printable/ }]);
  t.match(one(pkg({ serial: 'a&#9;b' })).issues, [{ field: 'SerialNo', reason: /printable/ }]);
});

t.test('algorithm parameters: suites, digits, response format', async (t) => {
  const one = (params: string) => parsePskc(doc(pkg({ params })), 'x.xml', {});
  t.equal(one('<Suite>sha256</Suite><ResponseFormat Length="7"/>').records[0]!.algorithm, 'SHA256', 'privacyIDEA style, no Encoding');
  t.equal(one('<Suite>hmac-sha512</Suite><ResponseFormat Length="6"/>').records[0]!.algorithm, 'SHA512');
  t.equal(one('<Suite></Suite><ResponseFormat Length="8"/>').records[0]!.digits, 8);
  t.equal(one('').records[0]!.digits, 6, 'no ResponseFormat: 6 digits');
  t.match(one('<ResponseFormat Length="6" Encoding="HEXADECIMAL"/>').issues, [{ field: 'ResponseFormat', reason: /DECIMAL only/ }]);
  t.match(one('<ResponseFormat Length="6" CheckDigits="true"/>').issues, [{ field: 'ResponseFormat', reason: /CheckDigits/ }]);
  t.match(one('<ResponseFormat Encoding="DECIMAL"/>').issues, [{ field: 'ResponseFormat', reason: 'Length "" is not 6, 7 or 8' }]);
});

t.test('data: TOTP time fields, integers, policy and dates', async (t) => {
  const secret = `<Secret><PlainValue>${SECRET.toString('base64')}</PlainValue></Secret>`;
  const one = (o: Parameters<typeof pkg>[0]) => parsePskc(doc(pkg(o)), 'x.xml', {}, { now: Date.UTC(2029, 0, 1) / 1000 });
  const totp = one({
    data: `${secret}<Time><PlainValue>100</PlainValue></Time><TimeInterval><PlainValue>60</PlainValue></TimeInterval><TimeDrift><PlainValue>-2</PlainValue></TimeDrift>`,
    key: '<Issuer>Acme</Issuer><UserId></UserId>',
    device: '<Manufacturer>M</Manufacturer><Model>X1</Model><UserId>dave</UserId><StartDate>2030-01-01T00:00:00</StartDate><ExpiryDate>2031-01-01T00:00:00+01:00</ExpiryDate>',
    policy: '<StartDate>2029-01-01T00:00:00Z</StartDate><KeyUsage>Unlock</KeyUsage><KeyUsage>OTP</KeyUsage>',
  });
  t.same(totp.issues, []);
  t.match(totp.records[0], {
    type: 'totp', t0: 100, period: 60, drift: -2, counter: 0, issuer: 'Acme', manufacturer: 'M', model: 'X1', user: 'dave',
    validFrom: Date.UTC(2030, 0, 1) / 1000, validUntil: Date.UTC(2030, 11, 31, 23) / 1000,
  });
  t.equal(one({ policy: '<NumberOfTransactions>3</NumberOfTransactions>' }).records.length, 1, 'Policy without KeyUsage');
  t.match(one({ policy: '<KeyUsage>Encrypt</KeyUsage>' }).issues, [{ field: 'KeyUsage', reason: 'does not allow OTP' }]);
  t.match(one({ policy: '<ExpiryDate>yesterday</ExpiryDate>' }).issues, [{ field: 'ExpiryDate', reason: /not an xs:dateTime/ }]);
  t.match(one({ device: '<StartDate>2030-02-30T00:00:00Z-</StartDate>' }).issues, [{ field: 'StartDate' }]);
  t.match(one({ data: `${secret}<TimeInterval><PlainValue>0</PlainValue></TimeInterval>` }).issues, [{ field: 'TimeInterval', reason: '0 is below 1' }]);
  const hotp = (counter: string) => one({ algorithm: 'urn:ietf:params:xml:ns:keyprov:pskc:hotp', data: `${secret}<Counter><PlainValue>${counter}</PlainValue></Counter>` });
  t.same(hotp('-5').issues.map(formatIssue), ['x.xml: KeyPackage 1: Counter: -5 is negative: Counter must be a non-negative integer']);
  t.match(hotp('1000000000000000').records, [{ counter: 1e15 }], '16 digits, well within 2^53');
  t.match(hotp('9007199254740991').records, [{ counter: Number.MAX_SAFE_INTEGER }]);
  t.match(hotp('+007').records, [{ counter: 7 }], 'xs:integer: sign and leading zeros');
  t.match(hotp('9007199254740992').issues, [{ field: 'Counter', reason: '9007199254740992 is over 2^53 - 1 (9007199254740991), the largest value the server keeps' }]);
  t.match(hotp('18446744073709551615').issues, [{ reason: /is over 2\^53 - 1/ }], 'an 8-byte counter the server cannot keep');
  t.match(hotp('18446744073709551616').issues, [{ reason: '18446744073709551616 is over 2^64 - 1: the counter is an unsigned 8-byte value (RFC 4226 §5.1)' }]);
  t.match(hotp(`1${'0'.repeat(40)}`).issues, [{ reason: /is over 2\^64 - 1/ }]);
  t.match(hotp('1.5').issues, [{ reason: '"1.5" is not an integer' }]);
  t.match(one({ data: `${secret}<Time><PlainValue>-1</PlainValue></Time>` }).issues, [{ field: 'Time', reason: '-1 is negative: Time must be a non-negative integer' }]);
  t.match(one({ data: `${secret}<Time><PlainValue>${'9'.repeat(30)}</PlainValue></Time>` }).issues, [{ field: 'Time', reason: /is over 2\^53 - 1/ }]);
  t.match(one({ data: `${secret}<TimeDrift><PlainValue>-${'9'.repeat(25)}</PlainValue></TimeDrift>` }).issues, [{ field: 'TimeDrift', reason: /is below -9007199254740991$/ }]);
  t.match(one({ data: `${secret}<Counter></Counter>` }).issues, [{ field: 'Counter', reason: /neither PlainValue nor EncryptedValue/ }]);
  t.match(one({ algorithm: 'urn:ietf:params:xml:ns:keyprov:pskc:hotp', data: `${secret}<Time><PlainValue>5</PlainValue></Time>` }).records, [
    { type: 'hotp', t0: 0, drift: 0, counter: 0 },
  ]);
});

t.test('encryption: pre-shared key edge cases', async (t) => {
  const secret = (o = {}) => `<Secret>${encValue(SECRET, o)}</Secret>`;
  const run = (body: string, head = PRESHARED + macMethod(), protection: object = { key: KEY }) => parsePskc(doc(body, head), 'e.xml', protection);

  const ok = run(pkg({ data: secret() + `<Counter>${encValue(Buffer.alloc(0))}</Counter>` + `<Time>${encValue(Buffer.from([1, 0]))}</Time>` }));
  t.same(ok.issues, []);
  t.match(ok.records[0], { counter: 0, t0: 256 }, 'encrypted integers are big-endian; empty is 0');

  const key256 = Buffer.alloc(32, 9);
  const aes256 = run(pkg({ data: secret({ key: key256 }) }), PRESHARED + macMethod({ key: key256 }), { key: key256 });
  t.same(aes256.issues, []);
  t.equal(aes256.records[0]!.secret.toString(), SECRET.toString(), 'AES-256-CBC');

  const sha256Mac = run(pkg({ data: `<Secret>${encValue(SECRET, { macOver: 'none' })}<ValueMAC>AAAA</ValueMAC></Secret>` }), PRESHARED + macMethod({ algorithm: 'http://www.w3.org/2001/04/xmldsig-more#hmac-sha256' }));
  t.match(sha256Mac.issues, [{ field: 'ValueMAC', reason: 'MAC does not match' }], 'MAC of the wrong length');

  t.match(run(pkg({ data: secret() }), PRESHARED + macMethod(), { key: Buffer.alloc(24) }).issues, [{ field: 'EncryptionKey', reason: /24 bytes; the file's cipher needs 16/ }]);
  t.match(run(pkg({ data: secret({ key: key256 }) })).issues, [{ field: 'EncryptionMethod', reason: /mixes AES key sizes/ }]);
  t.match(run(pkg({ data: secret({ method: '' }) })).issues, [{ field: 'Secret', reason: 'no EncryptionMethod algorithm given' }]);
  t.match(run(pkg({ data: secret({ method: 'http://www.w3.org/2001/04/xmlenc#rsa-1_5' }) })).issues, [{ field: 'Secret', reason: /asymmetric \(RSA\)/ }]);
  t.match(run(pkg({ data: secret({ cipherValue: 'AAAA' }) })).issues, [{ field: 'Secret', reason: /not IV plus whole AES blocks/ }]);
  t.match(run(pkg({ data: '<Secret><EncryptedValue><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/></EncryptedValue></Secret>' })).issues, [
    { field: 'Secret', reason: 'no CipherData/CipherValue' },
  ]);
  t.match(run(pkg({ data: `<Secret>${encValue(SECRET, { macOver: 'none' })}<ValueMAC>!!</ValueMAC></Secret>` })).issues, [{ field: 'ValueMAC', reason: 'is not valid base64' }]);
  // A valid MAC over a ciphertext whose padding is wrong: decryption fails after the MAC check.
  t.match(run(pkg({ data: `<Secret>${encValue(Buffer.alloc(32, 0x41), { pad: false })}</Secret>` })).issues, [{ field: 'Secret', reason: 'cannot be decrypted' }]);
  t.match(run(pkg({ data: `<Secret><PlainValue>${SECRET.toString('base64')}</PlainValue></Secret><Counter>${encValue(Buffer.alloc(8, 0xff))}</Counter>` })).issues, [
    { field: 'Counter', reason: '18446744073709551615 is over 2^53 - 1 (9007199254740991), the largest value the server keeps' },
  ]);
  const nine = Buffer.concat([Buffer.from([1]), Buffer.alloc(8)]);
  t.match(run(pkg({ data: `<Secret><PlainValue>${SECRET.toString('base64')}</PlainValue></Secret><Counter>${encValue(nine)}</Counter>` })).issues, [
    { field: 'Counter', reason: /^18446744073709551616 is over 2\^64 - 1/ },
  ]);
  // Protection declared but nothing encrypted: no key needed.
  t.equal(run(pkg(), PRESHARED, {}).records.length, 1);
  // MACKey in an unknown cipher; legacy, no MACKey, values in an unknown cipher.
  const badMacKey = macMethod().replace('aes128-cbc', 'kw-aes128');
  t.match(run(pkg({ data: secret() }), PRESHARED + badMacKey).issues, [{ record: 'file', field: 'MACKey', reason: /unsupported encryption algorithm/ }]);
  t.match(
    run(pkg({ data: secret({ method: 'http://www.w3.org/2001/04/xmlenc#tripledes-cbc' }) }), PRESHARED + macMethod({ macKey: null }), { key: KEY, legacy: true }).issues,
    [{ record: 'file', field: 'EncryptedValue', reason: /unsupported encryption algorithm/ }],
  );
  t.match(run(pkg(), '<EncryptionKey><ds:KeyValue/></EncryptionKey>').issues, [{ field: 'EncryptionKey', reason: /asymmetric/ }]);
  t.ok(MAC_KEY.length === 20 && encrypt(SECRET).length === 48);
});

t.test('encryption: PBKDF2 parameters', async (t) => {
  const dk = (params: string, alg = 'http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2') =>
    `<EncryptionKey><xenc11:DerivedKey><xenc11:KeyDerivationMethod${alg === '' ? '' : ` Algorithm="${alg}"`}>${params}</xenc11:KeyDerivationMethod></xenc11:DerivedKey></EncryptionKey>`;
  const salt = Buffer.from('salt-salt-salt');
  const derive = (prf: string) => pbkdf2Sync('pw', salt, 10, 16, prf);
  const run = (head: string, key: Buffer, password: string | undefined = 'pw') =>
    parsePskc(doc(pkg({ data: `<Secret>${encValue(SECRET, { key })}</Secret>` }), head + macMethod({ key })), 'p.xml', { password });
  const params = (inner: string) => `<pkcs5:PBKDF2-params>${inner}</pkcs5:PBKDF2-params>`;
  const std = `<Salt><Specified>${salt.toString('base64')}</Specified></Salt><IterationCount>10</IterationCount>`;

  t.same(run(dk(params(std)), derive('sha1')).issues, [], 'no KeyLength, no PRF');
  const qualified = `<pkcs5:Salt><pkcs5:Specified>${salt.toString('base64')}</pkcs5:Specified></pkcs5:Salt><pkcs5:IterationCount>10</pkcs5:IterationCount><pkcs5:KeyLength>16</pkcs5:KeyLength>`;
  t.same(run(dk(params(qualified)), derive('sha1')).issues, [], 'qualified children');
  const prf256 = '<PRF Algorithm="http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"/>';
  t.same(run(dk(params(std + prf256)), derive('sha256')).issues, [], 'PRF HMAC-SHA256');

  const issue = (head: string) => run(head, derive('sha1')).issues[0];
  t.match(issue(dk(params(std + '<PRF Algorithm="urn:x:md5"/>'))), { field: 'PRF', reason: /unsupported PBKDF2 PRF urn:x:md5/ });
  t.match(issue(dk(params(std), '')), { field: 'KeyDerivationMethod', reason: /\(none given\)/ });
  t.match(issue(dk(params(std), 'urn:x:scrypt')), { field: 'KeyDerivationMethod', reason: /urn:x:scrypt/ });
  t.match(issue(dk('')), { field: 'PBKDF2-params', reason: 'missing' });
  t.match(issue(dk(params('<IterationCount>10</IterationCount>'))), { field: 'Salt' });
  t.match(issue(dk(params('<Salt><OtherSource/></Salt><IterationCount>10</IterationCount>'))), { field: 'Salt' });
  t.match(issue(dk(params(`<Salt><Specified>${salt.toString('base64')}</Specified></Salt>`))), { field: 'IterationCount', reason: /positive integer/ });
  t.match(issue(dk(params(`<Salt><Specified>x</Specified></Salt><IterationCount>0</IterationCount>`))), { field: 'Salt', reason: /base64/ });
  t.match(issue(dk(params(std.replace('>10<', '>0<')))), { field: 'IterationCount', reason: /positive integer/ });
  t.match(issue(dk(params(std + '<KeyLength>sixteen</KeyLength>'))), { field: 'KeyLength', reason: 'is not an integer' });
});

t.test('attributes and elements left out', async (t) => {
  const encrypted = (method: string) =>
    parsePskc(doc(pkg({ data: `<Secret><EncryptedValue>${method}<xenc:CipherData><xenc:CipherValue>${encrypt(SECRET).toString('base64')}</xenc:CipherValue></xenc:CipherData></EncryptedValue></Secret>` }), PRESHARED + macMethod()), 'm.xml', { key: KEY });
  t.match(encrypted('<xenc:EncryptionMethod/>').issues, [{ field: 'Secret', reason: 'no EncryptionMethod algorithm given' }]);
  t.match(encrypted('').issues, [{ field: 'Secret', reason: 'no EncryptionMethod algorithm given' }]);
  t.match(parsePskc(doc(pkg({ keys: '<Key/>' })), 'k.xml', {}).issues, [{ field: 'Algorithm', reason: 'unsupported key algorithm "" (HOTP and TOTP only)' }]);
  t.match(parsePskc(Buffer.from('<KeyContainer Version="1.0"/>'), 'n.xml', {}).issues, [{ field: 'KeyContainer', reason: 'namespace "" is not urn:ietf:params:xml:ns:keyprov:pskc' }]);
  t.match(parsePskc(Buffer.from('<KeyContainer xmlns="urn:ietf:params:xml:ns:keyprov:pskc"/>'), 'v.xml', {}).issues, [{ field: 'KeyContainer', reason: 'Version "" is not supported (1.0 only)' }]);
  const noMacAlg = macMethod().replace(' Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1"', '');
  t.match(parsePskc(doc(pkg({ data: `<Secret>${encValue(SECRET)}</Secret>` }), PRESHARED + noMacAlg), 'a.xml', { key: KEY }).issues, [{ field: 'MACMethod', reason: 'unsupported MAC algorithm ""' }]);
});

t.test('formatIssue: one line, no record part for the file, no field when empty', async (t) => {
  t.equal(formatIssue({ file: 'a.xml', record: 'KeyPackage 3', field: 'ValueMAC', reason: 'MAC does not match' }), 'a.xml: KeyPackage 3: ValueMAC: MAC does not match');
  t.equal(formatIssue({ file: 'a.xml', record: 'file', field: '', reason: 'bad\nthing\r\x1b[31m' }), 'a.xml: bad thing [31m');
});
