import {
  GraphQLError,
  GraphQLScalarType,
  Kind,
  type ObjectValueNode,
  type ValueNode,
} from 'graphql';
import { unstorable } from '../store/index.ts';

/** The same rule as REST's collection names (`COLLECTION_NAME` in the gateway schemas). */
export const COLLECTION_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The REST gateway refuses prototype-poisoning JSON (`__proto__`, `constructor.prototype`); literals too. */
function poisoned(node: ObjectValueNode): boolean {
  return node.fields.some(
    (field) =>
      field.name.value === '__proto__' ||
      (field.name.value === 'constructor' &&
        field.value.kind === Kind.OBJECT &&
        field.value.fields.some((inner) => inner.name.value === 'prototype')),
  );
}

/** A literal as its JSON value; variables inside it were already checked by validation. */
function literalValue(
  node: ValueNode,
  variables: Record<string, unknown> | null | undefined,
): unknown {
  switch (node.kind) {
    case Kind.OBJECT:
      if (poisoned(node)) throw new GraphQLError('JSONObject literals may not set a prototype');
      return Object.fromEntries(
        node.fields.map((field) => [field.name.value, literalValue(field.value, variables)]),
      );
    case Kind.LIST:
      return node.values.map((value) => literalValue(value, variables));
    case Kind.INT: {
      const value = Number(node.value);
      if (
        Number.isFinite(value) &&
        !Number.isSafeInteger(value) &&
        BigInt(node.value) !== BigInt(value)
      )
        throw new GraphQLError(
          `JSONObject integer ${node.value} must be one JSON can carry exactly (up to 2^53): send a larger one as a string`,
        );
      return value;
    }
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.STRING:
    case Kind.BOOLEAN:
      return node.value;
    case Kind.NULL:
      return null;
    case Kind.ENUM:
      return node.value;
    case Kind.VARIABLE:
      return variables?.[node.name.value];
  }
}

/** The object, unless it holds what no store keeps as sent (as REST refuses it: `unstorable`). */
function storable(value: Record<string, unknown>): Record<string, unknown> {
  const found = unstorable(value);
  if (found !== undefined)
    throw new GraphQLError(`JSONObject at ${found.path || '/'} ${found.message}`);
  return value;
}

export const JSONObjectScalar = new GraphQLScalarType<Record<string, unknown>, unknown>({
  name: 'JSONObject',
  serialize(value) {
    if (!isObject(value)) throw new GraphQLError('JSONObject cannot represent a non-object');
    return value;
  },
  parseValue(value) {
    if (!isObject(value)) throw new GraphQLError('JSONObject must be a JSON object');
    return storable(value);
  },
  parseLiteral(node, variables) {
    const value = literalValue(node, variables);
    if (!isObject(value)) throw new GraphQLError('JSONObject must be an object literal');
    return storable(value);
  },
});

function collectionName(value: unknown): string {
  if (typeof value !== 'string' || !COLLECTION_NAME_PATTERN.test(value))
    throw new GraphQLError(`CollectionName must match ${COLLECTION_NAME_PATTERN.source}`);
  return value;
}

export const CollectionNameScalar = new GraphQLScalarType<string, string>({
  name: 'CollectionName',
  serialize: collectionName,
  parseValue: collectionName,
  parseLiteral(node) {
    if (node.kind !== Kind.STRING) throw new GraphQLError('CollectionName must be a string');
    return collectionName(node.value);
  },
});
