import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import Redis from 'ioredis';
import type { AppConfig } from '../src/config/app-config';
import { useBridgeApps } from './support/bridge-apps';
import type { BridgeCall, BridgeClient, Reply, SentCall } from './support/bridge-client';
import { BridgeGate, BridgeTestMethods } from './support/bridge-methods';
import { eventually } from './support/eventually';
import { describeWithRedisCluster } from './support/redis-cluster';
import { roomEvents } from './support/room-history';
import type { RunningApp } from './support/test-app';

/*
 * The backend bridge on a real Redis Cluster of 3 masters with a replica each, served by two
 * instances: requests answered, duplicates run once, dead letters, every script call's keys in
 * one slot (seen with MONITOR on every master), and no request lost when the stream's master is
 * SIGKILLed and its replica promoted (the last test: the cluster is not the same after it).
 */

const methodsOf = (app: RunningApp): BridgeTestMethods => app.app.get(BridgeTestMethods);
const runsOf = (apps: RunningApp[], key: string): number =>
  apps.reduce((sum, app) => sum + methodsOf(app).runsOf(key), 0);

/** The bridge's scripts a cluster runs, by name, as loaded (library in front). */
const SCRIPTS = ['take', 'complete', 'push', 'settle', 'answer', 'keep-alive', 'read'];

function scriptTexts(): string[] {
  const dir = join(__dirname, '..', 'src', 'bridge', 'lua');
  const library = readFileSync(join(dir, 'library.lua'), 'utf8');
  return SCRIPTS.map((file) => `${library}\n${readFileSync(join(dir, `${file}.lua`), 'utf8')}`);
}

/** The bridge's scripts by the SHA1 ioredis sends them with. */
function scriptShas(): Map<string, string> {
  const texts = scriptTexts();
  return new Map(
    SCRIPTS.map((name, i) => [createHash('sha1').update(texts[i]).digest('hex'), name]),
  );
}

describeWithRedisCluster('bridge on a Redis Cluster (3 masters, a replica each)', () => {
  const bridge = useBridgeApps('cluster', {
    cluster: { masters: 3, replicas: 1, nodeTimeoutMs: 1_000 },
  });

  async function twoInstances(
    overrides: Partial<AppConfig> = {},
  ): Promise<{ settings: Partial<AppConfig>; apps: RunningApp[]; client: BridgeClient }> {
    const settings = bridge.setting(overrides);
    const apps = [await bridge.instance(settings), await bridge.instance(settings)];
    return { settings, apps, client: bridge.clientOf(settings) };
  }

  it('answers the requests of a backend through two instances, each run once', async () => {
    const { apps, client } = await twoInstances();
    const sent = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        client.send({ method: 'test.echo', params: { key: `k${i}` } }),
      ),
    );
    for (const [i, call] of sent.entries()) {
      expect(await client.reply(call)).toMatchObject({
        type: 'response',
        correlation_id: call.correlationId,
        success: true,
        result: { echo: { key: `k${i}` } },
      });
      expect(runsOf(apps, `k${i}`)).toBe(1);
    }
    await client.settled();
  });

  it('runs a mutating request once for all its copies on both instances, and answers each', async () => {
    const { apps, client } = await twoInstances();
    for (const app of apps) app.app.get(BridgeGate).close();
    const call = { method: 'test.gated', params: { key: 'dup' }, correlationId: 'dup-1' };
    const lists = ['a', 'b', 'c', 'd'].map((s) => `list:response:dup-${s}`);
    await client.send({ ...call, replyTo: lists[0] });
    await eventually('the first copy to run', () =>
      apps.some((app) => app.app.get(BridgeGate).reached === 1),
    );
    // Copies while it runs: each registered as a waiter, on whichever instance reads it.
    for (const list of lists.slice(1, 3)) await client.send({ ...call, replyTo: list });
    await eventually('the copies to wait', () => client.pending(), { done: (n) => n === 1 });
    for (const app of apps) app.app.get(BridgeGate).open();
    const first = await client.replies(lists[0]);
    // A copy after it is answered from the stored reply.
    await client.send({ ...call, replyTo: lists[3] });
    for (const list of lists) expect(await client.replies(list)).toEqual(first);
    expect(first[0]).toMatchObject({ type: 'response', correlation_id: 'dup-1', success: true });
    expect(runsOf(apps, 'dup')).toBe(1);
    await client.settled();
  });

  it('dead-letters an entry that is not a request, answering it, and shows it in the health answer', async () => {
    const { settings, apps, client } = await twoInstances();
    const payload = { type: 'push', correlation_id: 'bad-1', reply_to: 'list:response:bad-1' };
    const id = await client.sendRaw(JSON.stringify(payload));
    const [reply] = await client.replies('list:response:bad-1');
    expect(reply).toMatchObject({ type: 'error', error_code: 'invalid_params' });
    const letters = await eventually('the dead letter', () => client.deadLetterEntries(), {
      done: (entries) => entries.length === 1,
    });
    expect(letters[0]).toMatchObject({ original_id: id });
    await client.settled();
    const response = await fetch(`${apps[0].httpUrl}/health`);
    const body = (await response.json()) as { details: Record<string, unknown> };
    expect(body.details.bridge).toMatchObject({
      status: 'up',
      stream: settings.RPC_REQUEST_STREAM,
      pending: 0,
      dead_letters: 1,
    });
  });

  it('sends every script keys of one slot only', async () => {
    // MONITOR on every master: each EVALSHA / EVAL as Redis received it.
    const masters = bridge.cluster.addresses.slice(0, 3);
    const nodes = masters.map((address) => new Redis(Number(address.split(':')[1]), '127.0.0.1'));
    // Loaded on every master first: ioredis then sends each call as EVALSHA, whose SHA names it
    // (its EVAL fallback's text comes escaped in MONITOR's output).
    for (const node of nodes) {
      for (const text of scriptTexts()) await node.script('LOAD', text);
    }
    const monitors = await Promise.all(nodes.map((node) => node.monitor()));
    const calls: { script: string; keys: string[] }[] = [];
    const shas = scriptShas();
    for (const monitor of monitors) {
      monitor.on('monitor', (_time: string, args: string[]) => {
        const command = args[0]?.toLowerCase();
        if (command !== 'evalsha' && command !== 'eval') return;
        const script = command === 'eval' ? 'eval' : (shas.get(args[1]) ?? args[1]);
        calls.push({ script, keys: args.slice(3, 3 + Number(args[2])) });
      });
    }
    try {
      // Every kind of step: runs, a duplicate, a dead letter, an expired request, a slow one
      // kept alive, and the reads and claims in between.
      const { apps, client } = await twoInstances({ RPC_VISIBILITY_TIMEOUT_MS: 1_000 });
      // Written first: an explicit id in the past must be below the stream's newest.
      const expired = await client.send({
        method: 'test.echo',
        timeout: 1,
        entryId: `${Date.now() - 60_000}-0`,
      });
      for (const app of apps) app.app.get(BridgeGate).close();
      const gated = await client.send({ method: 'test.gated', correlationId: 'g-1' });
      await eventually('the gated request to run', () =>
        apps.some((app) => app.app.get(BridgeGate).reached === 1),
      );
      await client.send({
        method: 'test.gated',
        correlationId: 'g-1',
        replyTo: 'list:response:g2',
      });
      const calls2: BridgeCall[] = [
        { method: 'test.echo', params: { key: 'e' } },
        { method: 'test.slow', params: { key: 's', ms: 800 } },
        { method: 'test.fail', params: { key: 'f' } },
      ];
      const sent = await Promise.all(calls2.map((call) => client.send(call)));
      await client.sendRaw('{not json', '*');
      for (const call of [expired, ...sent]) await client.reply(call);
      // The gated request is held past its visibility timeout's renewal before it may finish.
      await eventually('a keep-alive of the held request', () =>
        calls.some((call) => call.script === 'keep-alive'),
      );
      for (const app of apps) app.app.get(BridgeGate).open();
      await client.reply(gated);
      await client.replies('list:response:g2');
      await client.settled();
    } finally {
      for (const connection of [...monitors, ...nodes]) connection.disconnect();
    }

    // The bridge's calls (the rooms' scripts are their own suites' to check).
    const ours = calls.filter((call) => [...shas.values()].includes(call.script));
    const seen = new Set(ours.map((call) => call.script));
    expect([...seen].sort()).toEqual([...shas.values()].sort());
    const slotOf = new Redis(Number(masters[0].split(':')[1]), '127.0.0.1');
    try {
      const spread: string[] = [];
      for (const { script, keys } of ours) {
        const slots = new Set<unknown>();
        for (const key of keys) slots.add(await slotOf.call('CLUSTER', 'KEYSLOT', key));
        if (slots.size !== 1) spread.push(`${script}: ${keys.join(' ')}`);
      }
      expect(spread).toEqual([]);
    } finally {
      slotOf.disconnect();
    }
  });

  it('loses no request when the stream’s master is SIGKILLed and its replica promoted', async () => {
    const REQUESTS = 240;
    const { settings, client } = await twoInstances({
      RPC_VISIBILITY_TIMEOUT_MS: 2_000,
      HISTORY_SIZE: 1_000,
    });
    const stream = settings.RPC_REQUEST_STREAM ?? '';
    const prefix = settings.REDIS_KEY_PREFIX ?? '';
    const victim = await bridge.cluster.masterOf(stream);
    // Rooms on the other shards: what fails over is the bridge's slot, not the rooms'.
    const ROOMS: string[] = [];
    for (let i = 0; ROOMS.length < 4; i++) {
      const owner = await bridge.cluster.masterOf(`${prefix}{workspace:f${i}}:meta`);
      if (owner !== victim) ROOMS.push(`f${i}`);
    }

    let killed = false;
    /** When every request had an answer (a success, or a retryable error retried since). */
    let allAnsweredAt: number | undefined;
    /** Every reply list a request named. */
    const lists = new Set<string>();
    /** Answers per correlation id: the first reply of each attempt. */
    const answers = new Map<string, Reply[]>();
    let replies = 0;
    /**
     * One request as a careful backend makes it: written and replicated (WAIT 1) before it counts
     * as sent, retried with the same correlation id when that failed or when the answer is a
     * retryable error. Resolves with its successful answer.
     */
    const request = async (i: number): Promise<void> => {
      const correlationId = `fo-${i}`;
      for (let attempt = 1; ; attempt++) {
        const call: BridgeCall = {
          method: 'workspace.file_changed',
          params: {
            workspace_id: ROOMS[i % ROOMS.length],
            file_path: correlationId,
            event_type: 'modify',
          },
          correlationId,
          replyTo: `list:response:${correlationId}:${attempt}`,
          timeout: 60,
          replicated: { replicas: 1, timeoutMs: 2_000 },
        };
        // Once the victim is dead its promoted replica has no replica left: a write to it stays.
        const needed = killed ? 0 : 1;
        const sent = await client.send(call).catch(() => undefined);
        lists.add(call.replyTo ?? '');
        // Not written, or not replicated (the master died before its replica had it): again.
        if (!sent || (sent.replicas ?? 0) < needed) {
          await delay(100);
          continue;
        }
        const reply = await replyOf(sent);
        answers.set(correlationId, [...(answers.get(correlationId) ?? []), reply]);
        if (answers.size === REQUESTS) allAnsweredAt ??= Date.now();
        replies += 1;
        if (reply.type === 'response') return;
        expect(reply).toMatchObject({ type: 'error', error: { retryable: true } });
      }
    };

    /** The reply of `sent`, read through the failover (a read may fail while the slot moves). */
    const replyOf = async (sent: SentCall): Promise<Reply> => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const got = await client.redis.lindex(sent.replyTo ?? '', -1).catch(() => null);
        if (got !== null) return JSON.parse(got) as Reply;
        if (Date.now() > deadline) throw new Error(`no reply to ${sent.correlationId}`);
        await delay(20);
      }
    };

    const all = Promise.all(Array.from({ length: REQUESTS }, (_, i) => request(i)));
    await eventually('replies before the kill', () => replies, {
      done: (n) => n >= REQUESTS / 4,
      timeoutMs: 60_000,
      intervalMs: 5,
    });
    await bridge.cluster.kill(victim);
    killed = true;
    const killedAt = Date.now();

    await all;
    const seconds = (at: number | undefined): string => (((at ?? 0) - killedAt) / 1000).toFixed(1);
    const succeeded = seconds(Date.now());
    await bridge.cluster.untilHealthy();
    await client.settled(30_000);

    // Every request answered; a list that got two replies after a crash got the same one twice.
    expect(answers.size).toBe(REQUESTS);
    for (const [id, got] of answers) {
      const last = got[got.length - 1];
      expect(last).toMatchObject({ type: 'response', correlation_id: id, success: true });
    }
    // A list may get its reply twice (a crash between the push and the acknowledgement): the
    // same one.
    let twice = 0;
    for (const list of lists) {
      const got = await client.redis.lrange(list, 0, -1);
      if (got.length > 1) twice += 1;
      expect(new Set(got).size).toBeLessThanOrEqual(1);
    }
    console.log(
      `failover: every request answered ${seconds(allAnsweredAt)} s after the kill, every one with success ${succeeded} s after it; ${replies - REQUESTS} answer(s) unavailable (retryable), retried; ${twice} list(s) got their reply twice`,
    );
    // One event per request, at the position its answer gave: none lost, none published twice.
    const events = new Map<string, number[]>();
    for (const room of ROOMS) {
      for (const event of await roomEvents(client.redis, prefix, `workspace:${room}`)) {
        const id = String(event.data.file_path);
        events.set(id, [...(events.get(id) ?? []), event.offset]);
      }
    }
    expect(events.size).toBe(REQUESTS);
    for (const [id, got] of answers) {
      const result = got[got.length - 1].result as { offset: number };
      expect(events.get(id)).toEqual([result.offset]);
    }
  }, 180_000);
});
