/**
 * Sealing and opening a record's encrypted fields with keys already in hand. Synchronous on
 * purpose: keys from the data key cache are used within one turn of the event loop.
 *
 * The encrypted fields are JSON-encoded together, then AES-256-GCM-encrypted bound to (tenant,
 * collection, record id, key version); scalar values also get a blind index (HMAC under the tenant's
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
import { mergeStoredObjects, type SealedFields } from '../store/index.ts';

/** Where a record lives: the context every field ciphertext is bound to. */
export interface RecordPlace {
  readonly tenantId: string;
  readonly collection: string;
  readonly id: string;
}

/** The `field` of a record ciphertext's context: all its encrypted fields at once. */
const SEALED_FIELDS = '{sealed fields}';

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
  const type = typeof value;
  return value === null || type === 'string' || type === 'number' || type === 'boolean';
}

/** base64 of a ciphertext, read in place. */
function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
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

/**
 * The context a record's ciphertext is bound to. One AEAD seals all encrypted fields of a
 * record together (as a JSON object): per field, each costs a cipher context (~10 µs here)
 * on every write and read; the field names travel inside the authenticated plaintext.
 */
function recordContext(place: RecordPlace) {
  return {
    tenantId: place.tenantId,
    collection: place.collection,
    recordId: place.id,
    field: SEALED_FIELDS,
  };
}

/** Splits `data` into its plaintext part and the sealed encrypted fields (undefined: none). */
export function sealRecord(
  key: DataKey,
  indexKey: BlindIndexKey,
  place: RecordPlace,
  encrypted: readonly string[],
  data: Record<string, unknown>,
): { data: Record<string, unknown>; sealed: SealedFields | undefined } {
  const plain: Record<string, unknown> = {};
  const secret: Record<string, unknown> = {};
  const index: Record<string, string> = {};
  let any = false;
  for (const [field, value] of Object.entries(data)) {
    if (!encrypted.includes(field)) {
      plain[field] = value;
      continue;
    }
    secret[field] = value;
    any = true;
    if (isScalar(value)) index[field] = indexOf(indexKey, place, field, value);
  }
  if (!any) return { data: plain, sealed: undefined };
  const text = Buffer.from(JSON.stringify(secret), 'utf8');
  const ciphertext = base64(encryptField(key, recordContext(place), text));
  text.fill(0);
  return { data: plain, sealed: { keyVersion: key.version, ciphertext, index } };
}

/** Re-encrypts a record's sealed fields under `to` (a re-encryption job); indexes are kept. */
export function resealRecord(
  ring: DataKeyring,
  to: DataKey,
  place: RecordPlace,
  sealed: SealedFields,
): SealedFields {
  const plain = openSealed(ring, place, sealed);
  try {
    const ciphertext = base64(encryptField(to, recordContext(place), plain));
    return { keyVersion: to.version, ciphertext, index: sealed.index };
  } finally {
    plain.fill(0);
  }
}

function openSealed(ring: DataKeyring, place: RecordPlace, sealed: SealedFields): Uint8Array {
  try {
    return decryptField(ring, recordContext(place), Buffer.from(sealed.ciphertext, 'base64'));
  } catch (error) {
    if (!(error instanceof CryptoError)) throw error;
    throw new PalisadeError(
      'PALISADE_DECRYPTION_FAILED',
      `the encrypted fields of record ${place.id} in ${place.collection} do not decrypt in place (${error.code})`,
    );
  }
}

/** The JSON text of a record's sealed fields, decrypted; the plaintext bytes are zeroed. */
function openSealedJson(ring: DataKeyring, place: RecordPlace, sealed: SealedFields): string {
  const plain = openSealed(ring, place, sealed);
  try {
    return Buffer.from(plain.buffer, plain.byteOffset, plain.length).toString();
  } finally {
    plain.fill(0);
  }
}

/** The record's data with its sealed fields decrypted back in. */
export function openRecord(
  ring: DataKeyring,
  place: RecordPlace,
  data: Record<string, unknown>,
  sealed: SealedFields,
): Record<string, unknown> {
  const fields = JSON.parse(openSealedJson(ring, place, sealed)) as Record<string, unknown>;
  return { ...data, ...fields };
}

/**
 * As {@link openRecord} for data still in its stored JSON text: the decrypted fields' JSON is
 * spliced into it, and neither is parsed.
 */
export function openRecordJson(
  ring: DataKeyring,
  place: RecordPlace,
  storedText: string,
  sealed: SealedFields,
): string {
  return mergeStoredObjects(storedText, openSealedJson(ring, place, sealed));
}
