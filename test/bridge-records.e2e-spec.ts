import { useBridgeApps } from './support/bridge-apps';
import { EventsService } from '../src/events/events.service';
import { BridgeClient } from './support/bridge-client';
import { describeWithRedis } from './support/redis-server';
import { roomEvents } from './support/room-history';

/*
 * What the bridge's dedup records hold: none for a query (it only reads) nor for a request nobody
 * waits a reply for, also when it is given up (RPC_MAX_DELIVERIES); a mutating request's reply is
 * stored only up to RPC_DEDUP_MAX_REPLY_BYTES, and a duplicate of a larger one runs again,
 * publishing nothing new.
 */

describeWithRedis('bridge: dedup records', () => {
  const { setting, instance, clientOf } = useBridgeApps('records');

  /** The dedup record keys under `prefix` (SCAN). */
  async function records(client: BridgeClient, prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await client.redis.scan(
        cursor,
        'MATCH',
        `${prefix}{#rpc:*`,
        'COUNT',
        1000,
      );
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    return keys;
  }

  it('keeps no record of history requests with a reply_to, and answers each (200 reads of a room with 256 KiB of history)', async () => {
    const settings = setting();
    const prefix = settings.REDIS_KEY_PREFIX ?? '';
    const app = await instance(settings);
    const client = clientOf(settings);
    const events = app.app.get(EventsService);
    const room = 'workspace:big';
    for (let i = 0; i < 52; i++) {
      const content = `${i}:`.padEnd(5_000, 'x');
      await events.publish('workspace.file_changed', room, {
        workspace_id: 'big',
        file_path: `f${i}`,
        event_type: 'modify',
        content,
      });
    }

    const sent = [];
    for (let i = 0; i < 200; i++) {
      sent.push(await client.send({ method: 'history', params: { room, limit: 100 } }));
    }
    let bytes = 0;
    let answered = 0;
    for (const call of sent) {
      const reply = await client.reply(call);
      expect(reply).toMatchObject({ correlation_id: call.correlationId });
      // A loaded machine can time a read out: that one is answered unavailable, to retry.
      if (reply.success === true) {
        answered += 1;
        bytes += Buffer.byteLength(JSON.stringify(reply));
      } else {
        expect(reply).toMatchObject({ error: { code: 'unavailable', retryable: true } });
      }
      await client.redis.del(call.replyTo ?? '');
    }
    await client.settled();

    // Each answer carried the room's history (about 256 KiB); none of them is kept.
    expect(answered).toBeGreaterThan(sent.length / 2);
    expect(bytes / answered).toBeGreaterThan(200_000);
    expect(await records(client, prefix)).toEqual([]);
  });

  it('answers twice, and publishes once, a mutating request whose reply is over RPC_DEDUP_MAX_REPLY_BYTES sent twice with one correlation_id', async () => {
    const settings = setting({ RPC_DEDUP_MAX_REPLY_BYTES: 64 });
    const prefix = settings.REDIS_KEY_PREFIX ?? '';
    await instance(settings);
    const client = clientOf(settings);
    const call = (replyTo: string) =>
      client.send({
        method: 'workspace.file_changed',
        params: { workspace_id: 'cap', file_path: 'a', event_type: 'create' },
        correlationId: 'cap-1',
        replyTo,
      });

    const first = await client.reply(await call('list:response:cap-1-a'));
    const second = await client.reply(await call('list:response:cap-1-b'));
    await client.settled();

    expect(first).toMatchObject({ success: true, result: { room: 'workspace:cap' } });
    // The duplicate ran again: nothing new was published, the first position is its answer.
    expect(second).toEqual(first);
    const kept = await roomEvents(client.redis, prefix, 'workspace:cap');
    expect(kept.map((event) => event.data.file_path)).toEqual(['a']);
    expect(await records(client, prefix)).toEqual([]);

    // A reply within the bound is stored as before: the duplicate is answered from the record.
    const small = setting({ RPC_DEDUP_MAX_REPLY_BYTES: 65_536 });
    await instance(small);
    const other = clientOf(small);
    const sent = await other.send({
      method: 'workspace.file_changed',
      params: { workspace_id: 'cap', file_path: 'b', event_type: 'create' },
    });
    await other.reply(sent);
    await other.settled();
    const stored = await other.redis.hget(
      `${small.REDIS_KEY_PREFIX ?? ''}{#rpc:${sent.correlationId}}:record`,
      'r',
    );
    expect(JSON.parse(stored ?? 'null')).toMatchObject({ success: true });
  });

  it('keeps no record of a fire-and-forget request, nor of a query, given up after RPC_MAX_DELIVERIES', async () => {
    const settings = setting({ RPC_VISIBILITY_TIMEOUT_MS: 200, RPC_MAX_DELIVERIES: 2 });
    const prefix = settings.REDIS_KEY_PREFIX ?? '';
    const client = clientOf(settings);
    await client.redis.xgroup('CREATE', client.stream, client.group, '0', 'MKSTREAM');
    const unanswered = await client.send({
      method: 'test.echo',
      params: { key: 'poison' },
      replyTo: null,
    });
    const query = await client.send({ method: 'presence', params: { room: 'workspace:q' } });
    // Two deliveries each to consumers that died with them (a read, then a claim).
    await client.redis.xreadgroup('GROUP', client.group, 'dead-1', 'STREAMS', client.stream, '>');
    for (const entry of [unanswered.entryId, query.entryId]) {
      await client.redis.xclaim(client.stream, client.group, 'dead-2', 0, entry);
    }
    await instance(settings);

    expect(await client.reply(query)).toMatchObject({
      type: 'error',
      correlation_id: query.correlationId,
      error: { code: 'internal_error' },
    });
    await client.settled();
    const letters = await client.deadLetterEntries();
    expect(letters.map((letter) => [letter.original_id, letter.reason]).sort()).toEqual(
      [
        [unanswered.entryId, 'max_deliveries'],
        [query.entryId, 'max_deliveries'],
      ].sort(),
    );
    expect(await records(client, prefix)).toEqual([]);
  });
});
