/**
 * The key a user name's failed sign-ins are counted under: HMAC-SHA256 of the normalized name
 * under the tenant's blind-index key (the key hierarchy's key for keyed equality tags), in a
 * context no record field has. A plain hash would make the failure table, and the ledger's
 * resource of an unknown name's lock, a list of the addresses people tried that anyone with a
 * copy could test guesses against; without the tenant's key nobody can, and shredding the
 * tenant's keys leaves the stored keys meaning nothing. Every name costs the same to key, a
 * user's or not.
 */
import { type BlindIndexKey, blindIndex } from '@palisade/crypto';
import type { KeyService } from '../keys/index.ts';
import type { Tenant } from '../tenancy/index.ts';
import { normalizeEmail } from './user-view.ts';

/** The blind-index context of sign-in names: record collections have no dot in their name. */
const NAME_CONTEXT = { collection: 'palisade.users', field: 'sign-in-name' } as const;

/** Keys user names for the tenant's failed sign-in counts. */
export interface SignInNames {
  /** The key of each of `emails` (normalized first), in order. */
  keysOf(tenant: Tenant, emails: readonly string[]): Promise<string[]>;
}

/** The key of one name under an opened blind-index key. */
export function signInNameKey(indexKey: BlindIndexKey, tenantId: string, email: string): string {
  // A lone surrogate (JSON allows one) would not be well-formed Unicode to hash.
  const name = normalizeEmail(email).toWellFormed();
  return blindIndex(indexKey, { tenantId, ...NAME_CONTEXT }, name);
}

/** Names keyed with each tenant's own blind-index key, from the key service's cache. */
export function tenantSignInNames(keys: KeyService): SignInNames {
  return {
    keysOf: async (tenant, emails) =>
      keys.withKeys(tenant, [], ({ indexKey }) =>
        emails.map((email) => signInNameKey(indexKey(), tenant.id, email)),
      ),
  };
}
