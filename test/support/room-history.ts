import type Redis from 'ioredis';

/** One event frame kept in a room's Redis history, with its offset. */
export interface KeptEvent {
  offset: number;
  event: string;
  data: Record<string, unknown>;
}

/**
 * The event frames a room's history stream holds (`P{room}:hist`, entry id `<offset>-0`, field
 * `d` = `<kind><body>`), oldest first: what every follower of the room was sent, once each.
 */
export async function roomEvents(redis: Redis, prefix: string, room: string): Promise<KeptEvent[]> {
  const entries = await redis.xrange(`${prefix}{${room}}:hist`, '-', '+');
  const events: KeptEvent[] = [];
  for (const [id, fields] of entries) {
    const data = fields[fields.indexOf('d') + 1] ?? '';
    if (!data.startsWith('f')) continue;
    const frame = JSON.parse(data.slice(1)) as { type?: string; event?: string; data?: unknown };
    if (frame.type !== 'event') continue;
    events.push({
      offset: Number(id.slice(0, id.indexOf('-'))),
      event: String(frame.event),
      data: (frame.data ?? {}) as Record<string, unknown>,
    });
  }
  return events;
}
