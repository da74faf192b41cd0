/**
 * The listener's own PUBACK: its bytes, and aedes' rules for writing it (nothing to a client
 * gone, its drain wait when the socket is full).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Client } from 'aedes';
import { acknowledge, pubackFor } from '../src/mqtt/puback.ts';

function fakeClient(connected: boolean, accepts: boolean, connecting = false) {
  const written: Buffer[] = [];
  const drains: Array<(error?: Error | null) => void> = [];
  const client = {
    connecting,
    connected,
    conn: {
      write: (bytes: Buffer) => {
        written.push(bytes);
        return accepts;
      },
    },
    waitForDrain: (done: (error?: Error | null) => void) => drains.push(done),
  };
  return { client: client as unknown as Client, written, drains };
}

describe('MQTT PUBACK', () => {
  it('is MQTT 3.1.1 §3.4: type 4, remaining length 2, the identifier big-endian', () => {
    const vectors: Array<[number, number[]]> = [
      [1, [0x40, 0x02, 0x00, 0x01]],
      [255, [0x40, 0x02, 0x00, 0xff]],
      [256, [0x40, 0x02, 0x01, 0x00]],
      [4242, [0x40, 0x02, 0x10, 0x92]],
      [65535, [0x40, 0x02, 0xff, 0xff]],
    ];
    for (const [messageId, bytes] of vectors)
      assert.deepEqual([...pubackFor(messageId)], bytes, `messageId ${messageId}`);
  });

  it('is written to a connected client, then done is called', () => {
    const { client, written, drains } = fakeClient(true, true);
    let done = 0;
    acknowledge(client, 7, () => done++);
    assert.deepEqual(written, [pubackFor(7)]);
    assert.equal(done, 1);
    assert.equal(drains.length, 0);
  });

  it('is written to a client aedes still counts as connecting (a PUBLISH right after CONNACK)', () => {
    const { client, written } = fakeClient(false, true, true);
    let done = 0;
    acknowledge(client, 10, () => done++);
    assert.deepEqual(written, [pubackFor(10)]);
    assert.equal(done, 1);
  });

  it('waits for the drain of a full socket before done is called', () => {
    const { client, written, drains } = fakeClient(true, false);
    let done = 0;
    acknowledge(client, 8, () => done++);
    assert.deepEqual(written, [pubackFor(8)]);
    assert.equal(done, 0);
    drains[0]!();
    assert.equal(done, 1);
  });

  it('writes nothing to a client that is gone', () => {
    const { client, written } = fakeClient(false, true);
    let done = 0;
    acknowledge(client, 9, () => done++);
    assert.deepEqual(written, []);
    assert.equal(done, 1);
  });
});
