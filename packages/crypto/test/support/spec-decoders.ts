/**
 * Independent decoders written from the byte layouts in the README, with raw node:crypto and
 * noble's X-Wing, sharing no code with src/. If src/ and the README disagree, these fail.
 */
import { createDecipheriv, hkdfSync } from 'node:crypto';
import { nobleXWing } from './noble-xwing.ts';

const u8 = (n: number) => Buffer.of(n);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const lp = (s: string) => Buffer.concat([u8(Buffer.byteLength(s)), Buffer.from(s)]);

function gcmDecrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  body: Uint8Array,
  tag: Uint8Array,
): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, nonce);
  d.setAAD(aad);
  d.setAuthTag(tag);
  return Buffer.concat([d.update(body), d.final()]);
}

/** Field format v1, per README. */
export function specDecryptField(
  key: Uint8Array,
  ctx: { tenantId: string; collection: string; recordId: string; field: string },
  ct: Buffer,
): Buffer {
  if (ct[0] !== 0xf1 || ct[1] !== 0x01) throw new Error('format');
  const n = ct[2]!;
  const version = ct.readUInt32BE(3 + n);
  const nonce = ct.subarray(7 + n, 19 + n);
  const header = ct.subarray(0, 19 + n);
  const aad = Buffer.concat([
    header,
    lp(ctx.tenantId),
    lp(ctx.collection),
    lp(ctx.recordId),
    lp(ctx.field),
    u32(version),
  ]);
  return gcmDecrypt(
    key,
    nonce,
    aad,
    ct.subarray(19 + n, ct.length - 16),
    ct.subarray(ct.length - 16),
  );
}

/** Wrapped key format v1, per README. */
export function specUnwrap(kekSeed: Uint8Array, tenantId: string, wrapped: Buffer): Buffer {
  if (wrapped[0] !== 0xa1 || wrapped[1] !== 0x01) throw new Error('format');
  const kekVersion = wrapped.readUInt32BE(2);
  const n = wrapped[6]!;
  const keyId = wrapped.subarray(7, 7 + n).toString('utf8');
  const keyVersion = wrapped.readUInt32BE(7 + n);
  const kemCt = wrapped.subarray(11 + n, 1131 + n);
  const nonce = wrapped.subarray(1131 + n, 1143 + n);
  const ss = nobleXWing.decapsulate(kekSeed, kemCt);
  const info = Buffer.concat([
    Buffer.from('palisade/wrap/v1\0'),
    lp(tenantId),
    u32(kekVersion),
    lp(keyId),
    u32(keyVersion),
  ]);
  const wrapKey = Buffer.from(hkdfSync('sha256', ss, Buffer.alloc(0), info, 32));
  const aad = Buffer.concat([wrapped.subarray(0, 1143 + n), info]);
  return gcmDecrypt(
    wrapKey,
    nonce,
    aad,
    wrapped.subarray(1143 + n, 1175 + n),
    wrapped.subarray(1175 + n, 1191 + n),
  );
}
