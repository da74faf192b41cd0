import { PalisadeError } from '../errors/index.ts';
import type { RefusalReason } from './mqtt-metrics.ts';

/** Error codes of ingestion with a refusal reason of their own. */
const REASON_OF_CODE: ReadonlyMap<string, RefusalReason> = new Map([
  ['PALISADE_QUOTA_EXCEEDED', 'quota_exceeded'],
  ['PALISADE_GATEWAY_CHILDREN_LIMIT', 'gateway_children_limit'],
  ['PALISADE_PLAN_LIMIT_REACHED', 'plan_limit_reached'],
]);

/** Something the listener refused; the reason is what metrics and logs report. */
export class MqttRefusal extends Error {
  readonly reason: RefusalReason;
  /** The PalisadeError code behind an ingestion refusal, or `none`. */
  readonly code: string;

  constructor(reason: RefusalReason, detail: string, code = 'none') {
    super(detail);
    this.name = 'MqttRefusal';
    this.reason = reason;
    this.code = code;
  }

  /** Classifies what ingestion threw: the caller's fault (4xx) or the server's. */
  static fromIngest(error: unknown): MqttRefusal {
    if (error instanceof MqttRefusal) return error;
    if (error instanceof PalisadeError) {
      const reason =
        REASON_OF_CODE.get(error.code) ??
        (error.status < 500 ? 'invalid_payload' : 'ingest_failed');
      return new MqttRefusal(reason, error.message, error.code);
    }
    return new MqttRefusal('ingest_failed', 'ingestion failed');
  }
}
