/**
 * The fast path (src/tokens/import/pskc-split.ts) against the reference reading (the whole document
 * through xmldom, `wholeDocument: true`): same records, issues and warnings for every fixture and
 * every tricky input; the splitter says "unsure" (undefined) rather than read anything differently.
 */
import { readFileSync, readdirSync } from 'node:fs';
import t from 'tap';
import { benchImport, benchPskc } from '../../../src/bench/import-bench.js';
import { DEFAULT_MAX_BYTES, parsePskc } from '../../../src/tokens/import/pskc.js';
import type { PskcProtection } from '../../../src/tokens/import/pskc.js';
import { splitPskc } from '../../../src/tokens/import/pskc-split.js';
import { KEY, PRESHARED, SECRET, doc, encValue, macMethod, pkg } from './pskc-build.js';

const FIX = new URL('../../fixtures/pskc/', import.meta.url);
const FIG6_KEY = Buffer.from('12345678901234567890123456789012', 'hex');
const NS = 'urn:ietf:params:xml:ns:keyprov:pskc';
const B64 = SECRET.toString('base64');

/** Parses both ways and asserts the same outcome; returns it. */
function same(t: Tap.Test, content: Buffer | string, protection: PskcProtection = {}, label = ''): ReturnType<typeof parsePskc> {
  const buf = typeof content === 'string' ? Buffer.from(content) : content;
  const fast = parsePskc(buf, 'f.xml', protection);
  const whole = parsePskc(buf, 'f.xml', protection, { wholeDocument: true });
  t.same(fast, whole, `fast path = whole document ${label}`);
  return fast;
}

const split = (text: string) => splitPskc(text, () => {});

t.test('differential: every fixture, with every protection the tests use, reads the same both ways', async (t) => {
  const protections: PskcProtection[] = [
    {},
    { key: FIG6_KEY },
    { key: FIG6_KEY, legacy: true },
    { key: Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex') },
    { password: 'qwerty' },
    { password: 'Correct-Horse-7' },
  ];
  let files = 0;
  for (const dir of ['rfc6030', 'generated', 'invalid']) {
    for (const name of readdirSync(new URL(`${dir}/`, FIX)).filter((f) => f.endsWith('.pskcxml'))) {
      const content = readFileSync(new URL(`${dir}/${name}`, FIX));
      for (const p of protections) same(t, content, p, `${dir}/${name} ${JSON.stringify(Object.keys(p))}`);
      files++;
    }
  }
  t.ok(files >= 35, `${files} fixtures`);
  // The fast path is really taken for the well-formed fixtures (DOCTYPE ones never reach it).
  for (const name of ['rfc6030/figure3', 'rfc6030/figure6', 'rfc6030/figure7', 'rfc6030/figure9', 'rfc6030/figure10', 'generated/plain', 'generated/preshared', 'generated/pbkdf2']) {
    t.not(split(readFileSync(new URL(`${name}.pskcxml`, FIX), 'utf8')), undefined, `${name} is split`);
  }
});

t.test('the splitter: the header keeps everything but the KeyPackages; packages read again on demand', async (t) => {
  const seen: string[] = [];
  const text = `<?xml version="1.0"?>\n<!-- a --><p:KeyContainer xmlns:p="${NS}" Version="1.0"><p:MACMethod Algorithm="x"/>\n <p:KeyPackage><p:Key Id="1"/></p:KeyPackage>\n <!-- <p:KeyPackage> --><p:KeyPackage xmlns:q="${NS}"><q:Key Id="2"/></p:KeyPackage></p:KeyContainer>\n<!-- end -->\n`;
  const s = splitPskc(text, (p) => seen.push(p.localName));
  t.ok(s);
  t.equal(s!.count, 2);
  t.same(seen, ['KeyPackage', 'KeyPackage']);
  t.equal(s!.header, `<?xml version="1.0"?>\n<!-- a --><p:KeyContainer xmlns:p="${NS}" Version="1.0"><p:MACMethod Algorithm="x"/>\n \n <!-- <p:KeyPackage> --></p:KeyContainer>\n<!-- end -->\n`);
  const pkgs = [...s!.packages()];
  t.same(pkgs.map((p) => [p.namespaceURI, (p.firstChild as unknown as { getAttribute(n: string): string }).getAttribute('Id')]), [[NS, '1'], [NS, '2']]);
  t.equal(split(`<KeyContainer xmlns="${NS}" Version="1.0"/>`)!.count, 0, 'a self-closing root');
});

t.test('tricky inputs read the same both ways, on the fast path', async (t) => {
  const fast = (label: string, text: string | Buffer, protection: PskcProtection = {}) => {
    t.not(split(text.toString()), undefined, `${label}: split`);
    return same(t, text, protection, label);
  };
  // Attribute values with '>' (and single quotes); comments and CDATA holding tags.
  t.match(fast('> in an attribute', doc(pkg({ serial: null, keyId: 'a>b' }))).records, [{ serial: 'a>b' }]);
  t.match(fast("single quotes", doc(pkg().replace('<Key ', "<Key Id='x>y' "))).records, [{ serial: 'S-1' }]);
  const tricky = pkg({ device: '<!-- </KeyPackage><KeyPackage> --><Model><![CDATA[</KeyPackage> & <x>]]></Model>' });
  t.match(fast('comment and CDATA', doc(tricky)).records, [{ model: '</KeyPackage> & <x>' }]);
  // Entities and character references in text; text around child elements.
  t.match(fast('entities', doc(pkg({ serial: 'a&amp;b&lt;&gt;&quot;&apos;&#65;&#x42;' }))).records, [{ serial: 'a&b<>"\'AB' }]);
  t.match(fast('mixed content', doc(pkg({ serial: 'a<Sub>b</Sub>c' }))).records, [{ serial: 'abc' }]);
  t.match(fast('a tab by reference', doc(pkg({ serial: 'a&#9;b' }))).issues, [{ field: 'SerialNo' }]);
  t.match(fast('references above the BMP', doc(pkg({ serial: '&#x1F600;&#xE000;&#x10FFFF;' }))).records, [{ serial: '\u{1F600}\uE000\u{10FFFF}' }]);
  t.match(fast('a line feed by reference', doc(pkg({ serial: 'a&#10;b' }))).issues, [{ field: 'SerialNo' }]);
  // Prefixes: default namespace, pskc:, another prefix, declared on the KeyPackage, end tags with spaces.
  const prefixed = (p: string, decl = `xmlns:${p}="${NS}"`, onPkg = '') =>
    `<${p}:KeyContainer ${decl} Version="1.0"><${p}:KeyPackage${onPkg}><${p}:DeviceInfo><${p}:SerialNo>P</${p}:SerialNo></${p}:DeviceInfo><${p}:Key Algorithm="${NS}:totp"><${p}:Data><${p}:Secret><${p}:PlainValue>${B64}</${p}:PlainValue></${p}:Secret></${p}:Data></${p}:Key ></${p}:KeyPackage\n></${p}:KeyContainer>`;
  t.match(fast('pskc: prefix', prefixed('pskc')).records, [{ serial: 'P' }]);
  t.match(fast('other prefix', prefixed('x')).records, [{ serial: 'P' }]);
  t.match(fast('prefix redeclared on the KeyPackage', prefixed('x', `xmlns:x="${NS}"`, ` xmlns:x="${NS}"`)).records, [{ serial: 'P' }]);
  const local = `<x:KeyContainer xmlns:x="${NS}" Version="1.0"><KeyPackage xmlns="${NS}" xmlns:y="urn:other"><DeviceInfo><SerialNo>L</SerialNo></DeviceInfo><Key Algorithm="${NS}:totp"><Data><Secret><PlainValue>${B64}</PlainValue></Secret></Data><y:Note/></Key></KeyPackage></x:KeyContainer>`;
  t.match(fast('default namespace declared on the KeyPackage', local).records, [{ serial: 'L' }]);
  // CRLF line ends (normalised as xmldom does), elements outside KeyPackages kept in the header.
  t.match(fast('CRLF', doc(pkg({ serial: 'C' })).toString().replaceAll('><', '>\r\n<')).records, [{ serial: 'C' }]);
  t.match(fast('signature in the header', doc(pkg() + '<ds:Signature><ds:SignedInfo a="1"><!-- c --><![CDATA[z]]></ds:SignedInfo></ds:Signature>')).warnings, [{ field: 'Signature' }]);
  // Encrypted values in KeyPackages: the first one is the --legacy probe; ciphers of every package count.
  const enc = doc(pkg({ data: `<Secret>${encValue(SECRET)}</Secret>` }), PRESHARED + macMethod({ macKey: null }));
  t.same(fast('legacy probe', enc, { key: KEY, legacy: true }).issues, [{ file: 'f.xml', record: 'KeyPackage 1', field: 'ValueMAC', reason: 'MAC does not match' }]);
  const mixed = doc(pkg() + pkg({ serial: 'S-2', data: `<Secret>${encValue(SECRET, { key: Buffer.alloc(32, 1) })}</Secret>` }), PRESHARED + macMethod());
  t.match(fast('mixed key sizes across packages', mixed, { key: KEY }).issues, [{ field: 'EncryptionMethod', reason: /mixes AES key sizes/ }]);
  // The bench layouts.
  for (const style of ['compact', 'indented'] as const) t.equal(fast(style, benchPskc(3, style)).records.length, 3);
});

t.test('when unsure the splitter declines, and the whole document decides', async (t) => {
  const head = `<KeyContainer xmlns="${NS}" Version="1.0">`;
  const wrap = (inner: string) => `${head}${inner}</KeyContainer>`;
  const cases: Array<[string, string]> = [
    ['odd character', doc(pkg({ serial: 'a\u0001b' })).toString()],
    ['U+FFFD', doc(pkg({ serial: 'a\ufffdb' })).toString()],
    ['unterminated declaration', '<?xml version="1.0"'],
    ['no root', 'hello'],
    ['PI before the root', `<?pi x?>${wrap(pkg())}`],
    ['text between packages', wrap(`x${pkg()}`)],
    ['CDATA between packages', wrap(`<![CDATA[ ]]>${pkg()}`)],
    ['KeyPackage in another namespace', wrap(`${pkg()}<o:KeyPackage xmlns:o="urn:other"/>`)],
    ['root end tag mismatch', `${head}${pkg()}</Other>`],
    ['root end tag malformed', `${head}${pkg()}</KeyContainer x>`],
    ['content after the root', `${wrap(pkg())}<x/>`],
    ['unterminated comment', `${wrap(pkg())}<!-- x`],
    ['-- in a comment', wrap(`<!-- a -- b -->${pkg()}`)],
    ['comment ending in -', wrap(`<!-- a --->${pkg()}`)],
    ['duplicate attribute', wrap(pkg().replace('<Key ', '<Key Id="1" Id="2" '))],
    ['xmlns=""', wrap(pkg().replace('<Key ', '<Key xmlns="" '))],
    ['xmlns:xml', wrap(pkg().replace('<Key ', '<Key xmlns:xml="urn:x" '))],
    ['prefixed attribute', wrap(pkg().replace('<Key ', '<Key xsi:type="x" '))],
    ['attribute without quotes', wrap(pkg().replace('<Key ', '<Key Id=1 '))],
    ['attribute with a line break', wrap(pkg().replace('<Key ', '<Key Id="a\nb" '))],
    ['& in an attribute', wrap(pkg().replace('<Key ', '<Key Id="a&amp;b" '))],
    ['< in an attribute', wrap(pkg().replace('<Key ', '<Key Id="a<b" '))],
    ['undeclared prefix', wrap(pkg().replace('<DeviceInfo>', '<DeviceInfo><u:X/>'))],
    ['unterminated element', `${head}<KeyPackage><Key>`],
    ['end tag mismatch', wrap(pkg().replace('</DeviceInfo>', '</Device>'))],
    ['end tag malformed', wrap(pkg().replace('</DeviceInfo>', '</DeviceInfo x>'))],
    ['unterminated CDATA', `${head}<KeyPackage><![CDATA[x`],
    ['PI in a package', wrap(pkg().replace('<DeviceInfo>', '<DeviceInfo><?pi x?>'))],
    ['other markup in a package', wrap(pkg().replace('<DeviceInfo>', '<DeviceInfo><!ELEMENT x>'))],
    [']]> in text', doc(pkg({ serial: 'a]]>b' })).toString()],
    ['unknown entity', doc(pkg({ serial: 'a&nbsp;b' })).toString()],
    ['& alone', doc(pkg({ serial: 'a & b' })).toString()],
    ['reference to a non-character', doc(pkg({ serial: 'a&#1;b' })).toString()],
    ['reference to a surrogate', doc(pkg({ serial: 'a&#xD800;b' })).toString()],
    ['reference to U+FFFE', doc(pkg({ serial: 'a&#xFFFE;b' })).toString()],
    ['reference beyond Unicode', doc(pkg({ serial: 'a&#x110000;b' })).toString()],
    ['non-ASCII name', wrap(pkg().replace('<DeviceInfo>', '<DeviceInfo><Modèle/>'))],
  ];
  for (const [label, text] of cases) {
    t.equal(split(text), undefined, `${label}: declined`);
    same(t, text, {}, label);
  }
  // Split, but the header is not well-formed or holds an EncryptedValue: the whole document decides.
  same(t, `<?xml nonsense?>${wrap(pkg())}`, {}, 'bad declaration');
  t.not(split(`<?xml nonsense?>${wrap(pkg())}`), undefined);
  const outside = doc(pkg({ data: `<Secret>${encValue(SECRET)}</Secret>` }) + `<Extension><EncryptedValue/></Extension>`, PRESHARED + macMethod());
  t.not(split(outside.toString()), undefined);
  same(t, outside, { key: KEY }, 'EncryptedValue outside the KeyPackages');
});

t.test('size cap (P6): 256 MiB by default, so a 100,000-token indented file fits; one byte over is refused before reading', async (t) => {
  t.equal(DEFAULT_MAX_BYTES, 256 * 1024 * 1024);
  const over = Buffer.alloc(DEFAULT_MAX_BYTES + 1, 0x20);
  t.match(parsePskc(over, 'big.xml', {}).issues, [{ record: 'file', field: '', reason: `is ${DEFAULT_MAX_BYTES + 1} bytes, over the limit of ${DEFAULT_MAX_BYTES}` }]);
  // A DOCTYPE is still refused before any parsing (the splitter never sees it).
  t.match(parsePskc(Buffer.from(`<!DOCTYPE x>${doc(pkg()).toString()}`), 'd.xml', {}).issues, [{ reason: /DOCTYPE/ }]);
});

t.test('benchImport with the indented layout', async (t) => {
  const r = await benchImport({ tokens: 5, pskcStyle: 'indented', print: () => {} });
  t.ok(r.pskcSeconds >= 0);
});
