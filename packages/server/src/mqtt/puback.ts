/**
 * The listener's own PUBACK. aedes would write one through mqtt-packet (three corked writes,
 * a writev and a setImmediate per message); an accepted message needs only these four bytes,
 * written once its ingestion is durable.
 */
import type { Client } from 'aedes';

/** MQTT 3.1.1 PUBACK: type 4, remaining length 2, then the packet identifier. */
export function pubackFor(messageId: number): Buffer {
  const bytes = Buffer.allocUnsafe(4);
  bytes[0] = 0x40;
  bytes[1] = 0x02;
  bytes.writeUInt16BE(messageId, 2);
  return bytes;
}

/** aedes' wait for a full socket to drain, bounded by its `drainTimeout`. */
type WaitForDrain = (done: (error?: Error | null) => void) => void;

/**
 * Writes the PUBACK of `messageId` to a connected client, then calls `done`; when the socket
 * is full, only once it drained (aedes' own back-pressure). A client gone meanwhile gets
 * nothing, as aedes would write it nothing. "Connected" is aedes' own test: a client is still
 * `connecting` after its CONNACK until the rest of the connect sequence ran, and a PUBLISH
 * sent right after CONNACK (mosquitto_pub does) can be acknowledged in that window.
 */
export function acknowledge(
  client: Client,
  messageId: number,
  done: (error?: Error | null) => void,
): void {
  if ((client.connecting || client.connected) && !client.conn.write(pubackFor(messageId)))
    (client as unknown as { waitForDrain: WaitForDrain }).waitForDrain(done);
  else done();
}
