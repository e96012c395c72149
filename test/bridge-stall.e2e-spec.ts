import { join } from 'node:path';
import type { BridgeClient } from './support/bridge-client';
import { serverIdOf, useBridgeProcesses } from './support/bridge-processes';
import { eventually } from './support/eventually';
import { describeWithRedis } from './support/redis-server';
import { spawnServer } from './support/server-process';

/*
 * An instance that stalls (SIGSTOP) past its lease while it runs a request: another instance
 * claims the entry, takes the record and answers; the stalled one, resumed, neither takes the
 * entry back nor answers a second time.
 */

const VISIBILITY_MS = 500;
const ENTRY = join('test', 'support', 'bridge-server.ts');

describeWithRedis('bridge: an instance stalled past its lease', () => {
  const processes = useBridgeProcesses();
  const { servers } = processes;
  let client: BridgeClient;

  it('is not answered twice: the claimer answers, the resumed owner writes nothing and takes nothing back', async () => {
    const stream = `stall-${process.pid}`;
    const settings = {
      REDIS_URL: processes.redis.url,
      REDIS_KEY_PREFIX: `stall${process.pid}:`,
      RPC_REQUEST_STREAM: stream,
      RPC_DEAD_LETTER_STREAM: `${stream}:dlq`,
      RPC_VISIBILITY_TIMEOUT_MS: String(VISIBILITY_MS),
    };
    const stalled = spawnServer(settings, ENTRY);
    servers.push(stalled);
    const stalledId = await serverIdOf(stalled);
    client = processes.client(stream);
    const holder = async (): Promise<string | undefined> => {
      const rows = (await client.redis.xpending(stream, client.group, '-', '+', 10)) as [
        string,
        string,
      ][];
      return rows[0]?.[1];
    };

    // Long enough to still run when the claimer has taken it over.
    const sent = await client.send({ method: 'test.slow', params: { key: 's', ms: 3_000 } });
    const record = `${settings.REDIS_KEY_PREFIX}{#rpc:${sent.correlationId}}:record`;
    await eventually('the first instance to own it', () => client.redis.hget(record, 'o'), {
      done: (owner) => owner?.startsWith(`${stalledId}/`) ?? false,
    });
    stalled.child.kill('SIGSTOP');
    const claimer = spawnServer(settings, ENTRY);
    servers.push(claimer);
    const claimerId = await serverIdOf(claimer);
    await eventually('the second instance to claim it', holder, {
      done: (h) => h === claimerId,
      timeoutMs: 20_000,
    });

    // Resumed while the claimer runs it: its keep-alive and its finish are due at once.
    stalled.child.kill('SIGCONT');
    await eventually(
      'the resumed instance to find its run taken over',
      () => stalled.output().includes('ran past its lease'),
      { timeoutMs: 20_000 },
    );

    const [reply] = await client.replies(sent.replyTo ?? '', 1, 20_000);
    expect(reply).toMatchObject({ type: 'response', result: { server_id: claimerId } });
    await client.settled();
    expect(await client.redis.llen(sent.replyTo ?? '')).toBe(1);
    // The record still names the claimer's delivery: the resumed instance took nothing back (its
    // run may end after the claimer's, so the entry's holder is not asked while both run).
    expect(await client.redis.hget(record, 'o')).toMatch(new RegExp(`^${claimerId}/`));
  }, 90_000);
});
