/**
 * A device's attribute request (`v1/devices/me/attributes/request/{id}`) and its answer, as
 * ThingsBoard has them: `{"clientKeys": "a,b", "sharedKeys": "c"}` asks for those keys of the
 * attributes the device reported and of the shared ones its tenant set; a request naming
 * neither asks for all of both; the answer is `{"client": {…}, "shared": {…}}` with the side
 * asked for, and of the keys named only those the device has.
 */

/** Keys a device asks for: undefined for a side it did not name. */
export interface AttributeQuery {
  readonly clientKeys: readonly string[] | undefined;
  readonly sharedKeys: readonly string[] | undefined;
}

/** A request that is not of the shape above; its message names the field. */
export class InvalidAttributeRequest extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidAttributeRequest';
  }
}

function keyList(value: unknown, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string')
    throw new InvalidAttributeRequest(`${field} must be a comma-separated string`);
  return value
    .split(',')
    .map((key) => key.trim())
    .filter((key) => key !== '');
}

/** The query of a parsed request body; anything but an object asks for everything. */
export function attributeQuery(body: unknown): AttributeQuery {
  const query =
    typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : {};
  return {
    clientKeys: keyList(query.clientKeys, 'clientKeys'),
    sharedKeys: keyList(query.sharedKeys, 'sharedKeys'),
  };
}

function pick(source: Readonly<Record<string, unknown>>, keys: readonly string[] | undefined) {
  if (keys === undefined) return { ...source };
  return Object.fromEntries(
    keys.filter((k) => Object.hasOwn(source, k)).map((k) => [k, source[k]]),
  );
}

/** The answer to `query` from a device's client and shared attributes. */
export function answerAttributes(
  client: Readonly<Record<string, unknown>>,
  shared: Readonly<Record<string, unknown>>,
  query: AttributeQuery,
): Record<string, unknown> {
  const both = query.clientKeys === undefined && query.sharedKeys === undefined;
  const answer: Record<string, unknown> = {};
  if (both || query.clientKeys !== undefined) answer.client = pick(client, query.clientKeys);
  if (both || query.sharedKeys !== undefined) answer.shared = pick(shared, query.sharedKeys);
  return answer;
}
