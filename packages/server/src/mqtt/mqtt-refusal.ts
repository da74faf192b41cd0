import { PalisadeError } from '../errors/index.ts';
import type { RefusalReason } from './mqtt-metrics.ts';

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
        error.code === 'PALISADE_QUOTA_EXCEEDED'
          ? 'quota_exceeded'
          : error.status < 500
            ? 'invalid_payload'
            : 'ingest_failed';
      return new MqttRefusal(reason, error.message, error.code);
    }
    return new MqttRefusal('ingest_failed', 'ingestion failed');
  }
}
