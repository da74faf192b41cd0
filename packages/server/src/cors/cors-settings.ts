/**
 * Each tenant's CORS allow-list: which browser origins may call the API with the tenant's
 * credentials. Stored in the control plane (a preflight carries no credential, so it can only
 * be answered from what all tenants allow), changed by the tenant with a ledger entry, and
 * cached here for `ttlMs` like credentials: a change in this process applies at once, other
 * processes see it within the TTL. Both caches are bounded, so a flood of made-up origins
 * cannot grow memory.
 */
import type { Logger } from 'pino';
import { LookupCache, setNewest } from '../caches/index.ts';
import type { GroupCommitter } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { ControlPlaneCorsStore } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import { originProblem } from './origin.ts';

export interface CorsSettingsOptions {
  readonly store: ControlPlaneCorsStore;
  readonly locate: TenantStoreLocator;
  readonly committer: GroupCommitter;
  /** Most origins on one tenant's list. */
  readonly maxOrigins: number;
  /** How long a looked-up list or preflight answer is reused, in milliseconds. */
  readonly ttlMs: number;
  /** Most cached allow-lists, and most origins cached as allowed by some tenant, each apart. */
  readonly cacheMax: number;
  /**
   * Most origins cached as allowed by none, apart from the allowed ones: a flood of made-up
   * origins only pushes out other made-up ones. Beyond a bound the oldest is read again.
   */
  readonly missesMax: number;
  readonly logger: Logger;
}

interface Cached<T> {
  readonly value: T;
  readonly expires: number;
}

export class CorsSettings {
  readonly #options: CorsSettingsOptions;
  readonly #lists = new Map<string, Cached<ReadonlySet<string>>>();
  /** Origins some active tenant allows (found) or none does (missing). */
  readonly #preflights: LookupCache<true>;
  readonly #replacing = new Map<string, Promise<string[]>>();
  /** Bumped by each `forgetTenant`: a read begun before it is not cached. */
  #generation = 0;

  constructor(options: CorsSettingsOptions) {
    this.#options = options;
    this.#preflights = new LookupCache({
      ttlMs: options.ttlMs,
      foundMax: options.cacheMax,
      missingMax: options.missesMax,
    });
  }

  /** The tenant's allowed origins, sorted. */
  origins(context: TenantContext): Promise<string[]> {
    return this.#options.store.listOrigins(context.tenantId);
  }

  /**
   * Replaces the tenant's list: validated whole (each bad origin named), stored, and recorded
   * in the tenant's ledger as `settings.cors.update`.
   */
  async replace(context: TenantContext, origins: readonly string[]): Promise<string[]> {
    const problems = origins.flatMap((origin, index) => {
      const problem = originProblem(origin);
      return problem === undefined ? [] : [{ path: `/body/origins/${index}`, message: problem }];
    });
    if (problems.length > 0)
      throw new PalisadeError(
        'PALISADE_INVALID_REQUEST',
        `${problems[0]!.path} ${problems[0]!.message}`,
        problems,
      );
    if (origins.length > this.#options.maxOrigins)
      throw new PalisadeError(
        'PALISADE_INVALID_REQUEST',
        `/body/origins has more than ${this.#options.maxOrigins} origins (the corsMaxOrigins setting)`,
      );
    const sorted = [...new Set(origins)].sort();
    const { tenantId } = context;
    // One replacement of a tenant's list at a time here, so the list a failed one restores is
    // the one it replaced, not a later one's.
    const run = (this.#replacing.get(tenantId) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.#replace(context, sorted));
    this.#replacing.set(tenantId, run);
    try {
      return await run;
    } finally {
      if (this.#replacing.get(tenantId) === run) this.#replacing.delete(tenantId);
    }
  }

  /**
   * The list lives in the control plane, the entry in the tenant's ledger. Writing the list
   * inside the ledger transaction means a failed write leaves no entry behind; when the
   * tenant's commit fails after the list was written, the previous list is put back.
   */
  async #replace(context: TenantContext, sorted: string[]): Promise<string[]> {
    const { store } = this.#options;
    const previous = await store.listOrigins(context.tenantId);
    try {
      await this.#options.committer.submit(
        await this.#options.locate(context),
        async (_tx, record) => {
          await store.replaceOrigins(context.tenantId, sorted);
          record({
            actor: context.actor.id,
            action: 'settings.cors.update',
            resource: 'settings/cors',
            state: { origins: sorted },
          });
        },
      );
    } catch (error) {
      await store
        .replaceOrigins(context.tenantId, previous)
        .catch((restoreError: unknown) =>
          this.#options.logger.error(
            { err: restoreError, tenantId: context.tenantId },
            'cors: restoring the allow-list after a failed ledger commit failed; it is not what the ledger records',
          ),
        );
      throw error;
    } finally {
      this.#lists.delete(context.tenantId);
      this.#preflights.clear();
    }
    return sorted;
  }

  /**
   * Whether the tenant allows `origin`: a boolean when the list is cached (the common case,
   * no promise), else a promise of it.
   */
  allows(context: TenantContext, origin: string): boolean | Promise<boolean> {
    const now = Date.now();
    const cached = this.#lists.get(context.tenantId);
    if (cached !== undefined && cached.expires > now) return cached.value.has(origin);
    const generation = this.#generation;
    return this.#options.store.listOrigins(context.tenantId).then((origins) => {
      const value = new Set(origins);
      if (generation === this.#generation)
        setNewest(
          this.#lists,
          context.tenantId,
          { value, expires: now + this.#options.ttlMs },
          this.#options.cacheMax,
        );
      return value.has(origin);
    });
  }

  /** Whether some active tenant allows `origin`: what a preflight, which names no tenant, can answer. */
  async anyAllows(origin: string): Promise<boolean> {
    const now = Date.now();
    const cached = this.#preflights.get(origin, now);
    if (cached !== undefined) return cached.value === true;
    const generation = this.#generation;
    const value =
      originProblem(origin) === undefined && (await this.#options.store.anyAllows(origin));
    if (generation === this.#generation)
      this.#preflights.set(origin, value ? true : undefined, now);
    return value;
  }

  /** Tenants whose allow-lists are cached now. */
  get tenantsHeld(): number {
    return this.#lists.size;
  }

  /**
   * Forgets the tenant's cached list and every cached preflight answer (a preflight is
   * answered from what all active tenants allow): the tenant was deleted, suspended or resumed.
   */
  forgetTenant(tenantId: string): void {
    this.#generation++;
    this.#lists.delete(tenantId);
    this.#preflights.clear();
  }
}
