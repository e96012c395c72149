import Redis from 'ioredis';
import { once } from 'node:events';
import { Server, Socket, connect, createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { RedisConnections } from '../src/redis/redis-connections';
import { RoomStore } from '../src/rooms/room-store';
import { RedisServer, describeWithRedis } from './support/redis-server';
import { ServerProcess, spawnServer } from './support/server-process';
import { PROTOCOL_TEST_LIMITS, RunningApp, startApp } from './support/test-app';
import { Frame, TestClient, joinedClient } from './support/test-client';
import { isChat } from './support/expected-frames';
import { RecordingLogger } from './support/recording-logger';
import { eventually } from './support/eventually';

/*
 * Redis faults (issue 5, "Redis faults" and the "Faults" tests), against real redis-servers and at
 * least two instances each: Redis stopped and restarted under a conversation, an instance killed
 * with SIGKILL, Redis missing at start, an instance stopped gracefully, Redis stalling (SIGSTOP:
 * connections open, no answers) and one instance partitioned from a Redis that keeps its data.
 * No test asserts how long recovery takes; each waits for it within a bound.
 */

const PRESENCE_TTL_MS = 1_500;
/** Bound for recovery after Redis returns (the reconnect backoff tops out at 2 s). */
const RECOVERY_MS = 15_000;
/** Bound for a killed instance's members to expire: several times the TTL. */
const EXPIRY_MS = 6 * PRESENCE_TTL_MS;

let prefixes = 0;
/** A key prefix of its own for each test, shared by that test's instances. */
const uniquePrefix = (): string => `faults${process.pid}-${++prefixes}:`;

const isUserLeft =
  (userId: string) =>
  (frame: Frame): boolean =>
    frame.type === 'user_left' && frame.userId === userId;
const isUserJoined =
  (userId: string) =>
  (frame: Frame): boolean =>
    frame.type === 'user_joined' && frame.userId === userId;

async function httpStatus(baseUrl: string, path: string): Promise<number> {
  const response = await fetch(`${baseUrl}${path}`);
  await response.arrayBuffer();
  return response.status;
}

/** Waits until every server's `/health/ready` answers `status`. */
async function readinessOf(servers: RunningApp[], status: number, what: string): Promise<void> {
  await eventually(
    what,
    async () => {
      const statuses = await Promise.all(
        servers.map((s) => httpStatus(s.httpUrl, '/health/ready')),
      );
      return statuses.every((answered) => answered === status);
    },
    RECOVERY_MS,
  );
}

async function healthBody(baseUrl: string, path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${baseUrl}${path}`);
  return (await response.json()) as Record<string, unknown>;
}

interface PresenceEntry {
  userId: string;
  connections: number;
  since: string;
}

async function presence(client: TestClient): Promise<PresenceEntry[]> {
  const frame = await client.request({ type: 'presence' }, 'presence');
  return frame.users as PresenceEntry[];
}

const userIds = (users: PresenceEntry[]): string[] => users.map((u) => u.userId).sort();

/** Commands waiting in an ioredis client: written and unanswered, or held while disconnected. */
function queuedCommands(clients: RedisConnections): number {
  return [clients.command, clients.subscriber].reduce((sum, client) => {
    const offline = (client as unknown as { offlineQueue: { length: number } }).offlineQueue;
    return sum + (client as Redis).commandQueue.length + offline.length;
  }, 0);
}

/**
 * Sends a numbered probe from `from` until `to` receives one, as cross-instance delivery resumes;
 * returns the probes sent so the caller can check the sender's own echoes.
 */
async function probeUntilDelivered(
  from: TestClient,
  userId: string,
  to: TestClient,
  tag: string,
): Promise<string[]> {
  const sent: string[] = [];
  await eventually(
    `${tag}: a probe delivered`,
    async () => {
      const content = `${tag}-${sent.length}`;
      sent.push(content);
      from.send({ type: 'chat_message', userId, content });
      const isProbe = (f: Frame) =>
        f.type === 'chat_message' && String(f.content).startsWith(`${tag}-`);
      return to.next(isProbe, 250).then(
        () => true,
        () => false,
      );
    },
    RECOVERY_MS,
  );
  return sent;
}

/**
 * A TCP relay in front of Redis for one instance: `cut()` drops its connections and refuses new
 * ones (a network partition; Redis keeps its data), `heal()` accepts them again on the same port.
 */
class RedisLink {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  constructor(private readonly target: RedisServer) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async heal(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, '127.0.0.1');
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ]) {
        this.sockets.add(a);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          this.sockets.delete(a);
          b.destroy();
        });
        a.pipe(b);
      }
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = once(server, 'close');
    server.close();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

/** Starts `src/main.ts` as its own process with the rate limits lifted and the given settings. */
function spawnInstance(settings: Record<string, string>): ServerProcess {
  return spawnServer({
    RATE_LIMIT_PER_SECOND: '1000000',
    RATE_LIMIT_BURST: '1000000',
    ABUSE_ERRORS_MAX: '1000000',
    ...settings,
  });
}

describeWithRedis('Redis faults', () => {
  const redisServers: RedisServer[] = [];
  const apps: RunningApp[] = [];
  const processes: ServerProcess[] = [];
  const clients: TestClient[] = [];
  const inspectors: Redis[] = [];
  const links: RedisLink[] = [];
  let prefix: string;
  let markers = 0;

  beforeEach(() => {
    prefix = uniquePrefix();
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.terminate();
    for (const server of processes.splice(0)) {
      if (server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill('SIGKILL');
      }
      await server.exited;
    }
    await Promise.all(apps.splice(0).map((app) => app.close().catch(() => undefined)));
    for (const inspector of inspectors.splice(0)) inspector.disconnect();
    for (const link of links.splice(0)) await link.cut();
    for (const redis of redisServers.splice(0)) await redis.stop();
  });

  async function redisServer(): Promise<RedisServer> {
    const redis = await RedisServer.start();
    redisServers.push(redis);
    return redis;
  }

  async function instance(redisUrl: string): Promise<RunningApp> {
    const app = await startApp({
      ...PROTOCOL_TEST_LIMITS,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: prefix,
      PRESENCE_TTL_MS,
      SHUTDOWN_TIMEOUT_MS: 4_000,
    });
    apps.push(app);
    return app;
  }

  async function link(redis: RedisServer): Promise<RedisLink> {
    const created = new RedisLink(redis);
    links.push(created);
    await created.heal();
    return created;
  }

  function instanceProcess(redis: RedisServer): ServerProcess {
    const server = spawnInstance({
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
      PRESENCE_TTL_MS: String(PRESENCE_TTL_MS),
    });
    processes.push(server);
    return server;
  }

  function inspector(redis: RedisServer): Redis {
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    inspectors.push(client);
    return client;
  }

  async function join(wsUrl: string, userId: string, roomId: string): Promise<TestClient> {
    const client = await joinedClient(wsUrl, userId, roomId);
    clients.push(client);
    return client;
  }

  /** Sends a chat message as `userId` and waits until every `receiver` has it. */
  async function chat(
    sender: TestClient,
    userId: string,
    content: string,
    receivers: TestClient[],
    timeoutMs = 3_000,
  ): Promise<void> {
    const received = receivers.map((r) => r.next(isChat(content), timeoutMs));
    sender.send({ type: 'chat_message', userId, content });
    const frames = await Promise.all(received);
    for (const frame of frames) expect(frame).toMatchObject({ userId, content });
  }

  /**
   * Sends a chat message that must be refused (the broker cannot publish): the sender alone is
   * answered a retryable `unavailable`, and nobody is shown the message.
   */
  async function refusedChat(sender: TestClient, userId: string, content: string): Promise<void> {
    const answer = await sender.request({ type: 'chat_message', userId, content }, 'error');
    expect(answer).toMatchObject({ code: 'unavailable', retryable: true });
  }

  /** Copies of `content` each client received. */
  const copiesOf = (content: string, receivers: TestClient[]): number[] =>
    receivers.map((r) => r.inbox.filter(isChat(content)).length);

  const clientsOf = (server: RunningApp): RedisConnections => server.app.get(RedisConnections);

  /**
   * Resolves once Redis has answered two more lease beats that look for lapsed instances from
   * each of `servers` (an instance asks only once past its reconnect grace): whatever an expiry
   * or a resync would announce is published by then. Observed on the instance's ioredis command,
   * unchanged.
   */
  async function twoExpiryBeatsAnswered(servers: RunningApp[]): Promise<void> {
    type ScriptCall = (...args: string[]) => Promise<unknown>;
    // An instance that holds no room has nothing to renew, resync or expire.
    const holding: RunningApp[] = [];
    for (const server of servers) {
      if ((await server.app.get<RoomStore>(RoomStore).roomCount()) > 0) holding.push(server);
    }
    const watched = holding.map((server) => {
      const client = clientsOf(server).command as unknown as { chatMemberBeat: ScriptCall };
      const beat = client.chatMemberBeat;
      const watch = { client, beat, answered: 0 };
      client.chatMemberBeat = (...args) =>
        beat.apply(client, args).then((result) => {
          // The last argument asks for lapsed instances.
          if (args.at(-1) === '1') watch.answered += 1;
          return result;
        });
      return watch;
    });
    try {
      await eventually(
        'two more expiry beats answered on every instance',
        () => watched.every((watch) => watch.answered >= 2),
        RECOVERY_MS,
      );
    } finally {
      for (const { client, beat } of watched) client.chatMemberBeat = beat;
    }
  }

  /**
   * Waits for the point after which nothing more may come (in place of a pause): two expiry
   * beats of every instance, then a marker chat message from `sender` reaching every receiver, after
   * whatever those reaps published in the room (one order per room).
   */
  async function settled(
    servers: RunningApp[],
    sender: TestClient,
    userId: string,
    receivers: TestClient[],
  ): Promise<void> {
    await twoExpiryBeatsAnswered(servers);
    await chat(sender, userId, `settled ${++markers}`, receivers);
  }

  it('keeps local membership while Redis is down, refuses messages, and rejoins the cluster when it returns', async () => {
    const redis = await redisServer();
    const a = await instance(redis.url);
    const b = await instance(redis.url);
    const alice = await join(a.wsUrl, 'alice', 'r');
    const carol = await join(a.wsUrl, 'carol', 'r');
    const bob = await join(b.wsUrl, 'bob', 'r');
    await alice.next(isUserJoined('bob'));
    await chat(alice, 'alice', 'before the outage', [alice, carol, bob]);
    await chat(bob, 'bob', 'bob before the outage', [alice, carol, bob]);

    await redis.stop();
    await readinessOf([a, b], 503, 'A and B notice that Redis is gone');

    // Health: readiness (and the seed's GET /) down on the redis indicator, liveness up.
    for (const path of ['/health/ready', '/', '/health']) {
      expect(await httpStatus(a.httpUrl, path)).toBe(503);
      expect(await healthBody(a.httpUrl, path)).toMatchObject({
        status: 'error',
        error: { redis: { status: 'down' } },
        details: { chat: { status: 'up' }, redis: { status: 'down' } },
      });
    }
    expect(await httpStatus(a.httpUrl, '/health/live')).toBe(200);
    expect(await healthBody(a.httpUrl, '/health/live')).toMatchObject({
      status: 'ok',
      details: { chat: { status: 'up' } },
    });
    expect(await httpStatus(b.httpUrl, '/health/live')).toBe(200);

    // Messages are refused on both instances, to their senders only: none reaches one
    // instance's members without the rest of the room and the history.
    await refusedChat(alice, 'alice', 'during the outage');
    await refusedChat(bob, 'bob', 'bob during the outage');

    // A new client can still join on A; its message is refused. Nobody is shown the join yet:
    // it is published, in the room's order, when Redis returns.
    const dave = await join(a.wsUrl, 'dave', 'r');
    await refusedChat(dave, 'dave', 'dave joined during the outage');
    const joinedDave = (client: TestClient): Frame[] =>
      client.unread('user_joined').filter((f) => f.userId === 'dave');
    expect([...joinedDave(alice), ...joinedDave(carol)]).toEqual([]);
    // Presence answers (degraded: this instance's own view) instead of hanging.
    expect(userIds(await presence(alice))).toEqual(['alice', 'carol', 'dave']);
    // A room first entered while Redis is away: subscribed when it returns.
    const erin = await join(a.wsUrl, 'erin', 'r2');
    await refusedChat(erin, 'erin', 'alone in r2');
    for (const content of ['during the outage', 'bob during the outage', 'alone in r2']) {
      expect(copiesOf(content, [alice, carol, dave, bob, erin])).toEqual([0, 0, 0, 0, 0]);
    }
    expect(copiesOf('dave joined during the outage', [alice, carol, dave, bob])).toEqual([
      0, 0, 0, 0,
    ]);

    // A burst while Redis is away: every message is refused at once, nothing queues for Redis.
    const burst = 300;
    let maxQueued = 0;
    const sampler = setInterval(() => {
      maxQueued = Math.max(maxQueued, queuedCommands(clientsOf(a)), queuedCommands(clientsOf(b)));
    }, 5);
    const refusals = (): Frame[] => alice.unread('error');
    const before = refusals().length;
    try {
      for (let i = 0; i < burst; i++) {
        alice.send({ type: 'chat_message', userId: 'alice', content: `burst-${i}` });
      }
      await eventually(
        'every message of the burst refused',
        () => refusals().length - before === burst,
        10_000,
      );
    } finally {
      clearInterval(sampler);
    }
    expect(refusals().every((f) => f.code === 'unavailable')).toBe(true);
    for (const client of [alice, carol]) {
      expect(client.inbox.filter((f) => String(f.content).startsWith('burst-'))).toEqual([]);
    }
    expect(maxQueued).toBeLessThanOrEqual(2);
    expect(queuedCommands(clientsOf(a))).toBe(0);

    // Redis returns, empty. Dave's join, never sent, is announced to the whole room, once;
    // the others, whose membership Redis lost, are not announced again.
    const joinsBefore = [alice, carol, bob].map((client) => client.unread('user_joined').length);
    await redis.restart();
    for (const client of [alice, carol, bob]) {
      expect(await client.next(isUserJoined('dave'), RECOVERY_MS)).toMatchObject({ roomId: 'r' });
    }
    const probesFromA = await probeUntilDelivered(alice, 'alice', bob, 'a-probe');
    await probeUntilDelivered(bob, 'bob', alice, 'b-probe');
    await chat(alice, 'alice', 'after the outage', [alice, carol, dave, bob]);
    await chat(bob, 'bob', 'bob after the outage', [alice, carol, dave, bob]);
    // No probe was lost for the sender's own instance while the cluster came back: each reached
    // all of A's members, or none (refused). (bob's copies were taken by the probing.)
    for (const content of probesFromA) {
      const copies = copiesOf(content, [alice, carol, dave]).join();
      expect(['0,0,0', '1,1,1']).toContain(copies);
    }

    await readinessOf([a, b], 200, 'readiness returns to 200 on A and B');
    expect(await healthBody(a.httpUrl, '/')).toMatchObject({
      status: 'ok',
      details: { redis: { status: 'up' } },
    });

    // Membership was registered again from both instances, dave's (joined while away) included.
    await eventually(
      'presence lists everyone again on both instances',
      async () => {
        const [fromA, fromB] = await Promise.all([presence(alice), presence(bob)]);
        const expected = ['alice', 'bob', 'carol', 'dave'];
        return (
          JSON.stringify(userIds(fromA)) === JSON.stringify(expected) &&
          JSON.stringify(userIds(fromB)) === JSON.stringify(expected)
        );
      },
      RECOVERY_MS,
    );
    for (const entry of await presence(bob)) expect(entry.connections).toBe(1);

    const frank = await join(b.wsUrl, 'frank', 'r2');
    expect(await erin.next(isUserJoined('frank'))).toMatchObject({ roomId: 'r2' });
    await chat(frank, 'frank', 'B to A in r2', [erin, frank]);
    await chat(erin, 'erin', 'A to B in r2', [erin, frank]);
    expect(userIds(await presence(frank))).toEqual(['erin', 'frank']);

    // Nobody left, so nobody was announced as leaving, and nobody joined twice.
    for (const client of [alice, carol, dave, bob, erin]) {
      expect(client.unread('user_left')).toEqual([]);
    }
    expect([alice, carol, bob].map((client) => client.unread('user_joined').length)).toEqual(
      joinsBefore,
    );
  }, 45_000);

  it('announces exactly one user_left for each user of an instance killed with SIGKILL', async () => {
    const redis = await redisServer();
    const a = await instance(redis.url);
    const killed = instanceProcess(redis);
    const bPort = await killed.port;
    const bUrl = `ws://127.0.0.1:${bPort}`;

    const alice = await join(a.wsUrl, 'alice', 'r');
    const bob = await join(bUrl, 'bob', 'r');
    await alice.next(isUserJoined('bob'));
    // dan is in the room from both instances: the kill must not announce dan.
    await join(a.wsUrl, 'dan', 'r');
    await alice.next(isUserJoined('dan'));
    await join(bUrl, 'dan', 'r');
    await chat(bob, 'bob', 'cross-instance before the kill', [alice, bob]);

    const redisView = inspector(redis);
    await redisView.connect();
    const aId = clientsOf(a).instanceId;
    const instances = await redisView.zrange(`${prefix}{r}:leases`, '0', '-1');
    expect(instances).toHaveLength(2);
    const bId = instances.find((id) => id !== aId) ?? '';
    expect(await redisView.scard(`${prefix}{r}:i:${bId}`)).toBe(2);
    expect(await presence(alice)).toEqual(
      expect.arrayContaining([expect.objectContaining({ userId: 'dan', connections: 2 })]),
    );

    killed.child.kill('SIGKILL');
    expect(await killed.exited).toEqual({ code: null, signal: 'SIGKILL' });

    expect(await alice.next(isUserLeft('bob'), EXPIRY_MS)).toMatchObject({
      type: 'user_left',
      userId: 'bob',
      roomId: 'r',
    });
    await eventually(
      'Redis forgets the killed instance’s entries (its lease a tombstone)',
      async () =>
        (await redisView.exists(`${prefix}{r}:i:${bId}`)) === 0 &&
        Number(await redisView.zscore(`${prefix}{r}:leases`, bId)) < 0,
      EXPIRY_MS,
    );
    const conns = await redisView.hkeys(`${prefix}{r}:conns`);
    expect(conns.filter((entry) => entry.startsWith(`${bId}:`))).toEqual([]);
    expect(conns.every((entry) => entry.startsWith(`${aId}:`))).toBe(true);

    // A repeated announcement or a wrongful reap of A would show by then.
    await settled([a], alice, 'alice', [alice]);
    expect(alice.unread('user_left')).toEqual([]);
    const users = await presence(alice);
    expect(userIds(users)).toEqual(['alice', 'dan']);
    expect(users.find((u) => u.userId === 'dan')).toMatchObject({ connections: 1 });
    expect(Number(await redisView.zscore(`${prefix}{r}:leases`, aId))).toBeGreaterThan(0);
    await chat(alice, 'alice', 'A still serves after the kill', [alice]);
  }, 30_000);

  it('starts without Redis, keeps local membership, refuses messages, and joins the cluster when Redis appears', async () => {
    // A port where nothing listens yet: a Redis started and stopped again.
    const redis = await redisServer();
    await redis.stop();

    const a = await instance(redis.url);
    const alice = await join(a.wsUrl, 'alice', 'r');
    const carol = await join(a.wsUrl, 'carol', 'r');
    await refusedChat(alice, 'alice', 'local without Redis');
    expect(alice.unread('user_joined')).toEqual([]);
    expect(copiesOf('local without Redis', [alice, carol])).toEqual([0, 0]);
    expect(await httpStatus(a.httpUrl, '/health/ready')).toBe(503);
    expect(await healthBody(a.httpUrl, '/health/ready')).toMatchObject({
      error: { redis: { status: 'down' } },
    });
    expect(await httpStatus(a.httpUrl, '/health/live')).toBe(200);

    await redis.restart();
    await eventually(
      'A becomes ready once Redis appears',
      async () => (await httpStatus(a.httpUrl, '/health/ready')) === 200,
      RECOVERY_MS,
    );
    // The joins made without Redis are published once it answers, to A's members too.
    await alice.next(isUserJoined('carol'), RECOVERY_MS);
    const b = await instance(redis.url);
    const bob = await join(b.wsUrl, 'bob', 'r');
    // A subscribed its room and registered its members once Redis appeared.
    await alice.next(isUserJoined('bob'), 5_000);
    await eventually(
      'B sees the members A registered',
      async () => {
        return JSON.stringify(userIds(await presence(bob))) === '["alice","bob","carol"]';
      },
      RECOVERY_MS,
    );
    await chat(alice, 'alice', 'A to B', [alice, carol, bob]);
    await chat(bob, 'bob', 'B to A', [alice, carol, bob]);
    expect(bob.unread('user_joined')).toEqual([]);
  }, 30_000);

  it('removes the membership of a gracefully stopped instance and announces its users', async () => {
    const redis = await redisServer();
    const a = await instance(redis.url);
    const b = await instance(redis.url);
    const alice = await join(a.wsUrl, 'alice', 'r');
    const bob = await join(b.wsUrl, 'bob', 'r');
    await alice.next(isUserJoined('bob'));
    await join(a.wsUrl, 'dan', 'r');
    await alice.next(isUserJoined('dan'));
    await join(b.wsUrl, 'dan', 'r');
    await chat(bob, 'bob', 'B before its stop', [alice, bob]);

    const redisView = inspector(redis);
    await redisView.connect();
    const aId = clientsOf(a).instanceId;
    const bId = clientsOf(b).instanceId;
    expect(await redisView.scard(`${prefix}{r}:i:${bId}`)).toBe(2);

    await b.close();
    apps.splice(apps.indexOf(b), 1);
    expect((await bob.closed).code).toBe(1012);

    expect(await alice.next(isUserLeft('bob'))).toMatchObject({ userId: 'bob', roomId: 'r' });
    expect(await redisView.exists(`${prefix}{r}:i:${bId}`)).toBe(0);
    expect(await redisView.zscore(`${prefix}{r}:leases`, bId)).toBeNull();
    const conns = await redisView.hkeys(`${prefix}{r}:conns`);
    expect(conns.length).toBe(2);
    expect(conns.every((entry) => entry.startsWith(`${aId}:`))).toBe(true);

    // Nothing more: no second user_left for bob, none for dan (still here through A).
    await settled([a], alice, 'alice', [alice]);
    expect(alice.unread('user_left')).toEqual([]);
    const users = await presence(alice);
    expect(userIds(users)).toEqual(['alice', 'dan']);
    expect(users.find((u) => u.userId === 'dan')).toMatchObject({ connections: 1 });
  }, 20_000);

  it('answers every message while Redis stalls without half delivery, and resumes without duplicates or departures', async () => {
    const redis = await redisServer();
    const a = await instance(redis.url);
    const b = await instance(redis.url);
    const alice = await join(a.wsUrl, 'alice', 'r');
    const carol = await join(a.wsUrl, 'carol', 'r');
    const bob = await join(b.wsUrl, 'bob', 'r');
    await alice.next(isUserJoined('bob'));
    await chat(alice, 'alice', 'before the stall', [alice, carol, bob]);

    const redisView = inspector(redis);
    await redisView.connect();
    const pid = Number(/process_id:(\d+)/.exec(await redisView.info('server'))?.[1]);
    redisView.disconnect();
    // A stall (a network partition, a paused VM): the TCP connections stay open, nothing answers.
    process.kill(pid, 'SIGSTOP');
    const burst = 20;
    let answered = 0;
    let maxQueued = 0;
    const refusalsBefore = alice.unread('error').length;
    try {
      await eventually(
        'A reports Redis down while it stalls',
        async () => (await httpStatus(a.httpUrl, '/health/ready')) === 503,
        RECOVERY_MS,
      );
      expect(await httpStatus(a.httpUrl, '/health/live')).toBe(200);

      const sampler = setInterval(() => {
        maxQueued = Math.max(maxQueued, queuedCommands(clientsOf(a)));
      }, 5);
      try {
        for (let i = 0; i < burst; i++) {
          alice.send({ type: 'chat_message', userId: 'alice', content: `stall-${i}` });
        }
        // Bounded: each message is answered (refused, or echoed once published) although Redis
        // does not answer.
        await eventually(
          'every message answered during the stall',
          () => {
            const echoed = alice.inbox.filter((f) => String(f.content).startsWith('stall-'));
            answered = echoed.length + alice.unread('error').length - refusalsBefore;
            return answered >= burst;
          },
          10_000,
        ).catch(() => undefined);
      } finally {
        clearInterval(sampler);
      }
    } finally {
      process.kill(pid, 'SIGCONT');
    }

    await probeUntilDelivered(alice, 'alice', bob, 'a-probe');
    await probeUntilDelivered(bob, 'bob', alice, 'b-probe');
    // Commands queued during the stall are answered and reaps have run.
    await settled([a, b], bob, 'bob', [alice, carol, bob]);
    // Each message reached every member once, or nobody (refused): never some of the room.
    const fates = Array.from({ length: burst }, (_, i) =>
      copiesOf(`stall-${i}`, [alice, carol, bob]).join(),
    );
    // One comparison, so a failure shows every figure at once.
    expect({
      answeredDuringStall: answered >= burst,
      queuedCommandsBounded: maxQueued <= 5,
      maxQueuedCommands: maxQueued,
      halfDelivered: fates.filter((fate) => fate !== '0,0,0' && fate !== '1,1,1'),
      userLeft: [...alice.unread('user_left'), ...bob.unread('user_left')],
    }).toEqual({
      answeredDuringStall: true,
      queuedCommandsBounded: true,
      maxQueuedCommands: maxQueued,
      halfDelivered: [],
      userLeft: [],
    });
    expect(userIds(await presence(bob))).toEqual(['alice', 'bob', 'carol']);
  }, 40_000);

  it('shows a change made during an outage to every member once Redis answers, its own instance’s included, once', async () => {
    const redis = await redisServer();
    const a = await instance(redis.url);
    const b = await instance(redis.url);
    const alice = await join(a.wsUrl, 'alice', 'r');
    const dave = await join(a.wsUrl, 'dave', 'r');
    await alice.next(isUserJoined('dave'));
    const bob = await join(b.wsUrl, 'bob', 'r');
    await alice.next(isUserJoined('bob'));
    await dave.next(isUserJoined('bob'));
    const pauser = inspector(redis);
    await pauser.connect();
    // Redis accepts connections but answers nothing for 4 s (a paused VM, a failover).
    await pauser.call('CLIENT', 'PAUSE', '4000', 'ALL');
    await eventually(
      'A reports Redis down',
      async () => (await httpStatus(a.httpUrl, '/health/ready')) === 503,
    );
    const carol = await join(a.wsUrl, 'carol', 'r');
    await dave.close();
    // Everyone is told once Redis answers again, in the room's order.
    for (const client of [alice, bob]) {
      await client.next(isUserJoined('carol'), RECOVERY_MS);
      await client.next(isUserLeft('dave'), RECOVERY_MS);
    }
    await probeUntilDelivered(carol, 'carol', bob, 'probe');
    await settled([a, b], carol, 'carol', [alice, bob, carol]);
    expect({
      atAlice: [...alice.unread('user_joined'), ...alice.unread('user_left')],
      atBob: [...bob.unread('user_joined'), ...bob.unread('user_left')],
      present: userIds(await presence(bob)),
    }).toEqual({ atAlice: [], atBob: [], present: ['alice', 'bob', 'carol'] });
  }, 40_000);

  it('logs Redis refusing commands at warn, once per kind and interval, and answers each sender', async () => {
    const redis = await redisServer();
    const logger = new RecordingLogger();
    const app = await startApp(
      { ...PROTOCOL_TEST_LIMITS, REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix },
      { logger },
    );
    apps.push(app);
    const alice = await join(app.wsUrl, 'alice', 'r');
    const admin = inspector(redis);
    await admin.connect();
    // The room's position key holds the wrong type: Redis refuses every publish (WRONGTYPE).
    await admin.set(`${prefix}{r}:meta`, 'not a hash');
    const refusals = 30;
    for (let i = 0; i < refusals; i++) {
      alice.send({ type: 'chat_message', userId: 'alice', content: `refused ${i}` });
    }
    for (let i = 0; i < refusals; i++) {
      expect(await alice.next('error')).toMatchObject({ code: 'unavailable', retryable: true });
    }
    const warned = logger.lines.filter(
      (line) => line.level === 'warn' && line.message.includes('WRONGTYPE'),
    );
    expect(warned).toHaveLength(1);
    expect(alice.unread('chat_message')).toEqual([]);
  }, 20_000);

  it('announces a user who left right after Redis lost its data, once the instances registered again', async () => {
    const redis = await redisServer();
    const a = await instance(redis.url);
    const b = await instance(redis.url);
    const alice = await join(a.wsUrl, 'alice', 'r');
    const bob = await join(b.wsUrl, 'bob', 'r');
    await alice.next(isUserJoined('bob'));
    const admin = inspector(redis);
    await admin.connect();
    // Redis loses everything (FLUSHALL, a restart without persistence); bob leaves at once,
    // before B has registered its connections again: Redis does not know he was there.
    await admin.flushall();
    await bob.close();
    await alice.next(isUserLeft('bob'), RECOVERY_MS);
    await settled([a, b], alice, 'alice', [alice]);
    expect(alice.unread('user_left')).toEqual([]);
    expect(userIds(await presence(alice))).toEqual(['alice']);
  }, 30_000);

  it('never closes a connection that keeps switching rooms for not having joined', async () => {
    const redis = await redisServer();
    const app = await startApp({
      ...PROTOCOL_TEST_LIMITS,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
      JOIN_TIMEOUT_MS: 200,
    });
    apps.push(app);
    const hopper = await join(app.wsUrl, 'hopper', 'r0');
    // Switch rooms back to back for several join timeouts: the sweep may look mid-switch.
    const until = Date.now() + 1_500;
    for (let i = 1; Date.now() < until; i++) {
      await hopper.request({ type: 'switch_room', userId: 'hopper', roomId: `r${i}` }, 'joined');
    }
    const closed = await Promise.race([hopper.closed, delay(400).then(() => undefined)]);
    expect(closed).toBeUndefined();
  }, 20_000);

  it('answers a message Redis did not take in time with a retryable unavailable error', async () => {
    const redis = await redisServer();
    const a = await instance(redis.url);
    const alice = await join(a.wsUrl, 'alice', 'r');
    const pauser = inspector(redis);
    await pauser.connect();
    // Redis answers nothing past the command timeout while alice's message is on its way: the
    // pause holds from its reply on.
    await pauser.call('CLIENT', 'PAUSE', '3000', 'ALL');
    const error = await alice.request(
      { type: 'chat_message', userId: 'alice', content: 'during the stall' },
      'error',
    );
    expect(error).toEqual({
      type: 'error',
      code: 'unavailable',
      retryable: true,
      message: expect.any(String),
    });
    // Once Redis answers again, the same message goes through (sent again by the client).
    await probeUntilDelivered(alice, 'alice', alice, 'retry');
  }, 30_000);

  it('announces a user who joined during a short stall to the other instances once Redis answers', async () => {
    const redis = await redisServer();
    const a = await instance(redis.url);
    const b = await instance(redis.url);
    const bob = await join(b.wsUrl, 'bob', 'r');
    const redisView = inspector(redis);
    await redisView.connect();
    const pid = Number(/process_id:(\d+)/.exec(await redisView.info('server'))?.[1]);
    redisView.disconnect();
    // A blip far shorter than the reap window: A notices it, alice joins on A meanwhile.
    process.kill(pid, 'SIGSTOP');
    let alice: TestClient;
    try {
      await eventually(
        'A reports Redis down while it stalls',
        async () => (await httpStatus(a.httpUrl, '/health/ready')) === 503,
      );
      alice = await join(a.wsUrl, 'alice', 'r');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // Bob is told, exactly once, and alice stays: no user_left for a user nobody announced.
    await bob.next(isUserJoined('alice'), RECOVERY_MS);
    await probeUntilDelivered(alice, 'alice', bob, 'probe');
    await settled([a, b], alice, 'alice', [alice, bob]);
    expect({
      joined: bob.unread('user_joined'),
      left: bob.unread('user_left'),
      present: userIds(await presence(bob)),
    }).toEqual({ joined: [], left: [], present: ['alice', 'bob'] });
  }, 40_000);

  it('announces user_joined again for the members of an instance back from a partition', async () => {
    const redis = await redisServer();
    const linkB = await link(redis);
    const a = await instance(redis.url);
    const b = await instance(linkB.url);
    const alice = await join(a.wsUrl, 'alice', 'r');
    const bob = await join(b.wsUrl, 'bob', 'r');
    await alice.next(isUserJoined('bob'));
    await chat(bob, 'bob', 'before the partition', [alice, bob]);

    // B loses Redis (which keeps its data) for longer than the TTL: the cluster presumes it dead.
    await linkB.cut();
    expect(await alice.next(isUserLeft('bob'), EXPIRY_MS)).toMatchObject({ roomId: 'r' });
    await linkB.heal();
    await probeUntilDelivered(bob, 'bob', alice, 'b-probe');
    await probeUntilDelivered(alice, 'alice', bob, 'a-probe');
    await eventually(
      'presence lists bob again once B has re-registered',
      async () => JSON.stringify(userIds(await presence(alice))) === '["alice","bob"]',
      RECOVERY_MS,
    );

    // bob is back in presence, so alice, who was told that bob left, is told that he is back.
    expect(await alice.next(isUserJoined('bob'), 2 * PRESENCE_TTL_MS)).toMatchObject({
      roomId: 'r',
    });
    expect(alice.unread('user_left')).toEqual([]);
  }, 30_000);
});
