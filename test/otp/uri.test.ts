import t from 'tap';
import { newSecret, otpauthUri, renderQr } from '../../src/otp/uri.js';
import { base32Decode } from '../../src/tokens/base32.js';

const secret = Buffer.from('12345678901234567890');

t.test('TOTP URI: the Key URI format with every parameter', async (t) => {
  const uri = otpauthUri({ issuer: 'Example', account: 'alice', secret, algorithm: 'SHA1', digits: 6, period: 30, type: 'totp' });
  t.equal(uri, 'otpauth://totp/Example:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example&algorithm=SHA1&digits=6&period=30');
});

t.test('URIs parse back with new URL to the same parameters', async (t) => {
  const cases = [
    { issuer: 'ACME Co', account: 'john.doe@example.com', secret: newSecret(), algorithm: 'SHA256', digits: 8, period: 60, type: 'totp' },
    { issuer: 'Ünïcode & Söns?', account: 'a:b/c#d%e+f g', secret: newSecret(32), algorithm: 'SHA512', digits: 7, period: 30, type: 'totp' },
    { issuer: 'Corp', account: 'bob', secret: newSecret(16), algorithm: 'SHA1', digits: 6, period: 30, type: 'hotp', counter: 42 },
    { issuer: 'Corp', account: 'carol', secret, algorithm: 'SHA1', digits: 6, period: 30, type: 'hotp' },
  ] as const;
  for (const o of cases) {
    const uri = otpauthUri(o);
    const u = new URL(uri);
    t.equal(u.protocol, 'otpauth:');
    t.equal(u.host, o.type);
    const label = u.pathname.slice(1);
    const colon = label.indexOf(':');
    t.equal(decodeURIComponent(label.slice(0, colon)), o.issuer, 'label issuer');
    t.equal(decodeURIComponent(label.slice(colon + 1)), o.account, 'label account');
    t.equal(label.split(':').length, 2, 'one literal colon in the label');
    const q = u.searchParams;
    const decoded = base32Decode(q.get('secret') ?? '');
    t.ok(decoded.ok && decoded.bytes.equals(o.secret), 'the Base32 secret decodes to the secret');
    t.match(q.get('secret'), /^[A-Z2-7]+$/, 'unpadded Base32');
    t.equal(q.get('issuer'), o.issuer);
    t.equal(q.get('algorithm'), o.algorithm);
    t.equal(q.get('digits'), String(o.digits));
    if (o.type === 'totp') {
      t.equal(q.get('period'), String(o.period));
      t.equal(q.get('counter'), null);
    } else {
      t.equal(q.get('counter'), String('counter' in o ? o.counter : 0));
      t.equal(q.get('period'), null);
    }
    t.notMatch(uri, / /, 'no raw spaces');
  }
});

t.test('newSecret: random bytes of the size asked for, 20 by default', async (t) => {
  t.equal(newSecret().length, 20);
  t.equal(newSecret(32).length, 32);
  t.not(newSecret().toString('hex'), newSecret().toString('hex'));
});

t.test('renderQr returns a multi-line string and prints nothing', async (t) => {
  const uri = otpauthUri({ issuer: 'Example', account: 'alice', secret, algorithm: 'SHA1', digits: 6, period: 30, type: 'totp' });
  const log = console.log;
  let printed = 0;
  console.log = () => void printed++;
  let qr: string;
  try {
    qr = await renderQr(uri);
  } finally {
    console.log = log;
  }
  t.equal(printed, 0);
  const lines = qr.split('\n');
  t.ok(lines.length > 10, `${lines.length} lines`);
  t.match(qr, /[\u2580\u2584\u2588]/, 'small mode uses half blocks');
  t.notMatch(qr, /GEZDGNBV/, 'the secret is not printed as text');
});
