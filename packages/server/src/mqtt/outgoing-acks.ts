/**
 * The QoS 1 messages the listener sent to one connection and the device has not acknowledged
 * yet. The listener numbers them itself (MQTT 3.1.1 §2.3.1: an identifier stays taken until
 * its PUBACK), so that a PUBACK names the message it acknowledges: aedes tells of a PUBACK
 * with the packet it stored for it, which a clean session has none of.
 */
import type { Aedes, Client } from 'aedes';

/** The largest MQTT packet identifier; 0 is not one. */
const MAX_ID = 65_535;

export class OutgoingAcks {
  /** Identifiers in flight, each with what waits for its PUBACK, if anything does. */
  readonly #inFlight = new Map<number, ((acknowledged: boolean) => void) | undefined>();
  #next = 1;
  #ended = false;

  /** A free identifier, taken until acknowledged; undefined once the connection ended, or all are taken. */
  take(): number | undefined {
    if (this.#ended || this.#inFlight.size === MAX_ID) return undefined;
    while (this.#inFlight.has(this.#next)) this.#next = (this.#next % MAX_ID) + 1;
    const id = this.#next;
    this.#next = (id % MAX_ID) + 1;
    this.#inFlight.set(id, undefined);
    return id;
  }

  /**
   * True once `id` is acknowledged; false when the connection ends first, or `withinMs`
   * passes (the identifier stays taken: a PUBACK may still come for it).
   */
  acknowledged(id: number, withinMs: number): Promise<boolean> {
    if (!this.#inFlight.has(id)) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.#inFlight.get(id) !== settle) return;
        this.#inFlight.set(id, undefined);
        resolve(false);
      }, withinMs).unref();
      const settle = (acknowledged: boolean) => {
        clearTimeout(timer);
        resolve(acknowledged);
      };
      this.#inFlight.set(id, settle);
    });
  }

  /** The device acknowledged `id` (PUBACK): the identifier is free again. */
  acknowledge(id: number): void {
    const settle = this.#inFlight.get(id);
    if (!this.#inFlight.delete(id)) return;
    settle?.(true);
  }

  /** The message `id` was not sent after all: the identifier is free again. */
  release(id: number): void {
    const settle = this.#inFlight.get(id);
    this.#inFlight.delete(id);
    settle?.(false);
  }

  /** The connection ended: nothing more is acknowledged. */
  end(): void {
    this.#ended = true;
    const waiting = [...this.#inFlight.values()];
    this.#inFlight.clear();
    for (const settle of waiting) settle?.(false);
  }
}

/** The part of aedes' session store a PUBACK reaches, with the packet as received. */
interface OutgoingStore {
  outgoingClearMessageId(
    client: Client,
    packet: { cmd?: string; messageId?: number },
    ...rest: unknown[]
  ): unknown;
}

/**
 * Calls `acknowledged` for each PUBACK a client sends, before aedes clears the message. aedes
 * hands every PUBACK to its store's `outgoingClearMessageId` (lib/handlers/puback.js); its
 * other calls there carry the stored PUBLISH, never a PUBACK. Call once the broker listens:
 * its store is made then.
 */
export function onPuback(
  broker: Aedes,
  acknowledged: (client: Client, messageId: number) => void,
): void {
  const store = (broker as unknown as { persistence: OutgoingStore }).persistence;
  const clear = store.outgoingClearMessageId.bind(store);
  store.outgoingClearMessageId = (client, packet, ...rest) => {
    if (packet.cmd === 'puback' && packet.messageId !== undefined)
      acknowledged(client, packet.messageId);
    return clear(client, packet, ...rest);
  };
}
