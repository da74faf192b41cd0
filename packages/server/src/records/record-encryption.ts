/**
 * What the record services need from encryption, owned here so the key hierarchy plugs in
 * behind it (`keys/record-keys.ts`): seal a record's encrypted fields before it is stored,
 * open them after it is read, and turn equality filters on encrypted fields into blind-index
 * filters. The plaintext of an encrypted field never reaches a store, a ledger entry or an
 * error detail.
 */
import { PalisadeError } from '../errors/index.ts';
import type { MaybePromise } from '../maybe-promise/index.ts';
import type {
  CollectionRow,
  FieldFilter,
  RecordRow,
  SealedFields,
  TenantWriteTx,
} from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';

export interface RecordEncryption {
  /** Makes sure the tenant's keys exist (call outside a transaction). */
  ready(context: TenantContext): Promise<void>;
  /**
   * Splits `data` into plaintext fields and sealed encrypted fields, under a key version that
   * `tx` (the write's transaction) holds active until it commits and counts the encryption of.
   */
  seal(
    context: TenantContext,
    collection: CollectionRow,
    id: string,
    data: Record<string, unknown>,
    tx: TenantWriteTx,
  ): Promise<{ data: Record<string, unknown>; sealed: SealedFields | undefined }>;
  /** The rows with their sealed fields decrypted into `data` (and `sealed` dropped). */
  open(context: TenantContext, rows: readonly RecordRow[]): MaybePromise<RecordRow[]>;
  /** Filters on encrypted fields become blind-index filters; the others pass unchanged. */
  blindFilters(
    context: TenantContext,
    collection: CollectionRow,
    filters: readonly FieldFilter[],
  ): Promise<FieldFilter[]>;
}

/** The state a ledger entry commits to: the stored form, never plaintext of sealed fields. */
export function storedState(
  data: Record<string, unknown>,
  sealed: SealedFields | undefined,
): unknown {
  return sealed === undefined ? data : { data, sealed: sealed.ciphertext };
}

function within(path: string, field: string): boolean {
  const prefix = `/${field.replaceAll('~', '~0').replaceAll('/', '~1')}`;
  return path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * A schema error about an encrypted field says only that the field is invalid: the details
 * (nested member names, which enum or pattern failed) would describe the secret.
 */
export function redactEncrypted(error: unknown, encrypted: readonly string[]): unknown {
  if (
    encrypted.length === 0 ||
    !(error instanceof PalisadeError) ||
    error.code !== 'PALISADE_RECORD_INVALID'
  )
    return error;
  const seen = new Set<string>();
  const details = (error.errors ?? []).flatMap((detail) => {
    const field = encrypted.find((f) => within(detail.path, f));
    if (field === undefined) return [detail];
    const path = `/${field}`;
    if (seen.has(path)) return [];
    seen.add(path);
    return [{ path, message: 'is invalid (an encrypted field: details withheld)' }];
  });
  return new PalisadeError(error.code, error.message, details);
}
