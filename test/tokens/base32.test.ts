import t from 'tap';
import { base32Decode, base32Encode } from '../../src/tokens/base32.js';

// RFC 4648 §10 test vectors.
const vectors: Array<[string, string]> = [
  ['', ''],
  ['f', 'MY'],
  ['fo', 'MZXQ'],
  ['foo', 'MZXW6'],
  ['foob', 'MZXW6YQ'],
  ['fooba', 'MZXW6YTB'],
  ['foobar', 'MZXW6YTBOI'],
];

t.test('RFC 4648 §10 vectors encode and decode', async (t) => {
  for (const [plain, encoded] of vectors) {
    t.equal(base32Encode(Buffer.from(plain)), encoded, `encode ${plain}`);
    if (plain !== '') t.equal(base32Decode(encoded).ok && (base32Decode(encoded) as { bytes: Buffer }).bytes.toString(), plain);
  }
});

t.test('tolerates case, spaces and padding', async (t) => {
  const r = base32Decode('gezd gnbv gy3t qojq gezd gnbv gy3t qojq');
  t.ok(r.ok);
  if (r.ok) t.equal(r.bytes.toString(), '12345678901234567890');
  const p = base32Decode('MZXW6YQ=');
  t.ok(p.ok && p.bytes.toString() === 'foob');
});

t.test('refuses digits 0, 1, 8, 9, other characters, bad lengths and empty input', async (t) => {
  for (const bad of ['MZXW6YQ0', 'MZXW6YQ1', 'MZXW6YQ8', 'MZXW6YQ9', 'MZXW-YQA', 'MZXW6YQé']) {
    const r = base32Decode(bad);
    t.notOk(r.ok, bad);
    if (!r.ok) t.match(r.reason, /character/);
  }
  for (const bad of ['A', 'ABC', 'ABCDEF', 'ABCDEFGHA']) {
    const r = base32Decode(bad);
    t.notOk(r.ok, bad);
    if (!r.ok) t.match(r.reason, /length/);
  }
  const e = base32Decode('  ');
  t.notOk(e.ok);
  if (!e.ok) t.match(e.reason, /empty/);
});
