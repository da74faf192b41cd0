import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { canonicalJson } from '@palisade/ledger';
import { PalisadeError } from '../errors/index.ts';

/** One device message as the edge accepted it. */
export interface EdgeMessage {
  readonly deviceId: string;
  /** ThingsBoard telemetry payload, or a flat object of client attributes. */
  readonly payload: unknown;
  /** Unix ms when the edge accepted it: the ts of points that name none. */
  readonly receivedAt: number;
  /** `attributes` for the device's client-side attributes; absent for telemetry. */
  readonly kind?: 'telemetry' | 'attributes';
}

/** A signed batch as the node sends it. */
export interface EdgeBatch {
  readonly nodeId: string;
  readonly batchId: string;
  readonly createdAt: string;
  /**
   * The node's own count of the batches it formed, from 1 under each enrollment (absent from
   * nodes of earlier versions): two batches of one node that carry the same number, under
   * other ids, come from two copies of its directory.
   */
  readonly seq?: number;
  readonly messages: readonly EdgeMessage[];
  readonly signatures: { readonly ed25519: string; readonly mldsa65: string };
}

/** Exactly the bytes both signatures cover: RFC 8785 JSON of the batch less `signatures`. */
export function signedContent(batch: EdgeBatch): Buffer {
  const { signatures: _ignored, ...content } = batch;
  return Buffer.from(canonicalJson(content), 'utf8');
}

export function contentHash(content: Uint8Array): string {
  return createHash('sha256').update(content).digest('base64url');
}

/** Parses a base64 SPKI DER public key of the expected type; throws naming the field. */
export function publicKeyOf(field: string, base64: string, type: 'ed25519' | 'ml-dsa-65') {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(base64, 'base64'), format: 'der', type: 'spki' });
  } catch {
    key = undefined as unknown as KeyObject;
  }
  if (key?.asymmetricKeyType !== type)
    throw new PalisadeError('PALISADE_INVALID_REQUEST', `${field} is not a ${type} public key`, [
      { path: `/${field}`, message: `must be base64 SPKI DER of an ${type} public key` },
    ]);
  return key;
}

/** True only when both the Ed25519 and the ML-DSA-65 signature verify. */
export function verifyBatch(
  content: Uint8Array,
  signatures: EdgeBatch['signatures'],
  keys: { ed25519: string; mldsa65: string },
): boolean {
  try {
    const ed = publicKeyOf('ed25519', keys.ed25519, 'ed25519');
    const ml = publicKeyOf('mldsa65', keys.mldsa65, 'ml-dsa-65');
    return (
      verify(null, content, ed, Buffer.from(signatures.ed25519, 'base64')) &&
      verify(null, content, ml, Buffer.from(signatures.mldsa65, 'base64'))
    );
  } catch {
    return false;
  }
}
