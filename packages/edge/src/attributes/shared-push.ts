import { isDeepStrictEqual } from 'node:util';
import type { Attributes, SharedAttributeCopy } from './shared-copy.ts';

/**
 * Sends `body` on `v1/devices/me/attributes` to the device's subscribed connections; resolves
 * with how many got it.
 */
export type SendAttributes = (deviceId: string, body: Record<string, unknown>) => Promise<number>;

/**
 * Brings each device up to date with the node's copy of its shared attributes, as the
 * platform pushes them to a device connected there: the keys set or changed, then
 * `{"deleted": [...]}` for the keys removed, each only when there is one. What a device was
 * last sent is remembered while the node runs; a subscription to its attributes forgets it,
 * so a device hears its current attributes whenever it (re)subscribes (firmware that never
 * asks for them still starts from the node's values), then each change. A device not connected or not subscribed gets
 * nothing, and hears it all at its next subscription.
 */
export class SharedAttributePush {
  readonly #copy: SharedAttributeCopy;
  readonly #failed: (deviceId: string, error: unknown) => void;
  readonly #sent = new Map<string, Attributes>();
  /** The push in progress per device; the next one waits for it. */
  readonly #pushing = new Map<string, Promise<void>>();
  #send: SendAttributes = async () => 0;

  constructor(copy: SharedAttributeCopy, failed: (deviceId: string, error: unknown) => void) {
    this.#copy = copy;
    this.#failed = failed;
  }

  /** Pushes through the running listener. */
  connect(send: SendAttributes): void {
    this.#send = send;
  }

  /** A connection of the device subscribed to its attributes: it hears all of them. */
  subscribed(deviceId: string): Promise<void> {
    this.#sent.delete(deviceId);
    return this.converge(deviceId);
  }

  /** Sends the device what changed in the copy since it was last sent its attributes. */
  converge(deviceId: string): Promise<void> {
    const pushed = (this.#pushing.get(deviceId) ?? Promise.resolve())
      .then(() => this.#pushNow(deviceId))
      .catch((error: unknown) => this.#failed(deviceId, error));
    this.#pushing.set(deviceId, pushed);
    void pushed.finally(() => {
      if (this.#pushing.get(deviceId) === pushed) this.#pushing.delete(deviceId);
    });
    return pushed;
  }

  async #pushNow(deviceId: string): Promise<void> {
    const now = this.#copy.get(deviceId);
    if (now === undefined) {
      this.#sent.delete(deviceId);
      return;
    }
    const before = this.#sent.get(deviceId) ?? {};
    const changed = Object.fromEntries(
      Object.entries(now).filter(
        ([key, value]) => !Object.hasOwn(before, key) || !isDeepStrictEqual(before[key], value),
      ),
    );
    const deleted = Object.keys(before).filter((key) => !Object.hasOwn(now, key));
    if (Object.keys(changed).length > 0 && (await this.#send(deviceId, changed)) === 0) return;
    if (deleted.length > 0 && (await this.#send(deviceId, { deleted })) === 0) return;
    this.#sent.set(deviceId, now);
  }
}
