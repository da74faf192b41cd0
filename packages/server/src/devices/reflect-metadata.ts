/**
 * tsyringe, which @peculiar/x509 uses to register its algorithm providers, refuses to load
 * unless the Metadata Reflection API exists, and its `@injectable()` decorator reads and
 * writes metadata through it. This installs the three functions it calls, backed by a
 * WeakMap, when no polyfill is present. Imported before @peculiar/x509 (ES modules evaluate
 * in import order).
 */

type Metadata = Map<unknown, unknown>;

const store = new WeakMap<object, Metadata>();

function own(target: object): Metadata {
  let metadata = store.get(target);
  if (metadata === undefined) {
    metadata = new Map();
    store.set(target, metadata);
  }
  return metadata;
}

const reflect = Reflect as typeof Reflect & { getMetadata?: unknown };
if (typeof reflect.getMetadata !== 'function') {
  Object.assign(Reflect, {
    defineMetadata: (key: unknown, value: unknown, target: object) => own(target).set(key, value),
    getOwnMetadata: (key: unknown, target: object) => store.get(target)?.get(key),
    getMetadata(key: unknown, target: object): unknown {
      for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t)) {
        const metadata = store.get(t);
        if (metadata?.has(key)) return metadata.get(key);
      }
      return undefined;
    },
  });
}
