/** What a test's RPC sender answers once it wrote a request (see RpcSender). */
import type { RpcWritten } from '../../src/devices/index.ts';

/** The device acknowledged the request at once: it becomes delivered. */
export const ACKNOWLEDGED: RpcWritten = { acknowledged: Promise.resolve(true) };

/** The device's acknowledgement has not come (nor will it in the test): the request stays sent. */
export const AWAITING_ACK: RpcWritten = { acknowledged: new Promise<boolean>(() => {}) };

/**
 * The status of a request written to a device's connection: `sent`, or `delivered` as soon
 * as its acknowledgement is in, which may come before or after a read.
 */
export const WRITTEN_STATUS = /^(?:sent|delivered)$/;
