/**
 * Storage of a tenant's authorization: its custom roles (named sets of permissions) and its
 * Cedar policy set. Both live in the tenant's own store, beside the data they govern.
 */

/** A custom role as stored; permissions are catalog names (`records:read`…). */
export interface RoleRow {
  readonly name: string;
  readonly description: string;
  readonly permissions: readonly string[];
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** The tenant's Cedar policy set: its text as the tenant wrote it. */
export interface PolicySetRow {
  readonly text: string;
  readonly version: number;
  readonly updatedAt: string;
}

/** Authorization reads of one tenant's store. */
export interface TenantAuthzReader {
  getRole(name: string): Promise<RoleRow | undefined>;
  /** Every custom role, by name. */
  listRoles(): Promise<RoleRow[]>;
  getPolicySet(): Promise<PolicySetRow | undefined>;
}

/** Authorization writes, inside the tenant's transaction; each is one atomic statement. */
export interface TenantAuthzWriter extends TenantAuthzReader {
  /** Inserts or replaces the role. */
  putRole(row: RoleRow): Promise<void>;
  /** False when there was no such role. */
  deleteRole(name: string): Promise<boolean>;
  putPolicySet(row: PolicySetRow): Promise<void>;
  /** False when the tenant had no policy set. */
  deletePolicySet(): Promise<boolean>;
}
