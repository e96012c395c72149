import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { eventually } from './eventually';
import { describeNeeding, freePort, redisServerPath } from './redis-server';

/** redis-cli (Debian's redis-tools), which forms the cluster; undefined when missing. */
export const redisCliPath: string | undefined = (() => {
  const found = spawnSync('sh', ['-c', 'command -v redis-cli'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
})();

/**
 * `describe` for suites that need a Redis Cluster (redis-server and redis-cli): skipped with a
 * warning when either is missing, and a failing suite when Redis is required (CI).
 */
export function describeWithRedisCluster(name: string, body: () => void): void {
  describeNeeding(
    redisServerPath !== undefined && redisCliPath !== undefined,
    {
      what: 'redis-server and redis-cli',
      packages: 'redis-server redis-tools',
      suite: 'Redis Cluster suite',
    },
    name,
    body,
  );
}

export interface ClusterNode {
  readonly port: number;
  /** `127.0.0.1:<port>`, as REDIS_CLUSTER_NODES lists seeds. */
  readonly address: string;
}

interface RunningNode extends ClusterNode {
  process: ChildProcess;
}

export interface ClusterOptions {
  /** Masters, each owning a third (with 3) of the 16,384 slots (default 3). */
  masters?: number;
  /** Replicas per master, for failover tests (default 0). */
  replicas?: number;
  /** cluster-node-timeout: how long a master may be unreachable before failover (default 2000). */
  nodeTimeoutMs?: number;
  /** Runs every node through `taskset -c CORE` (the bench keeps Redis on the servers' core). */
  pin?: { taskset: string; core: number };
  /**
   * cluster-require-full-coverage (default true, as Redis): false lets the other shards serve
   * while one master fails over.
   */
  requireFullCoverage?: boolean;
}

/**
 * A real Redis Cluster for the tests: `redis-server --cluster-enabled yes` processes on free
 * loopback ports (the bus port chosen with `cluster-port`, Redis 7), formed by
 * `redis-cli --cluster create`, without persistence, in a temporary directory removed at `stop`.
 * `start` resolves once every node reports `cluster_state:ok`.
 */
export class RedisCluster {
  private constructor(
    private readonly nodes: RunningNode[],
    private readonly dir: string,
  ) {}

  /** Every node, masters first (as `--cluster create` assigns them). */
  get addresses(): string[] {
    return this.nodes.map((node) => node.address);
  }

  /** The seeds for REDIS_CLUSTER_NODES: every node, comma-separated. */
  get seeds(): string {
    return this.addresses.join(',');
  }

  static async start(options: ClusterOptions = {}): Promise<RedisCluster> {
    const {
      masters = 3,
      replicas = 0,
      nodeTimeoutMs = 2_000,
      requireFullCoverage = true,
      pin,
    } = options;
    if (!redisServerPath || !redisCliPath) throw new Error('redis-server or redis-cli missing');
    const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'));
    const nodes: RunningNode[] = [];
    const cluster = new RedisCluster(nodes, dir);
    try {
      for (let i = 0; i < masters * (1 + replicas); i++) {
        const [port, busPort] = [await freePort(), await freePort()];
        const args = [
          ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
          ...['--save', '', '--appendonly', 'no'],
          ...['--cluster-enabled', 'yes', '--cluster-port', String(busPort)],
          ...['--cluster-config-file', `nodes-${port}.conf`],
          ...['--cluster-node-timeout', String(nodeTimeoutMs)],
          ...['--cluster-require-full-coverage', requireFullCoverage ? 'yes' : 'no'],
          ...['--enable-debug-command', 'local'],
        ];
        // taskset execs redis-server: the child's pid is the node's.
        const child = pin
          ? spawn(pin.taskset, ['-c', String(pin.core), redisServerPath, ...args], {
              stdio: 'ignore',
            })
          : spawn(redisServerPath, args, { stdio: 'ignore' });
        nodes.push({ port, address: `127.0.0.1:${port}`, process: child });
      }
      for (const node of nodes) {
        await eventually(`cluster node ${node.address} to answer`, () => ping(node.port), 10_000);
      }
      const formed = spawnSync(
        redisCliPath,
        [
          '--cluster',
          'create',
          ...nodes.map((node) => node.address),
          '--cluster-replicas',
          String(replicas),
          '--cluster-yes',
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
      if (formed.status !== 0) {
        throw new Error(`redis-cli --cluster create failed: ${formed.stdout}${formed.stderr}`);
      }
      await cluster.untilHealthy();
      // A replica that never synced cannot be promoted: failover tests need them in sync.
      for (const node of nodes) {
        await eventually(
          `${node.address} in sync with its master, if a replica`,
          () => synced(node.port),
          {
            done: (inSync) => inSync,
            timeoutMs: 20_000,
            intervalMs: 100,
          },
        );
      }
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Resolves once every running node reports `cluster_state:ok`. */
  async untilHealthy(timeoutMs = 20_000): Promise<void> {
    for (const node of this.nodes) {
      if (!isRunning(node.process)) continue;
      await eventually(`cluster_state:ok on ${node.address}`, () => clusterState(node.port), {
        done: (state) => state === 'ok',
        timeoutMs,
        intervalMs: 100,
      });
    }
  }

  /** The address of the master that owns `key`'s slot (or the slot), as a running node sees it. */
  async masterOf(key: string | number): Promise<string> {
    const live = this.nodes.find((node) => isRunning(node.process));
    if (!live) throw new Error('no cluster node is running');
    const client = new Redis(live.port, '127.0.0.1', { lazyConnect: true });
    try {
      await client.connect();
      const slot =
        typeof key === 'number' ? key : ((await client.call('CLUSTER', 'KEYSLOT', key)) as number);
      const shards = (await client.call('CLUSTER', 'SLOTS')) as [
        number,
        number,
        [string, number],
      ][];
      const owner = shards.find(([from, to]) => slot >= from && slot <= to);
      if (!owner) throw new Error(`no master owns slot ${slot}`);
      return `${owner[2][0]}:${owner[2][1]}`;
    } finally {
      client.disconnect();
    }
  }

  /**
   * Moves `slot` with its keys to the master at `toAddress`, as `redis-cli --cluster reshard`
   * does: SETSLOT IMPORTING on the target, MIGRATING on the source, MIGRATE of its keys (in
   * batches, until none is left: commands meanwhile are redirected with ASK), then SETSLOT NODE on
   * the target, the source and the other masters.
   */
  async moveSlot(slot: number, toAddress: string): Promise<void> {
    const live = this.nodes.filter((node) => isRunning(node.process));
    const fromAddress = await this.masterOf(slot);
    if (fromAddress === toAddress) return;
    const portOf = (address: string): number => Number(address.split(':')[1]);
    const ask = <T>(address: string, ...args: (string | number)[]): Promise<T> =>
      askNode(portOf(address), (client) => client.call(String(args[0]), ...args.slice(1))).then(
        (answer) => {
          if (answer === undefined) throw new Error(`${address} did not answer ${args.join(' ')}`);
          return answer as T;
        },
      );
    const [fromId, toId] = await Promise.all(
      [fromAddress, toAddress].map((address) => ask<string>(address, 'CLUSTER', 'MYID')),
    );
    await ask(toAddress, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId);
    await ask(fromAddress, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId);
    for (;;) {
      const keys = await ask<string[]>(fromAddress, 'CLUSTER', 'GETKEYSINSLOT', slot, 100);
      if (keys.length === 0) break;
      const [host, port] = toAddress.split(':');
      await ask(fromAddress, 'MIGRATE', host, port, '', 0, 5_000, 'KEYS', ...keys);
    }
    await ask(toAddress, 'CLUSTER', 'SETSLOT', slot, 'NODE', toId);
    await ask(fromAddress, 'CLUSTER', 'SETSLOT', slot, 'NODE', toId);
    const others = live.filter((node) => ![fromAddress, toAddress].includes(node.address));
    // Replicas refuse SETSLOT (and learn it from their masters): answers are not awaited as such.
    await Promise.all(
      others.map((node) =>
        askNode(node.port, (c) => c.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId)),
      ),
    );
  }

  /** SIGKILLs the node at `address` (a crash, as a lost machine looks to the others). */
  async kill(address: string): Promise<void> {
    const node = this.nodes.find((candidate) => candidate.address === address);
    if (!node || !isRunning(node.process)) return;
    node.process.kill('SIGKILL');
    await once(node.process, 'exit');
  }

  /** SIGKILLs every node without waiting: for a process `exit` handler, which cannot wait. */
  killNow(): void {
    for (const node of this.nodes) if (isRunning(node.process)) node.process.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (node) => {
        if (!isRunning(node.process)) return;
        node.process.kill('SIGKILL');
        await once(node.process, 'exit');
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Runs `ask` on a one-off connection to the node on `port`; undefined when it cannot. */
async function askNode<T>(
  port: number,
  ask: (client: Redis) => Promise<T>,
): Promise<T | undefined> {
  const client = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await ask(client);
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

async function ping(port: number): Promise<boolean> {
  return (await askNode(port, (client) => client.ping())) === 'PONG';
}

async function clusterState(port: number): Promise<string | undefined> {
  const info = await askNode(port, (client) => client.call('CLUSTER', 'INFO'));
  return typeof info === 'string' ? /cluster_state:(\w+)/.exec(info)?.[1] : undefined;
}

/** A master, or a replica whose link to its master is up. */
async function synced(port: number): Promise<boolean> {
  const info = await askNode(port, (client) => client.info('replication'));
  if (info === undefined) return false;
  return /role:master/.test(info) || /master_link_status:up/.test(info);
}
