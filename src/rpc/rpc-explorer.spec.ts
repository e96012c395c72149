import { Injectable, Module, Scope } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { IsInt } from 'class-validator';
import { AppConfigModule } from '../config/app-config.module';
import { configWith } from '../config/load-config';
import { RpcMethod } from './rpc-method.decorator';
import { RpcRegistry } from './rpc-registry';
import { RpcModule } from './rpc.module';

class CountParams {
  @IsInt()
  n!: number;
}

@Injectable()
class CounterMethods {
  private total = 0;

  @RpcMethod({
    name: 'counter.add',
    params: CountParams,
    permission: 'query',
    description: 'Adds.',
  })
  add(params: CountParams): { total: number } {
    this.total += params.n;
    return { total: this.total };
  }

  /** Not decorated: not a method of the registry. */
  reset(): void {
    this.total = 0;
  }
}

@Injectable({ scope: Scope.REQUEST })
class ScopedMethods {
  @RpcMethod({ name: 'scoped.call', params: CountParams, permission: 'query' })
  call(): null {
    return null;
  }
}

@Module({ providers: [CounterMethods, ScopedMethods] })
class CounterModule {}

describe('RpcExplorer', () => {
  let moduleRef: TestingModule;

  beforeEach(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [AppConfigModule.forRoot(configWith({})), RpcModule, CounterModule],
    }).compile();
    await moduleRef.init();
  });

  afterEach(() => moduleRef.close());

  it('registers the @RpcMethod methods of another module’s providers, with their options', () => {
    const [method] = moduleRef.get(RpcRegistry).list();
    expect(method).toMatchObject({
      name: 'counter.add',
      params: CountParams,
      permission: 'query',
      description: 'Adds.',
    });
  });

  it('calls the method on the provider’s instance, with validated params', async () => {
    const registry = moduleRef.get(RpcRegistry);
    const backend = { kind: 'backend', via: 'http' } as const;
    await registry.call('counter.add', { n: 2 }, backend);
    await expect(registry.call('counter.add', { n: 3 }, backend)).resolves.toEqual({ total: 5 });
  });

  it('registers no method of a request-scoped provider (there is no one instance to call)', () => {
    expect(
      moduleRef
        .get(RpcRegistry)
        .list()
        .map((m) => m.name),
    ).toEqual(['counter.add']);
  });
});
