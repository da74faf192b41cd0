/**
 * A deleted tenant's traces outside its store and keys, and every process's part in removing
 * them. The process that deletes ends the tenant's connections and caches at once and tells
 * the others (`tenant.deleted` on the internal channel; `tenant.changed` for a suspension,
 * resumption or plan change, which only drops caches), each of which does the same for
 * what it holds: MQTT connections and the broker's kept sessions, live telemetry streams,
 * cached credentials, rate buckets and other per-tenant memory (TenantMemory), its relay cursor, and anything of the tenant it may still have put
 * on the bus. Once the tenant's data is gone the deleting process erases it from the bus
 * once more, which catches a publish another process had under way when the notice came.
 */
import type { Logger } from 'pino';
import type { LedgerRelay, PlatformBus } from '../bus/index.ts';
import type { TenantErasure } from '../control/index.ts';
import type { LiveStreams } from '../devices/index.ts';
import type { InternalChannel } from '../internal/index.ts';
import type { MqttListener } from '../mqtt/index.ts';
import type { Tenant } from '../tenancy/index.ts';
import type { ForgottenTenant, TenantMemory } from './tenant-memory.ts';

/** What a process holds of tenants, and how it forgets one. */
export interface ErasureParts {
  /** Drops this process's cached credentials, issuers and roles of one tenant. */
  readonly forgetCached: (tenantId: string) => void;
  /** Its other per-tenant state: rate buckets, usage, DPoP proofs, CORS lists… */
  readonly memory: TenantMemory;
  readonly liveStreams: LiveStreams;
  readonly mqtt: () => MqttListener | undefined;
  readonly relay: LedgerRelay;
  readonly bus: PlatformBus;
  readonly channel: InternalChannel | undefined;
  readonly logger: Logger;
}

/** This process's part in deleting tenants, and the deleting process's tell to the others. */
export class PlatformErasure implements TenantErasure {
  readonly #parts: ErasureParts;

  constructor(parts: ErasureParts) {
    this.#parts = parts;
  }

  /** Acts on the other processes' notices until the returned function is called. */
  listen(): (() => void) | undefined {
    const { channel } = this.#parts;
    const stopDeleted = channel?.subscribe('tenant.deleted', [], async (payload) => {
      const { tenantId, slug } = payload as { tenantId?: unknown; slug?: unknown };
      if (typeof tenantId !== 'string') return;
      const tenant = { id: tenantId, slug: typeof slug === 'string' ? slug : undefined };
      await this.forget(tenant).catch((error: unknown) =>
        this.#parts.logger.warn(
          { err: error, tenantId },
          'tenant deletion: this process could not forget the deleted tenant',
        ),
      );
    });
    const stopChanged = channel?.subscribe('tenant.changed', [], (payload) => {
      const { tenantId } = payload as { tenantId?: unknown };
      if (typeof tenantId === 'string') this.#forgetChanged(tenantId);
    });
    return () => {
      stopDeleted?.();
      stopChanged?.();
    };
  }

  /** Forgets the tenant's cached state here and tells the other processes to do the same. */
  async changed(tenant: Tenant): Promise<void> {
    this.#forgetChanged(tenant.id);
    await this.#parts.channel
      ?.publish('tenant.changed', [], { tenantId: tenant.id })
      .catch((error: unknown) =>
        this.#parts.logger.warn(
          { err: error, tenantId: tenant.id },
          'tenant change: telling the other processes failed; their caches of it expire',
        ),
      );
  }

  #forgetChanged(tenantId: string): void {
    this.#parts.forgetCached(tenantId);
    this.#parts.memory.changed(tenantId);
  }

  /**
   * Forgets the tenant here: connections, streams, caches, per-tenant memory, relay cursor,
   * bus messages.
   */
  async forget(tenant: ForgottenTenant): Promise<void> {
    await this.#disconnectHere(tenant);
    await this.#parts.bus.eraseTenant(tenant.id);
  }

  async #disconnectHere(tenant: ForgottenTenant): Promise<void> {
    this.#parts.forgetCached(tenant.id);
    this.#parts.memory.deleted(tenant);
    this.#parts.liveStreams.endTenant(tenant.id);
    await this.#parts.mqtt()?.closeTenant(tenant.id);
    this.#parts.relay.forget(tenant.id);
  }

  /** Ends the tenant's connections here and tells the other processes; `erase` does the bus. */
  async disconnect(tenant: Tenant): Promise<void> {
    await this.#disconnectHere(tenant);
    await this.#parts.channel
      ?.publish('tenant.deleted', [], { tenantId: tenant.id, slug: tenant.slug })
      .catch((error: unknown) =>
        this.#parts.logger.warn(
          { err: error, tenantId: tenant.id },
          'tenant deletion: telling the other processes failed; their connections of it end at their next message',
        ),
      );
  }

  async erase(tenant: Tenant): Promise<void> {
    this.#parts.relay.forget(tenant.id);
    await this.#parts.bus.eraseTenant(tenant.id);
  }
}
