export {
  BUS_KINDS,
  type Bus,
  type BusEvent,
  type BusHandler,
  type BusKind,
  type BusLimits,
  type BusMessage,
  type GivenUpMessage,
  type PlatformBus,
  type SubscribeOptions,
  type Subscription,
} from './bus.ts';
export { BusError, type BusErrorCode } from './bus-error.ts';
export { InProcessBus } from './in-process/in-process-bus.ts';
export {
  type CheckpointEventPayload,
  eventOfCheckpoint,
  eventOfEntry,
  subjectOfResource,
  type WriteEventPayload,
} from './ledger-events.ts';
export { LedgerRelay, type LedgerRelayOptions } from './ledger-relay.ts';
export { NatsBus, type NatsBusOptions, streamName } from './nats/nats-bus.ts';
export { connectNats, type NatsLink } from './nats/nats-connection.ts';
export { busLimits, openBus } from './open-bus.ts';
export { BUS_KEY_TOKENS_MAX, keyToken } from './subjects.ts';
