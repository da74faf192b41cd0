/**
 * The attribute request and answer both device APIs share: keys picked as ThingsBoard picks
 * them, and a request of the wrong shape refused naming its field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { answerAttributes, attributeQuery, InvalidAttributeRequest } from '../src/index.ts';

const client = { fw: '1.0', model: 't1' };
const shared = { target: 21 };

describe('attribute requests', () => {
  it('a request naming neither side asks for all of both; anything but an object too', () => {
    for (const body of [{}, null, 42, []])
      assert.deepEqual(answerAttributes(client, shared, attributeQuery(body)), { client, shared });
  });

  it('named keys pick those the device has, on the side named only', () => {
    const query = attributeQuery({ clientKeys: ' fw ,absent,', sharedKeys: '' });
    assert.deepEqual(query, { clientKeys: ['fw', 'absent'], sharedKeys: [] });
    assert.deepEqual(answerAttributes(client, shared, query), {
      client: { fw: '1.0' },
      shared: {},
    });
    assert.deepEqual(answerAttributes(client, shared, attributeQuery({ sharedKeys: 'target' })), {
      shared,
    });
  });

  it('keys that are not a comma-separated string are refused, naming the field', () => {
    assert.throws(
      () => attributeQuery({ sharedKeys: ['target'] }),
      (error: unknown) =>
        error instanceof InvalidAttributeRequest && error.message.startsWith('sharedKeys'),
    );
  });
});
