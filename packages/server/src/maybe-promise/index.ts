/**
 * A value at hand, or a promise of it: what a lookup returns when it is usually answered from
 * a cache. Answering a hit without a promise keeps the request in the same tick; on the
 * gateway's authentication path that saved about 2 µs of a small request's 50.
 */
export type MaybePromise<T> = T | Promise<T>;

/** `next(value)`: at once when `value` is at hand, else once it resolves. */
export function andThen<T, U>(
  value: MaybePromise<T>,
  next: (value: T) => MaybePromise<U>,
): MaybePromise<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/** A cached promise that, once fulfilled, also gives its value at once. */
export class Settling<T> {
  readonly promise: Promise<T>;
  #fulfilled: { readonly value: T } | undefined;

  constructor(promise: Promise<T>) {
    this.promise = promise;
    // A rejection is the owner's to handle, through `promise`.
    promise.then(
      (value) => {
        this.#fulfilled = { value };
      },
      () => undefined,
    );
  }

  /** The value once fulfilled; until then, or after a rejection, the promise. */
  get current(): MaybePromise<T> {
    return this.#fulfilled === undefined ? this.promise : this.#fulfilled.value;
  }
}
