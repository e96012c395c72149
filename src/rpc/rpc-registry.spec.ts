import { Type } from 'class-transformer';
import { IsInt, IsObject, IsOptional, IsString, Matches, ValidateNested } from 'class-validator';
import { recordedSession } from '../../test/support/recording-socket';
import { RoomPolicy } from '../auth/room-policy';
import type { AppConfig } from '../config/app-config';
import { configWith } from '../config/load-config';
import type { Principal } from '../protocol/principal';
import { RpcError, RpcErrorBody, RpcErrorCode } from '../protocol/rpc.protocol';
import type { RpcCaller } from './rpc-dispatcher';
import type { RpcMethodDefinition } from './rpc-method';
import { RpcRegistry } from './rpc-registry';

class FileParams {
  @IsString({ message: 'path must be a string' })
  path!: string;

  @IsOptional()
  @IsInt({ message: 'size must be an integer' })
  size?: number;
}

class ChangeParams {
  @Matches(/^[a-z0-9]+$/, { message: 'workspace_id must be lowercase letters and digits' })
  @IsString({ message: 'workspace_id must be a string' })
  workspace_id!: string;

  // ValidateNested alone lets an absent value through: the object check comes first.
  @ValidateNested()
  @IsObject({ message: 'file must be an object' })
  @Type(() => FileParams)
  file!: FileParams;

  @IsOptional()
  @ValidateNested({ each: true })
  @Type(() => FileParams)
  others?: FileParams[];
}

class NoParams {}

const backend: RpcCaller = { kind: 'backend', via: 'http' };

function socketCaller(principal?: Principal): RpcCaller {
  return { kind: 'socket', session: recordedSession().session, principal };
}

const principal = (claims: Record<string, unknown> = {}): Principal => ({
  userId: 'alice',
  expiresAt: Date.now() + 60_000,
  claims,
});

/** The RpcError a call rejects with. */
async function failure(promise: Promise<unknown>): Promise<RpcErrorBody> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RpcError) return error.toBody();
    throw error;
  }
  throw new Error('the call succeeded');
}

describe('RpcRegistry', () => {
  let registry: RpcRegistry;
  let received: unknown[];

  function make(config: Partial<AppConfig> = {}): RpcRegistry {
    const settings = configWith({ ...config });
    const made = new RpcRegistry(new RoomPolicy(settings));
    made.register({
      name: 'workspace.changed',
      params: ChangeParams,
      permission: 'publish',
      room: (params) => `workspace:${params.workspace_id}`,
      handler: (params) => {
        received.push(params);
        return { ok: true };
      },
    });
    made.register({
      name: 'rooms',
      params: NoParams,
      permission: 'query',
      handler: async (params) => {
        received.push(params);
        return Promise.resolve(['lobby']);
      },
    });
    made.register({
      name: 'user.disconnect',
      params: NoParams,
      permission: 'backend',
      handler: () => ({ closed: 0 }),
    });
    return made;
  }

  beforeEach(() => {
    received = [];
    registry = make();
  });

  const change = { workspace_id: 'ws1', file: { path: 'a.ts' } };

  describe('registration', () => {
    const method = (overrides: Partial<RpcMethodDefinition<NoParams>>) => ({
      name: 'x.y',
      params: NoParams,
      permission: 'query' as const,
      handler: () => null,
      ...overrides,
    });

    it('lists the methods in registration order', () => {
      expect(registry.list().map((m) => m.name)).toEqual([
        'workspace.changed',
        'rooms',
        'user.disconnect',
      ]);
    });

    it('refuses a second method of the same name', () => {
      expect(() => registry.register(method({ name: 'rooms' }))).toThrow('registered twice');
    });

    it.each(['', 'has space', 'dash-ed', 'x'.repeat(101)])('refuses the name %j', (name) => {
      expect(() => registry.register(method({ name }))).toThrow('must be 1 to 100');
    });

    it('refuses a publish method without its room', () => {
      expect(() => registry.register(method({ permission: 'publish' }))).toThrow('which room');
    });
  });

  describe('params', () => {
    it('hands the handler an instance of the DTO, nested DTOs included', async () => {
      await registry.call('workspace.changed', change, backend);
      const [params] = received as ChangeParams[];
      expect(params).toBeInstanceOf(ChangeParams);
      expect(params.file).toBeInstanceOf(FileParams);
    });

    it('strips properties the DTO does not declare, nested ones too', async () => {
      await registry.call(
        'workspace.changed',
        { ...change, timestamp: '2026-01-01', file: { path: 'a.ts', mode: 'rw' } },
        backend,
      );
      expect(JSON.parse(JSON.stringify(received[0]))).toEqual(change);
    });

    it.each([undefined, null])('takes %p params as {}', async (params) => {
      await registry.call('rooms', params, backend);
      expect({ ...(received[0] as object) }).toEqual({});
    });

    it('strips every property for a method without params', async () => {
      await registry.call('rooms', { a: 1 }, backend);
      expect({ ...(received[0] as object) }).toEqual({});
    });

    it('lists one error per failed field, by dotted path', async () => {
      const error = await failure(
        registry.call(
          'workspace.changed',
          { workspace_id: 'WS 1', file: { path: 3, size: 'big' }, others: [{ path: 'ok' }, {}] },
          backend,
        ),
      );
      expect(error.code).toBe('invalid_params');
      expect(error.details).toEqual({
        validation_errors: [
          { field: 'workspace_id', error: 'workspace_id must be lowercase letters and digits' },
          { field: 'file.path', error: 'path must be a string' },
          { field: 'file.size', error: 'size must be an integer' },
          { field: 'others.1.path', error: 'path must be a string' },
        ],
      });
      expect(received).toEqual([]);
    });

    it('reports a missing nested object by its name', async () => {
      const error = await failure(
        registry.call('workspace.changed', { workspace_id: 'a' }, backend),
      );
      expect(error.details).toEqual({
        validation_errors: [{ field: 'file', error: 'file must be an object' }],
      });
    });

    it.each([
      ['an array', [change]],
      ['a string', 'ws1'],
      ['a number', 5],
    ])('refuses params that are %s', async (_what, params) => {
      const error = await failure(registry.call('rooms', params, backend));
      expect(error).toMatchObject({
        code: 'invalid_params',
        details: {
          validation_errors: [{ field: 'params', error: 'params must be a JSON object' }],
        },
      });
    });

    it.each([
      ['nested deeper than 32 levels', { deep: JSON.parse(`${'['.repeat(33)}${']'.repeat(33)}`) }],
      ['with a __proto__ key', JSON.parse('{"file":{"__proto__":{"polluted":true}}}')],
      ['with a constructor key', { constructor: { prototype: {} } }],
      ['with a lone surrogate', { file: { path: 'a\ud800' } }],
      ['with a lone surrogate in a key', { ['k\udc00']: 1 }],
    ])('refuses params %s', async (_what, params) => {
      const error = await failure(registry.call('workspace.changed', params, backend));
      expect(error.code).toBe('invalid_params');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('accepts params nested 32 levels deep', async () => {
      const deep = JSON.parse(`${'['.repeat(31)}${']'.repeat(31)}`) as unknown;
      await registry.call('rooms', { deep }, backend);
      expect(received).toHaveLength(1);
    });
  });

  describe('permissions', () => {
    it('lets backends call every method', async () => {
      await expect(registry.call('user.disconnect', {}, backend)).resolves.toEqual({ closed: 0 });
      await expect(registry.call('workspace.changed', change, backend)).resolves.toEqual({
        ok: true,
      });
    });

    it('refuses a backend method to a socket before reading its params', async () => {
      const error = await failure(
        registry.call('user.disconnect', 'not even an object', socketCaller()),
      );
      expect(error.code).toBe('forbidden');
    });

    it('lets a socket call queries', async () => {
      const jwt = make({ AUTH_MODE: 'jwt', JWT_SECRET: 'x'.repeat(32) });
      await expect(jwt.call('rooms', {}, socketCaller(principal()))).resolves.toEqual(['lobby']);
    });

    it('lets any socket publish with AUTH_MODE=none', async () => {
      await expect(registry.call('workspace.changed', change, socketCaller())).resolves.toEqual({
        ok: true,
      });
    });

    describe('with AUTH_MODE=jwt', () => {
      let jwt: RpcRegistry;

      beforeEach(() => {
        jwt = make({ AUTH_MODE: 'jwt', JWT_SECRET: 'x'.repeat(32) });
      });

      it('lets a socket publish into a room its publish claim matches', async () => {
        const caller = socketCaller(principal({ publish: ['workspace:*'] }));
        await expect(jwt.call('workspace.changed', change, caller)).resolves.toEqual({ ok: true });
      });

      it.each([
        ['a publish claim for other rooms', principal({ publish: ['session:*'] })],
        ['no publish claim', principal({ rooms: ['*'] })],
        ['no principal', undefined],
      ])('refuses publishing to a socket with %s', async (_what, who) => {
        const error = await failure(jwt.call('workspace.changed', change, socketCaller(who)));
        expect(error.code).toBe('forbidden');
        expect(received).toEqual([]);
      });

      it('validates before it checks the room, which comes from the params', async () => {
        const caller = socketCaller(principal());
        const error = await failure(jwt.call('workspace.changed', { file: {} }, caller));
        expect(error.code).toBe('invalid_params');
      });
    });
  });

  describe('errors', () => {
    it('answers an unknown method method_not_found, naming it', async () => {
      const error = await failure(registry.call('nope', {}, backend));
      expect(error).toEqual({
        code: 'method_not_found',
        message: 'method "nope" does not exist',
        retryable: false,
      });
    });

    it('passes a handler’s RpcError through', async () => {
      const refusal = new RpcError(RpcErrorCode.UserNotConnected, 'gone', { retryable: true });
      registry.register({
        name: 'refuses',
        params: NoParams,
        permission: 'query',
        handler: () => Promise.reject(refusal),
      });
      await expect(registry.call('refuses', {}, backend)).rejects.toBe(refusal);
    });

    it.each([
      [
        'throws',
        () => {
          throw new TypeError('broken');
        },
      ],
      ['rejects', () => Promise.reject(new Error('broken'))],
    ])('answers a handler that %s internal_error', async (_what, handler) => {
      registry.register({ name: 'breaks', params: NoParams, permission: 'query', handler });
      const error = await failure(registry.call('breaks', {}, backend));
      expect(error).toEqual({
        code: 'internal_error',
        message: 'internal server error',
        retryable: false,
      });
    });
  });

  describe('roomOf', () => {
    it('names the room of a method that has one, from its validated params, without running it', () => {
      expect(registry.roomOf('workspace.changed', change)).toBe('workspace:ws1');
      expect(received).toEqual([]);
    });

    it('names no room for a method without one, an unknown method, or params that do not validate', () => {
      expect(registry.roomOf('rooms', {})).toBeUndefined();
      expect(registry.roomOf('no.such', change)).toBeUndefined();
      expect(registry.roomOf('workspace.changed', { workspace_id: 'WS!' })).toBeUndefined();
      expect(registry.roomOf('workspace.changed', 'not an object')).toBeUndefined();
    });
  });

  describe('isQuery', () => {
    it('tells a query from a method that publishes or is for backends, and from an unknown one', () => {
      expect(registry.isQuery('rooms')).toBe(true);
      expect(registry.isQuery('workspace.changed')).toBe(false);
      expect(registry.isQuery('user.disconnect')).toBe(false);
      expect(registry.isQuery('no.such')).toBe(false);
    });
  });
});
