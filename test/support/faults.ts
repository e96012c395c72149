import type {
  DynamicModule,
  ForwardReference,
  InjectionToken,
  Provider,
  Type,
} from '@nestjs/common';
import { MODULE_METADATA } from '@nestjs/common/constants';
import type { TestingModuleBuilder } from '@nestjs/testing';
import type { AppOverride } from './test-app';

/** How an injected fault shows: a synchronous throw, or a rejected promise. */
export type FaultKind = 'throws' | 'rejects';

/** The error an injected fault raises, naming the call it failed. */
export class InjectedFault extends Error {
  constructor(call: string) {
    super(`injected fault: ${call}`);
    this.name = 'InjectedFault';
  }
}

/**
 * Faults a test arms while the app runs, each failing the next call of one method. The faulty
 * provider consults it on every call, so the app is built once with it and stays healthy until a
 * fault is armed.
 */
export class FaultPlan {
  private readonly armed = new Map<PropertyKey, FaultKind[]>();

  /** The next call of `method` fails as `how` says; further calls go through again. */
  failNext(method: string, how: FaultKind = 'rejects'): this {
    this.armed.set(method, [...(this.armed.get(method) ?? []), how]);
    return this;
  }

  /** Faults armed and not yet taken by a call. */
  get pending(): number {
    return [...this.armed.values()].reduce((sum, faults) => sum + faults.length, 0);
  }

  /** The fault for this call of `method`, if one is armed (it is used up). */
  take(method: PropertyKey): FaultKind | undefined {
    return this.armed.get(method)?.shift();
  }
}

/**
 * `target` behind a Proxy that forwards every property and method and fails the calls `plan`
 * arms. It knows no method names, so it survives the port interfaces changing.
 */
export function withFaults<T extends object>(target: T, plan: FaultPlan, name: string): T {
  return new Proxy(target, {
    get(object, key) {
      const value: unknown = Reflect.get(object, key, object);
      if (typeof value !== 'function' || key === 'constructor') return value;
      return (...args: unknown[]): unknown => {
        const fault = plan.take(key);
        if (!fault) return Reflect.apply(value, object, args);
        const error = new InjectedFault(`${name}.${String(key)}`);
        if (fault === 'throws') throw error;
        return Promise.reject(error);
      };
    },
  });
}

/**
 * An override for `startApp`: the provider of `token`, built as the app would build it (found in
 * the app's module tree, whichever implementation configuration picks), wrapped by `withFaults`.
 */
export function faultyProvider(token: InjectionToken, plan: FaultPlan): AppOverride {
  const name = tokenName(token);
  return wrappedProvider(token, (instance) => withFaults(instance, plan, name));
}

/**
 * An override for `startApp`: the provider of `token`, built as the app would build it, handed
 * to `wrap` (a Proxy that counts calls, or fails them as `faultyProvider` does); the app gets
 * what `wrap` returns.
 */
export function wrappedProvider(
  token: InjectionToken,
  wrapObject: <T extends object>(instance: T) => T,
): AppOverride {
  const name = tokenName(token);
  const wrap = <T>(instance: T): T =>
    typeof instance === 'object' && instance !== null ? wrapObject(instance) : instance;
  return (builder: TestingModuleBuilder, root: DynamicModule): TestingModuleBuilder => {
    const provider = findProvider(root, token);
    if (!provider) throw new Error(`no provider of ${name} in the app's modules`);
    const override = builder.overrideProvider(token);
    if (typeof provider === 'function') return override.useClass(faultyClass(provider, wrap));
    if ('useClass' in provider) return override.useClass(faultyClass(provider.useClass, wrap));
    if ('useValue' in provider) return override.useValue(wrap(provider.useValue));
    if ('useFactory' in provider) {
      const { useFactory, inject = [] } = provider;
      return override.useFactory({
        factory: (...deps: unknown[]): unknown => {
          const built: unknown = useFactory(...deps);
          return built instanceof Promise ? built.then(wrap) : wrap(built);
        },
        inject,
      });
    }
    throw new Error(`the provider of ${name} is an alias (useExisting): override its target`);
  };
}

/** A subclass whose instances are the wrapped ones; Nest injects it like the original class. */
function faultyClass(type: Type<unknown>, wrap: <T>(instance: T) => T): Type<unknown> {
  const base = type as new (...args: unknown[]) => object;
  return class Faulty extends base {
    constructor(...args: unknown[]) {
      super(...args);
      // Returning an object from a constructor makes it the result of `new`.
      return wrap(this);
    }
  };
}

type ModuleRef = Type<unknown> | DynamicModule | ForwardReference | Promise<DynamicModule>;

/** The definition of `token`'s provider in `module` or the modules it imports. */
function findProvider(
  module: ModuleRef,
  token: InjectionToken,
  seen = new Set<unknown>(),
): Provider | undefined {
  if (module instanceof Promise) return undefined;
  const resolved =
    'forwardRef' in module ? (module.forwardRef as () => Type<unknown> | DynamicModule)() : module;
  const type = 'module' in resolved ? resolved.module : resolved;
  if (seen.has(resolved)) return undefined;
  seen.add(resolved);
  const metadata = (key: string): unknown[] =>
    (Reflect.getMetadata(key, type) as unknown[] | undefined) ?? [];
  const dynamic: Partial<DynamicModule> = 'module' in resolved ? resolved : {};
  const providers = [...metadata(MODULE_METADATA.PROVIDERS), ...(dynamic.providers ?? [])];
  const found = (providers as Provider[]).find((provider) =>
    typeof provider === 'function' ? provider === token : provider.provide === token,
  );
  if (found) return found;
  const imports = [...metadata(MODULE_METADATA.IMPORTS), ...(dynamic.imports ?? [])];
  for (const imported of imports as ModuleRef[]) {
    const inImport = findProvider(imported, token, seen);
    if (inImport) return inImport;
  }
  return undefined;
}

function tokenName(token: InjectionToken): string {
  if (typeof token === 'function') return token.name;
  return typeof token === 'symbol' ? (token.description ?? String(token)) : String(token);
}
