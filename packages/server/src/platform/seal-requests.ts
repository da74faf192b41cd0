import type { InternalChannel } from '../internal/index.ts';
import type { PlatformSealer } from '../ledger/index.ts';

/**
 * How a process tells the platform sealer about its commits. Embedded, the sealer is in this
 * process. In scale-out it is in whichever worker holds the sealer lease: commits become
 * `ledger.dirty` notices (the tenants of one event-loop turn in one message), and a proof
 * that needs a fresh checkpoint asks with `ledger.seal` and waits for the answer.
 */
export class SealRequests {
  readonly #sealer: PlatformSealer;
  readonly #channel: InternalChannel | undefined;
  #pending: Set<string> | undefined;

  constructor(sealer: PlatformSealer, channel: InternalChannel | undefined) {
    this.#sealer = sealer;
    this.#channel = channel;
  }

  /** The tenant committed a batch. */
  dirty(tenantId: string): void {
    const channel = this.#channel;
    if (channel === undefined) {
      this.#sealer.markDirty(tenantId);
      return;
    }
    if (this.#pending !== undefined) {
      this.#pending.add(tenantId);
      return;
    }
    const pending = new Set([tenantId]);
    this.#pending = pending;
    setImmediate(() => {
      this.#pending = undefined;
      void channel.publish('ledger.dirty', [], { tenantIds: [...pending] }).catch(() => undefined);
    });
  }

  /** Seals the tenant now; in scale-out, resolves once the sealer answered or the wait ran out. */
  async ensureSealed(tenantId: string): Promise<void> {
    if (this.#channel === undefined) {
      this.#sealer.markDirty(tenantId);
      await this.#sealer.seal();
      return;
    }
    await this.#channel.request('ledger.seal', [], { tenantId });
  }
}
