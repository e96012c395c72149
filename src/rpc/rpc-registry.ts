import { Injectable, Logger } from '@nestjs/common';
import { RoomPolicy } from '../auth/room-policy';
import { LogThrottle } from '../common/log-throttle';
import { ChatError } from '../protocol/chat-error';
import { RpcError, RpcErrorCode, rpcErrorOf } from '../protocol/rpc.protocol';
import type { RpcCaller, RpcDispatcher } from './rpc-dispatcher';
import type { RpcMethodDefinition } from './rpc-method';
import { validateParams } from './rpc-params';
import { isUnavailability, unavailableError } from './rpc-unavailable';

/** Seed 003's method names: `^[a-zA-Z0-9_.]+$`, at most 100 characters. */
const METHOD_NAME = /^[A-Za-z0-9_.]{1,100}$/;
const MAX_ECHOED_METHOD = 100;

/**
 * The methods the server answers, by name, registered by any module (the core's and extensions'):
 * with `register()`, or with `@RpcMethod` on a provider's method (found at bootstrap by
 * RpcExplorer). A call is looked up, checked against the caller's permission, validated, and run.
 */
@Injectable()
export class RpcRegistry implements RpcDispatcher {
  private readonly logger = new Logger(RpcRegistry.name);
  /** Calls failing for want of Redis come in storms while it is away: one line per interval. */
  private readonly outages = new LogThrottle(this.logger);
  private readonly methods = new Map<string, RpcMethodDefinition>();

  constructor(private readonly policy: RoomPolicy) {}

  /** Adds a method; throws (at bootstrap) for a bad name, a second one of a name, or a `publish`
   * method without its room. */
  register<P extends object, R>(definition: RpcMethodDefinition<P, R>): void {
    const { name } = definition;
    if (!METHOD_NAME.test(name)) {
      throw new Error(`RPC method name ${JSON.stringify(name)} must be 1 to 100 of [A-Za-z0-9_.]`);
    }
    if (this.methods.has(name)) {
      throw new Error(`RPC method ${name} is registered twice`);
    }
    if (definition.permission === 'publish' && !definition.room) {
      throw new Error(`RPC method ${name} publishes, so it must say into which room`);
    }
    this.methods.set(name, definition as unknown as RpcMethodDefinition);
  }

  /** Every registered method, in registration order. */
  list(): readonly RpcMethodDefinition[] {
    return [...this.methods.values()];
  }

  /**
   * `method_not_found`; `forbidden` for a socket calling a backend method (before its params are
   * even read); `invalid_params`; `forbidden` for a socket publishing into a room its token does
   * not allow; then the handler, whose RpcError passes through, whose ChatError (a room
   * operation's refusal: `unavailable` when the broker could not publish) becomes its RPC
   * counterpart, a failure to reach Redis is the retryable `unavailable` (one warning per
   * interval, no stack), and whose other failures are logged (never with the params) and answered
   * `internal_error`.
   */
  async call(method: string, params: unknown, caller: RpcCaller): Promise<unknown> {
    const definition = this.methods.get(method);
    if (!definition) {
      const shown = JSON.stringify(String(method).slice(0, MAX_ECHOED_METHOD));
      throw new RpcError(RpcErrorCode.MethodNotFound, `method ${shown} does not exist`);
    }
    if (caller.kind === 'socket' && definition.permission === 'backend') {
      throw new RpcError(
        RpcErrorCode.Forbidden,
        `${definition.name} may be called by backends only`,
      );
    }
    const dto = validateParams(definition.params, params);
    try {
      this.checkPublish(definition, dto, caller);
      return await definition.handler(dto, caller);
    } catch (error) {
      if (error instanceof RpcError) throw error;
      if (error instanceof ChatError) throw rpcErrorOf(error);
      if (isUnavailability(error)) {
        const kind = 'An RPC call failed: Redis is unavailable';
        this.outages.warn(kind, `${kind} (${definition.name}: ${(error as Error).message})`);
        throw unavailableError();
      }
      // The error's own text and stack only: the params may hold what the caller must not see logged.
      const reason = error instanceof Error ? (error.stack ?? error.message) : String(error);
      this.logger.error(`RPC method ${definition.name} failed: ${reason}`);
      throw new RpcError(RpcErrorCode.InternalError, 'internal server error');
    }
  }

  roomOf(method: string, params: unknown): string | undefined {
    const definition = this.methods.get(method);
    if (!definition?.room) return undefined;
    try {
      return definition.room(validateParams(definition.params, params));
    } catch {
      return undefined;
    }
  }

  isQuery(method: string): boolean {
    return this.methods.get(method)?.permission === 'query';
  }

  /** A socket publishes only into a room its token's `publish` claim matches (any without auth). */
  private checkPublish(definition: RpcMethodDefinition, dto: object, caller: RpcCaller): void {
    if (caller.kind !== 'socket' || definition.permission !== 'publish' || !definition.room) return;
    if (!this.policy.canPublish(caller.principal, definition.room(dto))) {
      throw new RpcError(
        RpcErrorCode.Forbidden,
        `the token does not allow ${definition.name} into this room`,
      );
    }
  }
}
