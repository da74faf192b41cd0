import type { GroupCommitter } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { ShardStore, TenantStore } from '../store/index.ts';
import type { Tenant } from '../tenancy/index.ts';

/** A ledger entry about an issuer change: who did what to which resource, and the new state. */
export interface IssuerEvent {
  readonly actor: string;
  readonly action: string;
  readonly resource: string;
  readonly state: unknown;
}

/**
 * Records issuer changes in the tenant's ledger. The change (a control-plane write, in
 * another database than the tenant's ledger) is made first and its entry then committed in
 * the tenant's next durable batch, before the caller hears of success; a change that throws
 * records nothing. The change is not made inside the group-commit op, which runs again
 * after a failed batch and would apply it twice.
 */
export class TenantAudit {
  readonly #shards: ReadonlyMap<string, ShardStore>;
  readonly #committer: GroupCommitter;

  constructor(shards: ReadonlyMap<string, ShardStore>, committer: GroupCommitter) {
    this.#shards = shards;
    this.#committer = committer;
  }

  async change<T>(tenant: Tenant, event: IssuerEvent, apply: () => Promise<T>): Promise<T> {
    const store = await this.#store(tenant);
    const result = await apply();
    await this.#record(store, event);
    return result;
  }

  /**
   * As `change`, for a change that may turn out to be none (`apply` resolves false, having
   * written nothing): then nothing is recorded.
   */
  async changeIf(tenant: Tenant, event: IssuerEvent, apply: () => Promise<boolean>): Promise<void> {
    const store = await this.#store(tenant);
    if (await apply()) await this.#record(store, event);
  }

  async #store(tenant: Tenant): Promise<TenantStore> {
    const shard = this.#shards.get(tenant.shard);
    if (shard === undefined)
      throw new PalisadeError('PALISADE_INTERNAL', `shard ${tenant.shard} is not open`);
    return shard.tenant(tenant.id);
  }

  async #record(store: TenantStore, event: IssuerEvent): Promise<void> {
    await this.#committer.submit(store, async (_tx, record) => record(event));
  }
}
