/**
 * Prints the known-answer files test/vectors/wrap-kat.json and field-kat.json from fixed
 * inputs. Run once when a format is (deliberately) versioned; the tests then pin the output:
 *   node --conditions=@palisade/source packages/crypto/test/support/make-kats.ts
 */
import { createCipheriv } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { DataKey, wrapDataKey, XWingSecretKey } from '../../src/index.ts';
import { encapsulateWithSeed } from './noble-xwing.ts';

const out = (name: string, value: unknown) =>
  writeFileSync(
    new URL(`../vectors/${name}`, import.meta.url),
    `${JSON.stringify(value, null, 2)}\n`,
  );

const kekSeed = Buffer.alloc(32, 0x11);
const eseed = Buffer.alloc(64, 0x22);
const nonce = Buffer.alloc(12, 0x33);
const dataKeyBytes = Buffer.alloc(32, 0x44);
const context = { tenantId: 'tenant-kat', kekVersion: 3 };
const dataKey = DataKey.fromBytes('fields', 5, dataKeyBytes);
const publicKey = XWingSecretKey.fromSeed(kekSeed).publicKey;
const wrapped = wrapDataKey(publicKey, dataKey, context, {
  encapsulate: encapsulateWithSeed(eseed),
  nonce,
});
out('wrap-kat.json', {
  kekSeed: kekSeed.toString('hex'),
  eseed: eseed.toString('hex'),
  nonce: nonce.toString('hex'),
  context,
  keyId: 'fields',
  keyVersion: 5,
  dataKey: dataKeyBytes.toString('hex'),
  wrapped: Buffer.from(wrapped).toString('hex'),
});

// Field: built by hand from the README layout (encryptField takes no nonce), so it is an
// independent encoder as well.
const fieldKey = Buffer.alloc(32, 0x55);
const fieldContext = {
  tenantId: 'tenant-kat',
  collection: 'patients',
  recordId: 'r-1',
  field: 'ssn',
};
const plaintext = Buffer.from('078-05-1120');
const lp = (s: string) => Buffer.concat([Buffer.of(Buffer.byteLength(s)), Buffer.from(s)]);
const version = Buffer.of(0, 0, 0, 2);
const header = Buffer.concat([Buffer.of(0xf1, 0x01), lp('fields'), version, nonce]);
const aad = Buffer.concat([header, ...Object.values(fieldContext).map(lp), version]);
const cipher = createCipheriv('aes-256-gcm', fieldKey, nonce).setAAD(aad);
const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
out('field-kat.json', {
  key: fieldKey.toString('hex'),
  keyId: 'fields',
  version: 2,
  context: fieldContext,
  nonce: nonce.toString('hex'),
  plaintext: plaintext.toString('hex'),
  ciphertext: Buffer.concat([header, body, cipher.getAuthTag()]).toString('hex'),
});
