/**
 * Sealing and opening a record's encrypted fields with keys already in hand. Synchronous on
 * purpose: keys from the data key cache are used within one turn of the event loop.
 *
 * Each value is JSON-encoded, then AES-256-GCM-encrypted bound to (tenant, collection, record
 * id, field, key version); scalar values also get a blind index (HMAC under the tenant's
 * index key) so `filter[field]=value` can match them. Blind indexes leak equality only.
 */
import {
  BlindIndexKey,
  blindIndex,
  CryptoError,
  type DataKey,
  type DataKeyring,
  decryptField,
  encryptField,
} from '@palisade/crypto';
import { PalisadeError } from '../errors/index.ts';
import type { SealedFields } from '../store/index.ts';

/** Where a record lives: the context every field ciphertext is bound to. */
export interface RecordPlace {
  readonly tenantId: string;
  readonly collection: string;
  readonly id: string;
}

/** Where the blind-index key's own ciphertext is bound. */
export function indexKeyContext(tenantId: string) {
  return { tenantId, collection: 'palisade.keys', recordId: 'blind-index', field: 'secret' };
}

/** Opens the tenant's blind-index key (destroy it after use). */
export function openIndexKey(
  tenantId: string,
  wrapKey: DataKey,
  sealedSecret: Uint8Array,
): BlindIndexKey {
  const bytes = decryptField(wrapKey, indexKeyContext(tenantId), sealedSecret);
  try {
    return BlindIndexKey.fromBytes(bytes);
  } finally {
    bytes.fill(0);
  }
}

function isScalar(value: unknown): value is string | number | boolean | null {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

/** The blind index of a scalar value: over its JSON text, so 1 and "1" differ. */
export function indexOf(
  key: BlindIndexKey,
  place: Omit<RecordPlace, 'id'>,
  field: string,
  value: string | number | boolean | null,
): string {
  return blindIndex(
    key,
    { tenantId: place.tenantId, collection: place.collection, field },
    JSON.stringify(value),
  );
}

/** Splits `data` into its plaintext part and the sealed encrypted fields. */
export function sealRecord(
  key: DataKey,
  indexKey: BlindIndexKey,
  place: RecordPlace,
  encrypted: readonly string[],
  data: Record<string, unknown>,
): { data: Record<string, unknown>; sealed: SealedFields } {
  const plain: Record<string, unknown> = {};
  const values: Record<string, string> = {};
  const index: Record<string, string> = {};
  for (const [field, value] of Object.entries(data)) {
    if (!encrypted.includes(field)) {
      plain[field] = value;
      continue;
    }
    const context = { tenantId: place.tenantId, collection: place.collection, recordId: place.id };
    const text = Buffer.from(JSON.stringify(value), 'utf8');
    values[field] = Buffer.from(encryptField(key, { ...context, field }, text)).toString('base64');
    text.fill(0);
    if (isScalar(value)) index[field] = indexOf(indexKey, place, field, value);
  }
  return { data: plain, sealed: { keyVersion: key.version, values, index } };
}

/** Re-encrypts every sealed field under `to` (a re-encryption job); indexes are kept. */
export function resealRecord(
  ring: DataKeyring,
  to: DataKey,
  place: RecordPlace,
  sealed: SealedFields,
): SealedFields {
  const values: Record<string, string> = {};
  for (const [field, text] of Object.entries(sealed.values)) {
    const context = {
      tenantId: place.tenantId,
      collection: place.collection,
      recordId: place.id,
      field,
    };
    const plain = openField(ring, context, text, place);
    values[field] = Buffer.from(encryptField(to, context, plain)).toString('base64');
    plain.fill(0);
  }
  return { keyVersion: to.version, values, index: sealed.index };
}

function openField(
  ring: DataKeyring,
  context: { tenantId: string; collection: string; recordId: string; field: string },
  text: string,
  place: RecordPlace,
): Uint8Array {
  try {
    return decryptField(ring, context, Buffer.from(text, 'base64'));
  } catch (error) {
    if (!(error instanceof CryptoError)) throw error;
    throw new PalisadeError(
      'PALISADE_DECRYPTION_FAILED',
      `an encrypted field of record ${place.id} in ${place.collection} does not decrypt in place (${error.code})`,
    );
  }
}

/** The record's data with its sealed fields decrypted back in. */
export function openRecord(
  ring: DataKeyring,
  place: RecordPlace,
  data: Record<string, unknown>,
  sealed: SealedFields,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...data };
  for (const [field, text] of Object.entries(sealed.values)) {
    const context = {
      tenantId: place.tenantId,
      collection: place.collection,
      recordId: place.id,
      field,
    };
    const plain = openField(ring, context, text, place);
    out[field] = JSON.parse(Buffer.from(plain.buffer, plain.byteOffset, plain.length).toString());
    plain.fill(0);
  }
  return out;
}
