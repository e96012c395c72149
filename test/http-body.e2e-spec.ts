import { InMemoryRoomsModule } from '../src/rooms/in-memory-rooms.module';
import { RoomsModule } from '../src/rooms/rooms.module';
import {
  Body,
  Controller,
  DynamicModule,
  MiddlewareConsumer,
  Module,
  NestModule,
  Post,
  RequestMethod,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import { guardHttp } from '../src/app.factory';
import type { AppConfig } from '../src/config/app-config';
import { AppConfigModule } from '../src/config/app-config.module';
import { configWith } from '../src/config/load-config';
import { LifecycleModule } from '../src/lifecycle/lifecycle.module';
import { JsonBodyMiddleware } from '../src/transport/json-body.middleware';
import { TransportModule } from '../src/transport/transport.module';
import { countResponses, rawSocket } from './support/raw-socket';

/*
 * The middleware on its own (`POST /api/rpc` uses it: test/rpc-http.e2e-spec.ts). These tests
 * mount two routes of their own behind the same HTTP defences as the app (`guardHttp`, no global
 * body parser): one that enables JsonBodyMiddleware the documented way, one that does not.
 */

@Controller('api')
class EchoController {
  @Post('echo')
  echo(@Body() body: unknown): { body: unknown } {
    return { body: body ?? null };
  }

  @Post('plain')
  plain(@Body() body: unknown): { body: unknown } {
    return { body: body ?? null };
  }
}

@Module({})
class EchoModule implements NestModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: EchoModule,
      // The transport needs the rooms backend (the per-user connection count comes from it).
      imports: [
        AppConfigModule.forRoot(config),
        LifecycleModule,
        RoomsModule.forRoot(InMemoryRoomsModule),
        TransportModule,
      ],
      controllers: [EchoController],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(JsonBodyMiddleware).forRoutes({ path: 'api/echo', method: RequestMethod.POST });
  }
}

interface LogLine {
  level: string;
  message: string;
}

describe('request bodies', () => {
  let app: NestExpressApplication;
  let port: number;
  let lines: LogLine[];
  /** Lines logged while the app started (route mapping and the like). */
  let startup: number;

  beforeEach(async () => {
    lines = [];
    const record = (level: string) => (message: unknown) =>
      void lines.push({ level, message: String(message) });
    const config = configWith({ MAX_PAYLOAD_BYTES: 1024, HTTP_REQUEST_TIMEOUT_MS: 300 });
    app = await NestFactory.create<NestExpressApplication>(EchoModule.forRoot(config), {
      bodyParser: false,
      logger: {
        log: record('log'),
        error: record('error'),
        warn: record('warn'),
        debug: record('debug'),
        verbose: record('verbose'),
        fatal: record('fatal'),
      },
    });
    guardHttp(app);
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as AddressInfo).port;
    startup = lines.length;
  });

  afterEach(() => app.close());

  const post = (path: string, body: string) =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body,
    });
  /** What the requests made the app log above debug. */
  const aboveDebug = () =>
    lines.slice(startup).filter((l) => l.level !== 'debug' && l.level !== 'verbose');

  it('parses a JSON body on the route that enables JsonBodyMiddleware', async () => {
    const response = await post('/api/echo', '{"method":"ping"}');
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ body: { method: 'ping' } });
  });

  it('reads no body on a route that does not enable it', async () => {
    const response = await post('/api/plain', '{"method":"ping"}');
    expect(await response.json()).toEqual({ body: null });
  });

  it('answers a body over MAX_PAYLOAD_BYTES with 413 and malformed JSON with 400, logging them at debug only', async () => {
    expect((await post('/api/echo', JSON.stringify({ pad: 'x'.repeat(2000) }))).status).toBe(413);
    expect((await post('/api/echo', '{"method":')).status).toBe(400);
    expect(aboveDebug()).toEqual([]);
    expect(lines.filter((l) => l.level === 'debug').map((l) => l.message)).toEqual(
      expect.arrayContaining([expect.stringContaining('413'), expect.stringContaining('400')]),
    );
  });

  it('answers 408 and closes the socket when the body is not in within HTTP_REQUEST_TIMEOUT_MS', async () => {
    const slow = await rawSocket(port);
    slow.socket.write(
      'POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Content-Length: 100\r\n\r\n{"method":',
    );
    await slow.closed;
    expect(countResponses(slow.received(), 408)).toBe(1);
    expect(aboveDebug()).toEqual([]);
  });
});
