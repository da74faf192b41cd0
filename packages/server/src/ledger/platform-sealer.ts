import { appendLeaves, formatCheckpoint, signNote, treeRoot, utf8 } from '@palisade/ledger';
import { nodeHasher } from '@palisade/ledger/node';
import type { Logger } from 'pino';
import { PalisadeError } from '../errors/index.ts';
import type { PlatformCheckpointRow, SealedTenantCheckpoint, Stores } from '../store/index.ts';
import type { PlatformLedgerKeys } from './ledger-keys.ts';
import type { WitnessPool } from './witness-client.ts';

/** A tenant deleted since its row was read has nothing to seal; other failures stop the seal. */
function skipDropped(error: unknown): undefined {
  if (error instanceof PalisadeError && error.code === 'PALISADE_TENANT_DELETED') return undefined;
  throw error;
}

/** The origin of a tenant's log checkpoints under a platform origin. */
export function tenantOrigin(platformOrigin: string, tenantId: string): string {
  return `${platformOrigin}/tenant/${tenantId}`;
}

export interface PlatformSealerOptions {
  readonly stores: Stores;
  readonly keys: PlatformLedgerKeys;
  readonly witnesses: WitnessPool;
  readonly intervalMs: number;
  readonly logger: Logger;
  /** Told the tenant checkpoints of each seal once they are stored (the bus publishes them). */
  readonly onSealed?: (leaves: readonly SealedTenantCheckpoint[]) => void;
}

/**
 * Seals the platform log: on every interval, each tenant whose log grew gets a new signed
 * checkpoint, the checkpoints become leaves of the platform log, and the platform checkpoint
 * is signed Ed25519 + ML-DSA-44 and sent to the witnesses for cosignatures. Tenants are
 * marked dirty by the group commit after each durable batch; a start marks all of them.
 */
export class PlatformSealer {
  readonly #options: PlatformSealerOptions;
  readonly #dirty = new Set<string>();
  #sealedSizes: Map<string, number> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<PlatformCheckpointRow | undefined> = Promise.resolve(undefined);

  constructor(options: PlatformSealerOptions) {
    this.#options = options;
  }

  markDirty(tenantId: string): void {
    this.#dirty.add(tenantId);
  }

  /**
   * Marks every live tenant dirty (seal skips the unchanged) and starts the interval. A
   * sealer stopped and started again (a worker that regained the sealer lease) re-reads what
   * others sealed meanwhile.
   */
  async start(): Promise<void> {
    this.#sealedSizes = undefined;
    await this.markAllDirty();
    this.#timer = setInterval(() => void this.seal(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Marks every live tenant dirty: the next seal checks each one's log head. */
  async markAllDirty(): Promise<void> {
    const { controlPlane } = this.#options.stores;
    let after: string | undefined;
    for (;;) {
      const page = await controlPlane.listTenants({ after, limit: 1000 });
      for (const tenant of page) if (tenant.status !== 'deleted') this.#dirty.add(tenant.id);
      if (page.length < 1000) break;
      after = page.at(-1)!.id;
    }
  }

  /** Seals now (after any seal in progress); resolves with the new checkpoint, if any. */
  seal(): Promise<PlatformCheckpointRow | undefined> {
    this.#running = this.#running.then(
      () => this.#seal(),
      () => this.#seal(),
    );
    return this.#running;
  }

  /** Stops the interval and waits for the seal in progress. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running.catch(() => undefined);
  }

  async #seal(): Promise<PlatformCheckpointRow | undefined> {
    if (this.#dirty.size === 0) return undefined;
    const tenants = [...this.#dirty];
    this.#dirty.clear();
    try {
      return await this.#sealTenants(tenants);
    } catch (error) {
      for (const id of tenants) this.#dirty.add(id);
      this.#options.logger.error(
        { err: error },
        'sealing the platform log failed; retrying at the next interval',
      );
      return undefined;
    }
  }

  async #sealTenants(tenantIds: readonly string[]): Promise<PlatformCheckpointRow | undefined> {
    const { stores, keys } = this.#options;
    this.#sealedSizes ??= await stores.platformLog.sealedTenantSizes();
    const start = await stores.platformLog.size();
    const leaves: SealedTenantCheckpoint[] = [];
    for (const tenantId of tenantIds) {
      const tenant = await stores.controlPlane.getTenant(tenantId);
      const shard =
        tenant === undefined || tenant.status === 'deleted'
          ? undefined
          : stores.shards.get(tenant.shard);
      if (shard === undefined) continue;
      const store = await shard.tenant(tenantId).catch(skipDropped);
      if (store === undefined) continue;
      const { reader } = store;
      const { size } = await reader.ledgerHead();
      if (size === 0 || this.#sealedSizes.get(tenantId) === size) continue;
      const root = await treeRoot(nodeHasher, reader, size);
      const text = formatCheckpoint({
        origin: tenantOrigin(keys.origin, tenantId),
        size,
        root,
        extensions: [],
      });
      const note = await signNote(text, [keys.ed25519]);
      leaves.push({ tenantId, tenantSize: size, text, note, index: start + leaves.length });
    }
    if (leaves.length === 0) return undefined;
    const appended = await appendLeaves(
      nodeHasher,
      stores.platformLog,
      start,
      leaves.map((leaf) => nodeHasher.leafHash(utf8(leaf.text))),
    );
    const text = formatCheckpoint({
      origin: keys.origin,
      size: appended.size,
      root: appended.root,
      extensions: [],
    });
    const checkpoint = {
      size: appended.size,
      note: await signNote(text, [keys.ed25519, keys.mldsa44]),
    };
    await stores.platformLog.appendSeal({ leaves, nodes: appended.nodes, checkpoint });
    for (const leaf of leaves) this.#sealedSizes.set(leaf.tenantId, leaf.tenantSize);
    this.#options.onSealed?.(leaves);
    if (this.#options.witnesses.size === 0) return checkpoint;
    const cosignatures = await this.#options.witnesses.cosign(checkpoint.note, checkpoint.size);
    if (cosignatures.length === 0) return checkpoint;
    const witnessed = { size: checkpoint.size, note: `${checkpoint.note}${cosignatures.join('')}` };
    await stores.platformLog.replaceCheckpointNote(witnessed.size, witnessed.note);
    return witnessed;
  }
}
