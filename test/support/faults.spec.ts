import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { FaultPlan, InjectedFault, faultyProvider, withFaults } from './faults';

@Injectable()
class Clock {
  now(): number {
    return 42;
  }
}

@Injectable()
class Counter {
  count = 0;

  constructor(readonly clock: Clock) {}

  increment(): number {
    return ++this.count;
  }

  async read(): Promise<number> {
    return Promise.resolve(this.count);
  }
}

const STORE = Symbol('STORE');

@Module({
  providers: [
    Clock,
    Counter,
    { provide: STORE, inject: [Clock], useFactory: (clock: Clock) => ({ at: () => clock.now() }) },
  ],
  exports: [Counter, STORE],
})
class FeatureModule {}

describe('withFaults', () => {
  it('forwards every call and property until a fault is armed, then fails that call only', async () => {
    const plan = new FaultPlan();
    const counter = withFaults(new Counter(new Clock()), plan, 'Counter');

    expect(counter.increment()).toBe(1);
    plan.failNext('increment', 'throws').failNext('read', 'rejects');
    expect(() => counter.increment()).toThrow(new InjectedFault('Counter.increment'));
    await expect(counter.read()).rejects.toThrow('injected fault: Counter.read');
    expect(plan.pending).toBe(0);
    expect(counter.increment()).toBe(2);
    expect(await counter.read()).toBe(2);
    expect(counter.count).toBe(2);
    expect(counter).toBeInstanceOf(Counter);
  });
});

describe('faultyProvider', () => {
  async function build(token: unknown, plan: FaultPlan) {
    const root = { module: class Root {}, imports: [FeatureModule] };
    const builder = Test.createTestingModule({ imports: [root] });
    const moduleRef = await faultyProvider(token as symbol, plan)(builder, root).compile();
    return moduleRef;
  }

  it('wraps a class provider, built with its own dependencies', async () => {
    const plan = new FaultPlan();
    const moduleRef = await build(Counter, plan);
    const counter = moduleRef.get(Counter);

    expect(counter.clock.now()).toBe(42);
    plan.failNext('increment', 'throws');
    expect(() => counter.increment()).toThrow(InjectedFault);
    expect(counter.increment()).toBe(1);
  });

  it('wraps what a factory provider builds, with the factory and injections of the module', async () => {
    const plan = new FaultPlan();
    const moduleRef = await build(STORE, plan);
    const store = moduleRef.get<{ at: () => number }>(STORE);

    expect(store.at()).toBe(42);
    plan.failNext('at', 'throws');
    expect(() => store.at()).toThrow('injected fault: STORE.at');
  });

  it('refuses a token that no module provides', async () => {
    await expect(build(Symbol('nowhere'), new FaultPlan())).rejects.toThrow(
      'no provider of nowhere',
    );
  });
});
