/**
 * The closed list of bus error codes. The bus is an internal API (never an HTTP answer), so
 * these are not problem+json codes; callers branch on `code`.
 *
 * - `PALISADE_BUS_INVALID_SUBJECT`: a kind outside `BUS_KINDS`, or a key token that is empty,
 *   too long, or has a character outside `[A-Za-z0-9_:%=-]` (dots, wildcards, whitespace…).
 * - `PALISADE_BUS_INVALID_NAME`: a durable name or message id that is not well-formed.
 * - `PALISADE_BUS_INVALID_PAYLOAD`: a payload that is not JSON or exceeds `busMaxPayload`.
 * - `PALISADE_BUS_CONSUMER_CONFLICT`: a durable consumer exists with another filter.
 * - `PALISADE_BUS_UNAVAILABLE`: the bus is closed, or NATS did not accept the message.
 */
export type BusErrorCode =
  | 'PALISADE_BUS_INVALID_SUBJECT'
  | 'PALISADE_BUS_INVALID_NAME'
  | 'PALISADE_BUS_INVALID_PAYLOAD'
  | 'PALISADE_BUS_CONSUMER_CONFLICT'
  | 'PALISADE_BUS_UNAVAILABLE';

/** What every bus implementation throws on purpose. */
export class BusError extends Error {
  readonly code: BusErrorCode;

  constructor(code: BusErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BusError';
    this.code = code;
  }
}
