/** A request id in a topic: decimal of at most 10 digits (ThingsBoard) or a lower-case UUID (Palisade RPC). */
const REQUEST_ID = /^(?:[0-9]{1,10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** The request id that follows `prefix` in `topic`, or undefined when there is none. */
export function requestIdAfter(topic: string, prefix: string): string | undefined {
  if (!topic.startsWith(prefix)) return undefined;
  const id = topic.slice(prefix.length);
  return REQUEST_ID.test(id) ? id : undefined;
}
