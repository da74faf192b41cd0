import type { PublishKind } from './topics.ts';

/** Why the listener refused something (a metric label and a log field). */
export type RefusalReason =
  | 'protocol_unsupported'
  | 'packet_too_large'
  | 'malformed_packet'
  | 'bad_credentials'
  | 'topic_not_allowed'
  | 'subscription_not_allowed'
  | 'invalid_payload'
  | 'outbox_full'
  | 'accept_failed';

/** A refusal; aedes closes the connection on it, so a QoS 1 message gets no PUBACK. */
export class Refusal extends Error {
  readonly reason: RefusalReason;
  constructor(reason: RefusalReason, detail: string) {
    super(detail);
    this.name = 'Refusal';
    this.reason = reason;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The payload as JSON of the shape its topic takes: telemetry an object or a non-empty array
 * of objects, attributes an object. Keys, values and timestamps are the platform's to check
 * (its limits are its own); it refuses a bad one by index in the batch answer.
 */
export function decodeMessage(kind: PublishKind, payload: Uint8Array): unknown {
  let body: unknown;
  try {
    body = JSON.parse(utf8.decode(payload));
  } catch {
    throw new Refusal('invalid_payload', 'the payload is not UTF-8 JSON');
  }
  const fits =
    kind === 'attributes'
      ? isObject(body)
      : isObject(body) || (Array.isArray(body) && body.length > 0 && body.every(isObject));
  if (!fits)
    throw new Refusal(
      'invalid_payload',
      kind === 'attributes'
        ? 'attributes must be a JSON object'
        : 'telemetry must be a JSON object or a non-empty array of objects',
    );
  return body;
}
