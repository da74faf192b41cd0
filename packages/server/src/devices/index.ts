export {
  type CredentialInput,
  CredentialRegistry,
  type CredentialView,
} from './credential-registry.ts';
export { DeviceAuthority } from './device-authenticator.ts';
export { registrationCode } from './device-ca-proof.ts';
export {
  type CaView,
  DeviceCaService,
  type IssuedCertificate,
  type IssueInput,
  type SecretSealer,
} from './device-ca-service.ts';
export type {
  ChildMessage,
  DeviceAuthenticator,
  DeviceIdentity,
  IngestResult,
  TelemetryIngest,
} from './device-contract.ts';
export { fingerprintOf, type PasswordVerifier, verifyPassword } from './device-credentials.ts';
export { DEVICE_NAME_MAX_LENGTH, type DeviceInput, DeviceRegistry } from './device-registry.ts';
export { type DeviceServices, openDeviceServices } from './device-services.ts';
export { DeviceWrites } from './device-writes.ts';
export { LiveStreams } from './live-streams.ts';
export type {
  AttachOptions,
  OutgoingRpc,
  RpcInput,
  RpcQueue,
  RpcRemote,
  RpcSender,
  RpcWritten,
} from './rpc-contract.ts';
export { RpcService } from './rpc-queue.ts';
export {
  type SharedAttributeChange,
  type SharedAttributeListener,
  sharedAttributeChange,
} from './shared-attributes.ts';
export { TELEMETRY_EVENT_ID, type TelemetryEventPayload } from './telemetry-events.ts';
export { parseAttributes, parseTelemetry, type TelemetryLimits } from './telemetry-parse.ts';
export { TelemetryQueries, type TelemetryRange } from './telemetry-queries.ts';
export { TelemetryRetention } from './telemetry-retention.ts';
export { TelemetryService } from './telemetry-service.ts';
export { writeClientAttributes, writeTelemetryMessages } from './telemetry-writes.ts';
