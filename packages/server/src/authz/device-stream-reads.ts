import { andThen, type MaybePromise } from '../maybe-promise/index.ts';

/** Most devices whose decisions one stream keeps; past it they are all made again. */
const STREAM_DEVICES_MAX = 10_000;

/**
 * A permission of one principal on each device a long-lived stream carries, and on the stream
 * itself (its one device, or `*`), decided once per device and policy state: `current` gives
 * the tenant's policy state (a new object every time it is loaded, null when the tenant has
 * none), and a new one, whether the policies changed in this process or were read again once
 * their cache time passed, drops every decision kept under the old. Without policies nothing
 * is kept: `decide` answers without Cedar.
 */
export class DeviceStreamReads<State extends object> {
  readonly #current: () => MaybePromise<State | null>;
  readonly #decide: (state: State | null, deviceId: string) => MaybePromise<boolean>;
  readonly #stream: string;
  #state: State | null = null;
  readonly #decisions = new Map<string, MaybePromise<boolean>>();

  /** `stream`: the resource the stream itself acts on, its one device's id or `*`. */
  constructor(
    current: () => MaybePromise<State | null>,
    decide: (state: State | null, deviceId: string) => MaybePromise<boolean>,
    stream: string,
  ) {
    this.#current = current;
    this.#decide = decide;
    this.#stream = stream;
  }

  /** Whether the principal may still have the stream itself, as when it was opened. */
  allowsStream(): MaybePromise<boolean> {
    return this.allows(this.#stream);
  }

  /** Whether the principal may have what the stream carries of the device. */
  allows(deviceId: string): MaybePromise<boolean> {
    return andThen(this.#current(), (state) => {
      if (state === null) return this.#decide(state, deviceId);
      if (state !== this.#state || this.#decisions.size >= STREAM_DEVICES_MAX) {
        this.#state = state;
        this.#decisions.clear();
      }
      let decision = this.#decisions.get(deviceId);
      if (decision === undefined) {
        decision = this.#decide(state, deviceId);
        this.#decisions.set(deviceId, decision);
        if (decision instanceof Promise)
          decision.then(
            (settled) => {
              if (this.#state === state) this.#decisions.set(deviceId, settled);
            },
            () => {
              if (this.#state === state) this.#decisions.delete(deviceId);
            },
          );
      }
      return decision;
    });
  }
}
