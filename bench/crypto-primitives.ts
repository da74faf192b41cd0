/**
 * `npm run bench -- crypto-primitives [--quick]`: the costs behind @palisade/crypto.
 *
 * - raw AES-256-GCM (node:crypto) throughput on 1 KiB and 64 KiB messages, one cipher per message;
 * - field encrypt/decrypt through the API on 100-byte values, against raw AES-256-GCM on the
 *   same size (the ratio is the cost of the header, context encoding and checks);
 * - X-Wing keygen/encaps/decaps per second, native (node:crypto, OpenSSL 3.5) against
 *   @noble/post-quantum's ml_kem768_x25519, with the ratio;
 * - data key wrap/unwrap per second.
 *
 * Each figure is the best of a few timed rounds; the whole run takes well under a minute.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import {
  DataKey,
  DataKeyring,
  decryptField,
  encryptField,
  unwrapDataKey,
  wrapDataKey,
  XWingSecretKey,
} from '@palisade/crypto';
import { nativeXWing } from '../packages/crypto/test/support/native-xwing.ts';
import { nobleXWing, type XWingBytesApi } from '../packages/crypto/test/support/noble-xwing.ts';

/** Timed rounds per figure; the best round counts. */
const ROUNDS = 3;

let roundMs = 400;

/** Operations per second of `fn`, best of ROUNDS rounds of about roundMs each. */
function opsPerSecond(fn: () => void): number {
  for (let i = 0; i < 20; i++) fn(); // warm-up
  let best = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let ops = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      for (let i = 0; i < 10; i++) fn();
      ops += 10;
      elapsed = performance.now() - start;
    } while (elapsed < roundMs);
    best = Math.max(best, (ops * 1000) / elapsed);
  }
  return best;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(10);
const line = (label: string, value: string) => console.log(`  ${label.padEnd(44)}${value}`);

function rawSeal(key: Buffer, data: Buffer): void {
  const cipher = createCipheriv('aes-256-gcm', key, randomBytes(12));
  cipher.update(data);
  cipher.final();
  cipher.getAuthTag();
}

function benchAesGcm(): number {
  console.log('AES-256-GCM, raw node:crypto (one cipher per message)');
  const key = randomBytes(32);
  for (const size of [1024, 64 * 1024]) {
    const data = randomBytes(size);
    const ops = opsPerSecond(() => rawSeal(key, data));
    line(`encrypt ${size / 1024} KiB`, `${fmt((ops * size) / 2 ** 20)} MB/s`);
  }
  const small = randomBytes(100);
  const rawOps = opsPerSecond(() => rawSeal(key, small));
  line('encrypt 100 B', `${fmt(rawOps)} ops/s`);
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  const body = Buffer.concat([c.update(small), c.final()]);
  const tag = c.getAuthTag();
  const rawOpenOps = opsPerSecond(() => {
    const d = createDecipheriv('aes-256-gcm', key, nonce);
    d.setAuthTag(tag);
    d.update(body);
    d.final();
  });
  line('decrypt 100 B', `${fmt(rawOpenOps)} ops/s`);
  return (rawOps + rawOpenOps) / 2;
}

function benchFields(rawOps: number): void {
  console.log('Field encryption through @palisade/crypto (100-byte values)');
  const ring = new DataKeyring([DataKey.generate('fields', 1)]);
  const context = {
    tenantId: 'tenant-0001',
    collection: 'patients',
    recordId: '01J8ZQ4Y3N5T',
    field: 'ssn',
  };
  const value = randomBytes(100);
  const ct = encryptField(ring, context, value);
  const enc = opsPerSecond(() => encryptField(ring, context, value));
  const dec = opsPerSecond(() => decryptField(ring, context, ct));
  line('encryptField', `${fmt(enc)} ops/s`);
  line('decryptField', `${fmt(dec)} ops/s`);
  line(
    'API / raw AES-GCM (100 B, mean of enc+dec)',
    `${(((enc + dec) / 2 / rawOps) * 100).toFixed(0).padStart(10)} %`,
  );
  line(
    'ciphertext overhead (key id "fields")',
    `${String(ct.length - value.length).padStart(10)} bytes`,
  );
}

function benchXWing(): void {
  console.log('X-Wing (ML-KEM-768 + X25519)');
  const results = new Map<string, { keygen: number; encaps: number; decaps: number }>();
  for (const impl of [nativeXWing, nobleXWing] as XWingBytesApi[]) {
    const seed = randomBytes(32);
    const publicKey = impl.publicKeyFromSeed(seed);
    const { ciphertext } = impl.encapsulate(publicKey);
    const figures = {
      keygen: opsPerSecond(() => impl.publicKeyFromSeed(seed)),
      encaps: opsPerSecond(() => impl.encapsulate(publicKey)),
      decaps: opsPerSecond(() => impl.decapsulate(seed, ciphertext)),
    };
    results.set(impl.name, figures);
    console.log(`  ${impl.name}`);
    line('  keygen (seed → key pair)', `${fmt(figures.keygen)} ops/s`);
    line('  encaps', `${fmt(figures.encaps)} ops/s`);
    line('  decaps (from the 32-byte seed)', `${fmt(figures.decaps)} ops/s`);
  }
  const prepared = XWingSecretKey.generate();
  const { ciphertext } = nativeXWing.encapsulate(prepared.publicKey);
  const kept = opsPerSecond(() => prepared.decapsulate(ciphertext));
  line('native decaps, XWingSecretKey kept', `${fmt(kept)} ops/s`);
  const native = results.get(nativeXWing.name)!;
  const noble = results.get(nobleXWing.name)!;
  const ratio = (a: number, b: number) => `${(a / b).toFixed(1).padStart(9)}×`;
  line('native / noble keygen', ratio(native.keygen, noble.keygen));
  line('native / noble encaps', ratio(native.encaps, noble.encaps));
  line('native / noble decaps', ratio(native.decaps, noble.decaps));
}

function benchWrap(): void {
  console.log('Data key wrapping (X-Wing + HKDF-SHA256 + AES-256-GCM)');
  const kek = XWingSecretKey.generate();
  const context = { tenantId: 'tenant-0001', kekVersion: 1 };
  const dataKey = DataKey.generate('fields', 1);
  const wrapped = wrapDataKey(kek.publicKey, dataKey, context);
  line(
    'wrapDataKey',
    `${fmt(opsPerSecond(() => wrapDataKey(kek.publicKey, dataKey, context)))} ops/s`,
  );
  line(
    'unwrapDataKey',
    `${fmt(opsPerSecond(() => unwrapDataKey(kek, context, wrapped).destroy()))} ops/s`,
  );
  line('wrapped size (key id "fields")', `${String(wrapped.length).padStart(10)} bytes`);
}

/** Runs the benchmark; `--quick` shortens every round. */
export async function run(args: string[]): Promise<void> {
  if (args.includes('--quick')) roundMs = 100;
  const started = performance.now();
  console.log(`node ${process.version}, OpenSSL ${process.versions.openssl}\n`);
  const rawOps = benchAesGcm();
  benchFields(rawOps);
  benchXWing();
  benchWrap();
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
