import type { RoleResolver } from '../authz/index.ts';
import type { GroupCommitter } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import { hashSecretToken, isUuid, newSecretToken, uuid7 } from '../ids/index.ts';
import type { ApiKeyRow, ControlPlaneStore, ShardStore } from '../store/index.ts';
import type { Tenant, TenantStatus } from '../tenancy/index.ts';

const PLATFORM_ACTOR = 'platform-admin';

export interface NewTenant {
  readonly slug: string;
  readonly name: string;
  readonly plan?: string | undefined;
}

export interface TenantChange {
  readonly name?: string | undefined;
  readonly plan?: string | undefined;
  readonly status?: 'active' | 'suspended' | undefined;
}

/** The key hierarchy's part in a tenant's life: keys at creation, shredding at deletion. */
export interface TenantKeyLifecycle {
  provision(tenant: Tenant): Promise<void>;
  /** Destroys the tenant's KEKs, so every copy of its encrypted data is unreadable. */
  shred(tenant: Tenant): Promise<void>;
}

/**
 * What else a deleted tenant leaves in the platform, and who removes it: every process ends
 * its live connections and forgets it (`disconnect`, at once), then, with its data gone,
 * its messages leave the bus and its cursors the relay (`erase`).
 */
export interface TenantErasure {
  /** Closes the tenant's MQTT connections and live streams and drops its cached state, everywhere. */
  disconnect(tenant: Tenant): Promise<void>;
  /** Erases the tenant from the bus and the relay's cursors. */
  erase(tenant: Tenant): Promise<void>;
  /**
   * The tenant was suspended, resumed or changed plan: every process forgets what it cached
   * of it (credentials, issuer, roles), this one at once, the others when told.
   */
  changed(tenant: Tenant): Promise<void>;
}

/** A new API key: the secret exists only in this value. */
export interface IssuedApiKey {
  readonly id: string;
  readonly name: string;
  readonly roles: readonly string[];
  readonly secret: string;
  readonly createdAt: string;
}

/** A claim that this process runs a tenant's creation, held until released or it dies. */
export interface CreationClaim {
  /** The claim was lost (its database connection ended): another process may take it. */
  readonly lost: boolean;
  release(): Promise<void>;
}

/** Who runs a tenant's creation: one process at a time, and none once it died. */
export interface CreationClaims {
  /** The claim on the tenant's creation, or undefined when a live process holds it. */
  claim(tenantId: string): Promise<CreationClaim | undefined>;
}

/** What the tenant admin works with; the optional parts are absent in some tests. */
export interface TenantAdminParts {
  readonly controlPlane: ControlPlaneStore;
  readonly shards: ReadonlyMap<string, ShardStore>;
  readonly committer: GroupCommitter;
  readonly onCredentialsChanged: (tenantId: string) => void;
  readonly roles: RoleResolver;
  readonly keys?: TenantKeyLifecycle | undefined;
  readonly erasure?: TenantErasure | undefined;
  /** Claims on creations across processes; without it, only this process creates tenants. */
  readonly claims?: CreationClaims | undefined;
  /**
   * Told a tenant's creation finished: its genesis was committed while it was hidden, so the
   * sealer and the relay, which skipped it then, look at its ledger again.
   */
  readonly onCreated?: ((tenantId: string) => void) | undefined;
}

/**
 * The platform admin's view of tenants: lifecycle, placement and API keys. Each change is
 * also an entry in the tenant's own ledger, written through the same group commit as data.
 */
export class TenantAdmin {
  readonly #controlPlane: ControlPlaneStore;
  readonly #shards: ReadonlyMap<string, ShardStore>;
  readonly #committer: GroupCommitter;
  /** Drops what this process cached of the tenant (its keys, issuer, roles). */
  readonly #onCredentialsChanged: (tenantId: string) => void;
  readonly #roles: RoleResolver;
  readonly #keys: TenantKeyLifecycle | undefined;
  readonly #erasure: TenantErasure | undefined;
  readonly #claims: CreationClaims | undefined;
  readonly #onCreated: ((tenantId: string) => void) | undefined;
  /** The creations this process runs now (a claim is granted again to its holder). */
  readonly #creating = new Set<string>();

  constructor(parts: TenantAdminParts) {
    this.#controlPlane = parts.controlPlane;
    this.#shards = parts.shards;
    this.#committer = parts.committer;
    this.#onCredentialsChanged = parts.onCredentialsChanged;
    this.#roles = parts.roles;
    this.#keys = parts.keys;
    this.#erasure = parts.erasure;
    this.#claims = parts.claims;
    this.#onCreated = parts.onCreated;
  }

  async #audit(tenant: Tenant, action: string, resource: string, state: unknown): Promise<void> {
    const shard = this.#shards.get(tenant.shard);
    if (shard === undefined)
      throw new PalisadeError('PALISADE_INTERNAL', `shard ${tenant.shard} is not open`);
    await this.#committer.submit(await shard.tenant(tenant.id), async (_tx, record) => {
      record({ actor: PLATFORM_ACTOR, action, resource, state });
    });
  }

  /**
   * Creates a tenant, all or nothing, even if this process dies part-way: the tenant is
   * written hidden (it holds its slug, nothing shows it), gets its ledger genesis and keys,
   * and only then is shown. A failure takes back what it got; a process killed part-way
   * leaves it hidden, and the next start or the next creation of its slug takes it back
   * (`recoverCreations`).
   */
  async create(input: NewTenant): Promise<Tenant> {
    const now = new Date().toISOString();
    const tenant: Tenant = {
      id: uuid7(),
      slug: input.slug,
      name: input.name,
      plan: input.plan ?? 'free',
      status: 'active',
      shard: await this.#placement(),
      createdAt: now,
      updatedAt: now,
    };
    this.#creating.add(tenant.id);
    // Claimed before the row exists, so no other process ever sees it unclaimed.
    const claim = await this.#claims?.claim(tenant.id);
    try {
      if (this.#claims !== undefined && claim === undefined)
        throw new PalisadeError('PALISADE_INTERNAL', `tenant id ${tenant.id} is being created`);
      await this.#begin(tenant);
      try {
        await this.#audit(tenant, 'tenant.create', 'tenant', {
          slug: tenant.slug,
          name: tenant.name,
          plan: tenant.plan,
        });
        await this.#keys?.provision(tenant);
        if (claim?.lost === true)
          throw new Error('the claim on the creation was lost; another process may take it back');
        if (!(await this.#controlPlane.finishTenantCreation(tenant.id)))
          throw new Error('another process took the creation back');
      } catch (error) {
        throw await this.#undoCreate(tenant, error);
      }
    } finally {
      await claim?.release();
      this.#creating.delete(tenant.id);
    }
    this.#onCreated?.(tenant.id);
    return tenant;
  }

  /** Writes the hidden tenant; a slug held by an abandoned creation is taken back first. */
  async #begin(tenant: Tenant): Promise<void> {
    try {
      await this.#controlPlane.beginTenantCreation(tenant);
    } catch (error) {
      if (!(error instanceof PalisadeError) || error.code !== 'PALISADE_SLUG_TAKEN') throw error;
      const recovered = await this.recoverCreations();
      if (!recovered.some((gone) => gone.slug === tenant.slug)) throw error;
      await this.#controlPlane.beginTenantCreation(tenant);
    }
  }

  /**
   * Takes back every creation whose process died part-way (no live process claims it) on a
   * shard this process has open, as a failed creation is taken back; answers those removed.
   * A creation this process runs, or another live process does, is left alone.
   */
  async recoverCreations(): Promise<Tenant[]> {
    const recovered: Tenant[] = [];
    for (const tenant of await this.#controlPlane.unfinishedCreations()) {
      if (this.#creating.has(tenant.id) || !this.#shards.has(tenant.shard)) continue;
      const claim = await this.#claims?.claim(tenant.id);
      if (this.#claims !== undefined && claim === undefined) continue;
      try {
        await this.#takeBack(tenant);
        recovered.push(tenant);
      } finally {
        await claim?.release();
      }
    }
    return recovered;
  }

  /**
   * Removes whatever of a tenant whose creation did not finish the shard, the key hierarchy
   * and the bus got, then its control-plane rows, so its slug is free. Each step but the last
   * is done as far as it goes: a shard that cannot be reached holds nothing of it that this
   * process could reach either. Throws when its rows could not be removed.
   */
  async #takeBack(tenant: Tenant): Promise<void> {
    await this.#committer.drain(tenant.id);
    const steps = [
      () => this.#keys?.shred(tenant),
      () => this.#shards.get(tenant.shard)?.dropTenant(tenant.id),
      () => this.#erasure?.erase(tenant),
    ];
    for (const step of steps)
      await Promise.resolve()
        .then(step)
        .catch(() => undefined);
    await this.#controlPlane.discardTenant(tenant.id);
  }

  /**
   * Takes back a creation that failed after the tenant's row was written (its shard file or
   * database refused it, its ledger genesis or keys failed), so its slug is free and a retry
   * starts afresh. The error to answer with: PALISADE_TENANT_NOT_CREATED, or PALISADE_INTERNAL
   * naming the tenant when its row could not be removed (the next start removes it).
   */
  async #undoCreate(tenant: Tenant, cause: unknown): Promise<PalisadeError> {
    try {
      await this.#takeBack(tenant);
    } catch (error) {
      return new PalisadeError(
        'PALISADE_INTERNAL',
        `tenant ${tenant.id} (${tenant.slug}) could not be set up in shard ${tenant.shard}, nor removed; the next start, or the next creation of its slug, removes it`,
        undefined,
        { cause: new AggregateError([cause, error]) },
      );
    }
    return new PalisadeError(
      'PALISADE_TENANT_NOT_CREATED',
      `the tenant could not be set up in shard ${tenant.shard}; nothing of it was kept, and the same request may be retried`,
      undefined,
      { cause },
    );
  }

  /**
   * The least-loaded shard this process has open: the control plane also lists shards that
   * only other processes open, or that this one no longer does.
   */
  async #placement(): Promise<string> {
    const open = [...this.#shards.keys()];
    const shard = await this.#controlPlane.leastLoadedShard(open);
    if (shard === undefined)
      throw new PalisadeError(
        'PALISADE_INTERNAL',
        `none of the shards this process has open (${open.join(', ')}) is registered in the control plane`,
      );
    return shard;
  }

  async get(id: string): Promise<Tenant> {
    if (!isUuid(id))
      throw new PalisadeError(
        'PALISADE_INVALID_ID',
        `tenant id ${JSON.stringify(id)} is not a UUID`,
      );
    const tenant = await this.#controlPlane.getTenant(id);
    if (tenant === undefined)
      throw new PalisadeError('PALISADE_TENANT_NOT_FOUND', `no tenant ${id}`);
    return tenant;
  }

  list(after: string | undefined, limit: number): Promise<Tenant[]> {
    return this.#controlPlane.listTenants({ after, limit });
  }

  async update(id: string, change: TenantChange): Promise<Tenant> {
    const current = await this.get(id);
    if (current.status === 'deleted')
      throw new PalisadeError('PALISADE_TENANT_DELETED', `tenant ${id} is deleted`);
    const updated = await this.#controlPlane.updateTenant(id, change, new Date().toISOString());
    if (updated === undefined)
      throw new PalisadeError('PALISADE_TENANT_NOT_FOUND', `no tenant ${id}`);
    this.#onCredentialsChanged(id);
    await this.#erasure?.changed(updated);
    const action = statusAction(current.status, updated.status);
    await this.#audit(updated, action, 'tenant', {
      name: updated.name,
      plan: updated.plan,
      status: updated.status,
    });
    return updated;
  }

  /**
   * Marks the tenant deleted (its credentials stop at once), revokes its API keys, ends its
   * live connections in every process, destroys its KEKs (crypto-shredding: every copy of its
   * encrypted fields becomes unreadable), drops its data, then erases what is left of it
   * elsewhere: its bus messages and consumers, and its control-plane rows but a nameless
   * tombstone. Running it again finishes a deletion that failed part-way.
   */
  async delete(id: string): Promise<void> {
    const tenant = await this.get(id);
    const now = new Date().toISOString();
    if (tenant.status !== 'deleted')
      await this.#controlPlane.updateTenant(id, { status: 'deleted' }, now);
    await this.#controlPlane.revokeAllApiKeys(id, now);
    this.#onCredentialsChanged(id);
    await this.#erasure?.disconnect(tenant);
    await this.#committer.drain(id);
    await this.#keys?.shred(tenant);
    await this.#shards.get(tenant.shard)?.dropTenant(id);
    await this.#erasure?.erase(tenant);
    await this.#controlPlane.eraseTenant(id, new Date().toISOString());
  }

  /** Issues a key acting with `roles` (default `owner`, what keys could do before roles). */
  async issueApiKey(
    tenantId: string,
    input: { name?: string | undefined; roles?: readonly string[] | undefined },
  ): Promise<IssuedApiKey> {
    const tenant = await this.get(tenantId);
    if (tenant.status === 'deleted')
      throw new PalisadeError('PALISADE_TENANT_DELETED', `tenant ${tenantId} is deleted`);
    const roles = input.roles ?? ['owner'];
    await this.#roles.check(tenant, roles);
    const secret = newSecretToken('pk');
    const key: ApiKeyRow = {
      id: uuid7(),
      tenantId,
      name: input.name ?? 'default',
      secretHash: hashSecretToken(secret),
      roles,
      createdAt: new Date().toISOString(),
      revokedAt: null,
    };
    await this.#controlPlane.insertApiKey(key);
    await this.#audit(tenant, 'api-key.create', `api-keys/${key.id}`, { name: key.name, roles });
    return { id: key.id, name: key.name, roles, secret, createdAt: key.createdAt };
  }

  async listApiKeys(tenantId: string): Promise<Omit<ApiKeyRow, 'secretHash' | 'tenantId'>[]> {
    await this.get(tenantId);
    const keys = await this.#controlPlane.listApiKeys(tenantId);
    return keys.map(({ id, name, roles, createdAt, revokedAt }) => ({
      id,
      name,
      roles,
      createdAt,
      revokedAt,
    }));
  }

  async revokeApiKey(tenantId: string, keyId: string): Promise<void> {
    const tenant = await this.get(tenantId);
    if (!isUuid(keyId))
      throw new PalisadeError(
        'PALISADE_INVALID_ID',
        `API key id ${JSON.stringify(keyId)} is not a UUID`,
      );
    if (!(await this.#controlPlane.revokeApiKey(tenantId, keyId, new Date().toISOString()))) {
      throw new PalisadeError(
        'PALISADE_API_KEY_NOT_FOUND',
        `tenant ${tenantId} has no live API key ${keyId}`,
      );
    }
    this.#onCredentialsChanged(tenantId);
    if (tenant.status !== 'deleted')
      await this.#audit(tenant, 'api-key.revoke', `api-keys/${keyId}`, null);
  }
}

function statusAction(before: TenantStatus, after: TenantStatus): string {
  if (before === after) return 'tenant.update';
  return after === 'suspended' ? 'tenant.suspend' : 'tenant.resume';
}
