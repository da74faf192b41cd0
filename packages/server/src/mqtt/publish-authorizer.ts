import type { Aedes, Client, PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import { andThen } from '../maybe-promise/index.ts';
import { handleDevicePublish, type PublishDeps } from './device-publish.ts';
import type { DeviceSession } from './device-session.ts';
import type { IngestGate } from './ingest-gate.ts';
import type { MqttMetrics } from './mqtt-metrics.ts';
import { MqttRefusal } from './mqtt-refusal.ts';
import { acknowledge } from './puback.ts';
import type { SessionTable } from './session-table.ts';
import { type PublishRoute, routePublish } from './topics.ts';

/** Where accepted device messages are re-aimed: a `$` topic no device may subscribe to. */
export const ACCEPTED_SINK = '$palisade/accepted';

/** The part of aedes' persistence that holds received QoS 2 messages until their PUBREL. */
interface IncomingPackets {
  incomingGetPacket(client: Client, packet: PublishPacket): Promise<unknown>;
}

/** Re-aims an accepted PUBLISH where aedes routes it nowhere and retains nothing. */
function sinkPacket(packet: PublishPacket): void {
  packet.retain = false;
  packet.topic = ACCEPTED_SINK;
}

/** A PUBLISH the tenant's policies do not allow (MQTT 3.1.1: the connection closes). */
function notAuthorized(): MqttRefusal {
  return new MqttRefusal(
    'not_authorized',
    "the tenant's policies do not allow telemetry:write here",
    'PALISADE_FORBIDDEN',
  );
}

/** What authorizing a PUBLISH uses. */
export interface PublishAuthorizerOptions {
  readonly broker: Aedes;
  readonly sessions: SessionTable;
  readonly metrics: MqttMetrics;
  readonly gate: IngestGate;
  readonly deps: PublishDeps;
  readonly logger: Logger;
}

/**
 * aedes' `authorizePublish`: a device's PUBLISH is authorized against the allow-list in
 * topics.ts, then by the tenant (DeviceActs: its roles and policies), ingested under the
 * gate's bounds and acknowledged (puback.ts) only once ingestion resolved (committed and
 * ledgered), so a PUBACK means durable. The packet is then re-aimed at the sink.
 */
export class PublishAuthorizer {
  readonly #options: PublishAuthorizerOptions;

  constructor(options: PublishAuthorizerOptions) {
    this.#options = options;
  }

  authorize(
    client: Client | null,
    packet: PublishPacket,
    callback: (error?: Error | null) => void,
  ): void {
    const session = client === null ? undefined : this.#options.sessions.get(client);
    if (session === undefined) {
      callback(new Error('publish from an unknown client'));
      return;
    }
    const route = routePublish(packet.topic, session.identity.isGateway);
    if (route === undefined) {
      callback(this.#refuse(session, new MqttRefusal('topic_not_allowed', 'topic not allowed')));
      return;
    }
    if (packet.qos !== 2) {
      this.#ingest(session, route, packet, callback);
      return;
    }
    // A QoS 2 message aedes still holds (PUBREC sent, no PUBREL yet) was ingested when it
    // first came; a DUP copy, on this connection or a resumed session, gets PUBREC again only.
    const { persistence } = this.#options.broker as unknown as { persistence: IncomingPackets };
    persistence.incomingGetPacket(session.client, packet).then(
      () => {
        sinkPacket(packet);
        callback(null);
      },
      () => this.#ingest(session, route, packet, callback),
    );
  }

  /** Hands a PUBLISH to ingestion; calls back (and so acknowledges) once it is durable. */
  #ingest(
    session: DeviceSession,
    route: PublishRoute,
    packet: PublishPacket,
    callback: (error?: Error | null) => void,
  ): void {
    const payload =
      typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const at = Date.now();
    this.#options.metrics.inflight.inc();
    this.#options.gate
      .run(session, () =>
        andThen(this.#options.deps.authenticator.current(session.identity), (current) => {
          if (!current)
            throw new MqttRefusal(
              'bad_credentials',
              "the connection's credential no longer authenticates its device",
            );
          const allowed = this.#options.deps.acts.allows(session.identity, session.address, at);
          if (allowed === true)
            return handleDevicePublish(this.#options.deps, session, route, payload);
          if (allowed === false) throw notAuthorized();
          return allowed.then((yes) => {
            if (!yes) throw notAuthorized();
            return handleDevicePublish(this.#options.deps, session, route, payload);
          });
        }),
      )
      .then(
        (dropped) => {
          if (dropped === undefined)
            this.#options.metrics.messages.inc({ kind: route.kind, qos: String(packet.qos) });
          else this.#drop(session, dropped);
          sinkPacket(packet);
          if (packet.qos !== 1) {
            callback(null);
            return;
          }
          // Acknowledged here; aedes, seeing QoS 0, writes no second PUBACK.
          packet.qos = 0;
          acknowledge(session.client, packet.messageId!, callback);
        },
        (error: unknown) => callback(this.#refuse(session, MqttRefusal.fromIngest(error))),
      )
      .finally(() => {
        this.#options.metrics.inflight.dec();
        this.#options.metrics.waits.inc(this.#options.gate.waits);
        this.#options.gate.waits = 0;
      });
  }

  /** Counts and logs a refusal; aedes closes the connection on the returned error. */
  #refuse(session: DeviceSession, refusal: MqttRefusal): MqttRefusal {
    const fields = this.#counted(session, refusal);
    if (refusal.reason === 'ingest_failed') this.#options.logger.error(fields, 'mqtt: refused');
    else this.#options.logger.info(fields, 'mqtt: refused');
    return refusal;
  }

  /**
   * Counts and logs a message acknowledged and dropped, the connection kept. At debug level:
   * a device may send many, and the count is in the metrics.
   */
  #drop(session: DeviceSession, refusal: MqttRefusal): void {
    this.#options.logger.debug(this.#counted(session, refusal), 'mqtt: dropped');
  }

  #counted(session: DeviceSession, refusal: MqttRefusal) {
    this.#options.metrics.refusals.inc({ reason: refusal.reason, code: refusal.code });
    return {
      tenant: session.identity.context.tenantId,
      device: session.identity.deviceId,
      reason: refusal.reason,
      code: refusal.code,
      detail: refusal.message,
    };
  }
}
