import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * JSON sealed with AES-256-GCM under the node's key and bound by associated data to where it
 * is kept (a row's id), so a sealed value copied to another row fails to open: IV ‖ tag ‖ body.
 */
export function sealJson(key: Uint8Array, aad: string, value: unknown): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

/** Opens what `sealJson` sealed with the same key and associated data; throws otherwise. */
export function openJson(key: Uint8Array, aad: string, sealed: Uint8Array): unknown {
  const data = Buffer.from(sealed);
  const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(data.subarray(12, 28));
  const text = Buffer.concat([decipher.update(data.subarray(28)), decipher.final()]);
  return JSON.parse(text.toString('utf8'));
}
