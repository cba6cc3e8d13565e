import { createHmac, hash, randomBytes } from 'node:crypto';
import t from 'tap';
import { HmacKey, type HmacAlgorithm } from '../../src/crypto/hmac-key.js';

const ALGORITHMS: HmacAlgorithm[] = ['md5', 'sha1', 'sha256', 'sha512'];

t.test('equals createHmac for every algorithm, key length (empty, short, a block, longer) and message length', async (t) => {
  for (const algorithm of ALGORITHMS) {
    for (const keyLength of [0, 1, 20, 64, 65, 128, 129, 300]) {
      const key = randomBytes(keyLength);
      const k = new HmacKey(algorithm, key, 16);
      for (const length of [0, 1, 8, 16, 17, 100, 4096]) {
        const m = randomBytes(length);
        t.same(k.digest(m), createHmac(algorithm, key).update(m).digest(), `${algorithm} key ${keyLength} message ${length}`);
      }
      t.equal(k.outputLength, createHmac(algorithm, key).digest().length);
    }
  }
});

t.test('setKey rekeys an instance: it then MACs as a new one would, for every key length, after destroy() too', async (t) => {
  for (const algorithm of ALGORITHMS) {
    const k = new HmacKey(algorithm, randomBytes(300), 16);
    for (const keyLength of [300, 0, 20, 129, 64]) {
      const key = randomBytes(keyLength);
      k.setKey(key);
      const m = randomBytes(24);
      t.same(k.digest(m), createHmac(algorithm, key).update(m).digest(), `${algorithm} rekeyed with ${keyLength} bytes`);
      k.destroy();
    }
  }
});

t.test('RFC 2202 test case 2 (HMAC-MD5 and HMAC-SHA1, key "Jefe")', async (t) => {
  const m = Buffer.from('what do ya want for nothing?');
  t.equal(new HmacKey('md5', Buffer.from('Jefe')).digest(m).toString('hex'), '750c783e6ab0b503eaa86e310a5db738');
  t.equal(new HmacKey('sha1', Buffer.from('Jefe')).digest(m).toString('hex'), 'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79');
});

t.test('messageBuffer/macInto: the MAC of what was written, where it is asked for; then the message is wiped', async (t) => {
  const key = randomBytes(20);
  const k = new HmacKey('sha1', key, 8);
  const room = k.messageBuffer(8);
  room.writeUInt32BE(0, 0);
  room.writeUInt32BE(7, 4);
  const expected = createHmac('sha1', key).update(Buffer.from('0000000000000007', 'hex')).digest();
  const macOut = Buffer.alloc(24, 0xee);
  k.macInto(8, macOut, 2);
  t.same(macOut.subarray(2, 22), expected, 'written at the offset');
  t.same([macOut[0], macOut[1], macOut[22], macOut[23]], [0xee, 0xee, 0xee, 0xee], 'and nowhere else');
  t.same(room, Buffer.alloc(8), 'the message bytes are zeroed after use');
  // A longer message than the room grows the scratch buffer and keeps the pads.
  const long = randomBytes(500);
  long.copy(k.messageBuffer(500));
  const longMac = Buffer.alloc(20);
  k.macInto(500, longMac, 0);
  t.same(longMac, createHmac('sha1', key).update(long).digest());
  t.same(k.digest(Buffer.alloc(0)), createHmac('sha1', key).digest(), 'and a shorter one after that');
});

t.test('macInto a length the buffer was never prepared for is a fault', async (t) => {
  const k = new HmacKey('md5', Buffer.from('secret'), 16);
  t.throws(() => k.macInto(17, Buffer.alloc(16), 0), RangeError);
  t.throws(() => k.macString(17), RangeError);
});

t.test('destroy overwrites the pads: the key is gone from the object', async (t) => {
  const k = new HmacKey('sha256', Buffer.from('a secret key'), 8);
  k.destroy();
  const m = Buffer.from('message');
  const zeros = Buffer.alloc(64);
  const inner = hash('sha256', Buffer.concat([zeros, m]), 'buffer');
  t.same(k.digest(m), hash('sha256', Buffer.concat([zeros, inner]), 'buffer'), 'a MAC under all-zero pads, not under the key');
});
