/**
 * HMAC-SHA256 (RFC 2104) over two one-shot SHA-256 calls, for the blind index on every write.
 * `createHmac` builds a stream object per call, which measured here 2.5 µs in a tight loop but
 * ~15–20 µs per call inside a busy server (allocation and GC of the object and its OpenSSL
 * context); two one-shot hashes over a reused buffer cost 1.2 µs and ~5 µs. The buffer holds
 * the padded key and the message only during the call and is zeroed before it returns.
 */
import { hash } from 'node:crypto';
import { CryptoError } from '../errors.ts';

/** SHA-256's block size: HMAC pads its key to one block. */
const BLOCK_BYTES = 64;
const DIGEST_BYTES = 32;
const IPAD = 0x36;
const OPAD = 0x5c;
/** Messages up to this size (padded key included) reuse one buffer; longer ones get their own. */
const SCRATCH_BYTES = 1024;
const scratch = Buffer.alloc(SCRATCH_BYTES);

function writePaddedKey(out: Buffer, key: Uint8Array, pad: number): void {
  for (let i = 0; i < key.length; i++) out[i] = key[i]! ^ pad;
  out.fill(pad, key.length, BLOCK_BYTES);
}

/** HMAC-SHA256 of the concatenated `parts` (strings as UTF-8) under a key of at most 64 bytes. */
export function hmacSha256(key: Uint8Array, parts: readonly (string | Uint8Array)[]): Buffer {
  if (key.length > BLOCK_BYTES) {
    throw new CryptoError('CRYPTO_BAD_KEY', `an HMAC key here is at most ${BLOCK_BYTES} bytes`);
  }
  let length = BLOCK_BYTES;
  for (const part of parts)
    length += typeof part === 'string' ? Buffer.byteLength(part, 'utf8') : part.length;
  const used = Math.max(length, BLOCK_BYTES + DIGEST_BYTES);
  const work = used <= SCRATCH_BYTES ? scratch : Buffer.alloc(used);
  try {
    writePaddedKey(work, key, IPAD);
    let at = BLOCK_BYTES;
    for (const part of parts) {
      if (typeof part === 'string') {
        at += work.write(part, at, 'utf8');
      } else {
        work.set(part, at);
        at += part.length;
      }
    }
    const inner = hash('sha256', work.subarray(0, length), 'buffer');
    writePaddedKey(work, key, OPAD);
    work.set(inner, BLOCK_BYTES);
    inner.fill(0);
    return hash('sha256', work.subarray(0, BLOCK_BYTES + DIGEST_BYTES), 'buffer');
  } finally {
    work.fill(0, 0, used);
  }
}
