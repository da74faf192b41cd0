import type { Logger } from 'pino';
import type { TelemetryRetention } from '../devices/index.ts';
import { isUuid } from '../ids/index.ts';
import type { InternalChannel } from '../internal/index.ts';
import type { KeyRotation } from '../keys/index.ts';
import type { PlatformSealer } from '../ledger/index.ts';
import type { ControlPlaneStore } from '../store/index.ts';
import type { Lease, Leases } from './leases.ts';

/** The lease of the worker that seals the platform log, relays to the bus and runs retention. */
const LEADER_LEASE = 'platform-worker';

export interface WorkerRoleOptions {
  readonly sealer: PlatformSealer;
  readonly retention: TelemetryRetention;
  readonly rotation: KeyRotation;
  readonly leases: Leases;
  /** Scale-out: notices and requests from the other processes. */
  readonly channel: InternalChannel | undefined;
  /**
   * Scale-out: the bus relay, run by the leader for the commits of every process (they
   * arrive as `ledger.dirty` notices). Embedded, the relay follows the local commits instead.
   */
  readonly relay?: { markDirty(tenantId: string): void; catchUp(): Promise<void> } | undefined;
  readonly controlPlane: ControlPlaneStore;
  /** How often a standby worker tries to take the lead (the seal interval). */
  readonly intervalMs: number;
  readonly logger: Logger;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/**
 * The background jobs. Singletons — the platform sealer (the one writer of the platform log),
 * the bus relay (scale-out) and telemetry retention — run only in the worker holding the leader lease; the others
 * stand by and try again every interval, so a crashed leader's lease (its PostgreSQL session)
 * passes on. Even during a hand-over two sealers cannot fork the log: a seal appends at
 * leaf indexes that are primary keys, so the later one fails and retries. Key jobs run in any
 * worker under a per-tenant lease.
 */
export class WorkerRole {
  readonly #o: WorkerRoleOptions;
  readonly #unsubscribe: (() => void)[] = [];
  #lease: Lease | undefined;
  #unserveSeal: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: WorkerRoleOptions) {
    this.#o = options;
  }

  /** Takes the lead if free, listens for notices, resumes unfinished key jobs. */
  async start(): Promise<void> {
    const { channel, sealer, rotation, controlPlane, logger } = this.#o;
    if (channel !== undefined) {
      this.#unsubscribe.push(
        channel.subscribe('ledger.dirty', [], (payload) => {
          for (const id of strings((payload as { tenantIds?: unknown } | null)?.tenantIds)) {
            sealer.markDirty(id);
            if (this.leading) this.#o.relay?.markDirty(id);
          }
        }),
        channel.subscribe('keys.job', [], async (payload) => {
          const { tenantId, jobId } = (payload ?? {}) as { tenantId?: unknown; jobId?: unknown };
          if (typeof tenantId !== 'string' || typeof jobId !== 'string' || !isUuid(jobId)) return;
          const tenant = await controlPlane.getTenant(tenantId);
          if (tenant !== undefined && tenant.status !== 'deleted') rotation.kick(tenant, jobId);
        }),
      );
    }
    // `ledger.dirty` notices missed while disconnected: the leader checks every tenant.
    channel?.onReconnect(() => {
      if (!this.leading) return;
      sealer
        .markAllDirty()
        .catch((error: unknown) =>
          logger.warn({ err: error }, 'worker: re-marking tenants failed'),
        );
      this.#catchUp();
    });
    await this.#lead();
    this.#timer = setInterval(() => {
      this.#tick = this.#tick
        .then(() => this.#lead())
        .catch((error: unknown) =>
          logger.warn({ err: error }, 'worker: taking the lead failed; retrying'),
        );
    }, this.#o.intervalMs);
    this.#timer.unref();
    rotation
      .resumePending((id) => controlPlane.getTenant(id))
      .catch((error: unknown) =>
        logger.warn({ code: (error as { code?: unknown }).code }, 'key jobs not resumed'),
      );
  }

  /** True while this process seals the platform log. */
  get leading(): boolean {
    return this.#lease !== undefined && !this.#lease.lost;
  }

  /** Stops the jobs; the leader seals what is committed, then hands the lease back. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#tick;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    await this.#o.retention.stop();
    await this.#o.rotation.stop();
    if (this.leading) await this.#o.sealer.seal();
    await this.#resign();
  }

  async #lead(): Promise<void> {
    if (this.#stopped) return;
    if (this.#lease?.lost === true) {
      this.#o.logger.warn('worker: lost the leader lease; the sealer stops here');
      await this.#resign();
    }
    if (this.#lease !== undefined) return;
    const lease = await this.#o.leases.tryAcquire(LEADER_LEASE).catch((error: unknown) => {
      this.#o.logger.warn({ err: error }, 'worker: leader lease unavailable');
      return undefined;
    });
    if (lease === undefined) return;
    const { sealer, channel } = this.#o;
    try {
      await sealer.start();
    } catch (error) {
      await lease.release();
      throw error;
    }
    this.#lease = lease;
    this.#catchUp();
    this.#o.retention.start();
    this.#unserveSeal = channel?.subscribe(
      'ledger.seal',
      [],
      async (payload) => {
        const tenantId = (payload as { tenantId?: unknown } | null)?.tenantId;
        if (typeof tenantId === 'string') sealer.markDirty(tenantId);
        await sealer.seal();
        return { sealed: true };
      },
      { queue: 'sealer' },
    );
    this.#o.logger.info('worker: leading (platform sealer, bus relay, telemetry retention)');
  }

  /** The relay publishes what every tenant committed since its cursor. */
  #catchUp(): void {
    this.#o.relay
      ?.catchUp()
      .catch((error: unknown) =>
        this.#o.logger.warn({ err: error }, 'bus: catching up the relay failed'),
      );
  }

  async #resign(): Promise<void> {
    this.#unserveSeal?.();
    this.#unserveSeal = undefined;
    await this.#o.sealer.stop();
    await this.#o.retention.stop();
    await this.#lease?.release();
    this.#lease = undefined;
  }
}
