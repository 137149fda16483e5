/**
 * The part of the Reflect metadata API that tsyringe (a dependency of @peculiar/x509,
 * which makes the local CA in certs.ts) insists on at load time. The package that
 * normally provides it (reflect-metadata) is not among our dependencies, and the
 * library only asks for the constructor parameter types its decorators record:
 * a per-object, per-property store is all it needs. Installed only when absent, and
 * only in processes that make local certificates (the local stack, the tests).
 */
type Key = unknown;
type Store = Map<string | symbol | undefined, Map<Key, unknown>>;

interface ReflectMetadata {
  getMetadata?(key: Key, target: object, property?: string | symbol): unknown;
  getOwnMetadata?(key: Key, target: object, property?: string | symbol): unknown;
  defineMetadata?(key: Key, value: unknown, target: object, property?: string | symbol): void;
}

const reflect = Reflect as typeof Reflect & ReflectMetadata;

if (typeof reflect.getMetadata !== 'function') {
  const stores = new WeakMap<object, Store>();
  const own = (target: object, property?: string | symbol) => stores.get(target)?.get(property);
  reflect.getOwnMetadata = (key, target, property) => own(target, property)?.get(key);
  reflect.getMetadata = (key, target, property) => {
    // Along the prototype chain, as the proposal specifies.
    for (let current: object | null = target; current !== null; current = Object.getPrototypeOf(current) as object | null) {
      const values = own(current, property);
      if (values?.has(key)) return values.get(key);
    }
    return undefined;
  };
  reflect.defineMetadata = (key, value, target, property) => {
    const store = stores.get(target) ?? new Map<string | symbol | undefined, Map<Key, unknown>>();
    stores.set(target, store);
    const values = store.get(property) ?? new Map<Key, unknown>();
    store.set(property, values);
    values.set(key, value);
  };
}

export {};
