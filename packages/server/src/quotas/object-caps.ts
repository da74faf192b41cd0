/**
 * Per-plan caps on how many devices and collections a tenant holds. Unlike the rates, a cap
 * is not kept in memory: the caller counts inside the write transaction that inserts (under
 * the store's per-tenant count lock), so the count is the stored truth on every process and
 * concurrent creations cannot pass the cap together.
 */

import { Counter, type Registry } from 'prom-client';
import { PalisadeError } from '../errors/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import type { PlanLimits } from './plan-limits.ts';

/** What a cap bounds; a closed set, so metric labels stay bounded. */
export type CappedKind = 'devices' | 'collections';

const LIMIT_OF = { devices: 'devicesMax', collections: 'collectionsMax' } as const;

const REMEDY: Record<CappedKind, string> = {
  devices: 'delete devices the tenant no longer uses, or move the tenant to a plan with a higher',
  collections: 'replace an existing collection instead, or move the tenant to a plan with a higher',
};

/** A create past a cap of the tenant's plan: PALISADE_PLAN_LIMIT_REACHED (403), nothing written. */
export class PlanLimitReachedError extends PalisadeError {
  readonly kind: CappedKind;

  constructor(kind: CappedKind, plan: string, count: number, cap: number) {
    const limit = LIMIT_OF[kind];
    super(
      'PALISADE_PLAN_LIMIT_REACHED',
      `the tenant has ${count} ${kind}, the most its plan ${JSON.stringify(plan)} allows (${limit} ${cap}); ${REMEDY[kind]} ${limit}`,
      [{ path: '', message: limit }],
    );
    this.kind = kind;
  }
}

export interface ObjectCapOptions {
  /** The limits of a plan (see `planLimits`). */
  readonly limitsOf: (plan: string) => PlanLimits;
  readonly metrics?: Registry | undefined;
}

/** Checks creations against the caps of the tenant's plan and counts the refusals by kind. */
export class ObjectCaps {
  readonly #limitsOf: (plan: string) => PlanLimits;
  readonly #refusals: Record<CappedKind, { inc(): void }>;

  constructor(options: ObjectCapOptions) {
    this.#limitsOf = options.limitsOf;
    const counter = new Counter({
      name: 'palisade_plan_limit_refusals_total',
      help: 'Creations refused over a cap of the plan (devicesMax, collectionsMax), by what was capped',
      labelNames: ['kind'] as const,
      registers: options.metrics === undefined ? [] : [options.metrics],
    });
    const child = (kind: CappedKind) => {
      counter.inc({ kind }, 0);
      return counter.labels({ kind });
    };
    this.#refusals = { devices: child('devices'), collections: child('collections') };
  }

  /** The cap of `kind` on the tenant's plan; 0 is unlimited. */
  capOf(context: TenantContext, kind: CappedKind): number {
    return this.#limitsOf(context.tenant.plan)[LIMIT_OF[kind]];
  }

  /**
   * Throws PlanLimitReachedError (and counts the refusal) when a tenant holding `count` of
   * `kind` may not create one more; `count` must have been taken under the store's count lock.
   */
  check(context: TenantContext, kind: CappedKind, count: number): void {
    const cap = this.capOf(context, kind);
    if (cap === 0 || count < cap) return;
    this.#refusals[kind].inc();
    throw new PlanLimitReachedError(kind, context.tenant.plan, count, cap);
  }

  /**
   * Call inside the write transaction, before inserting one more of `kind`: when the plan
   * caps it, `count` (which must take the store's count lock) is asked and checked. An
   * unlimited plan neither counts nor locks.
   */
  async admit(
    context: TenantContext,
    kind: CappedKind,
    count: () => Promise<number>,
  ): Promise<void> {
    if (this.capOf(context, kind) === 0) return;
    this.check(context, kind, await count());
  }
}
