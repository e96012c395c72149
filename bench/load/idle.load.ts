import type { LoadResult } from '../lib/ipc';
import { IdleSpec, ROOM_PREFIX, roomName } from '../lib/load-specs';
import { nowMs, sleep } from '../lib/clock';
import { errorText, frameKind } from '../lib/server-frames';
import { BenchSocket } from '../lib/bench-socket';
import type { LoadContext } from './load-context';
import { connectJoined, forEachLimited } from './room-clients';

const CONNECT_CONCURRENCY = 200;

/**
 * Idle capacity: `connections` clients join `rooms` rooms (round-robin) and stay quiet. The
 * orchestrator samples the server's memory at the `held` mark; every connection must still be
 * open after `holdMs`.
 */
export async function runIdle(spec: IdleSpec, context: LoadContext): Promise<LoadResult> {
  const sockets: BenchSocket[] = [];
  let lost = 0;
  let releasing = false;
  const started = nowMs();
  await forEachLimited(spec.connections, CONNECT_CONCURRENCY, async (i) => {
    try {
      const prefix = ROOM_PREFIX.idle;
      const socket = await connectJoined(
        context,
        `${prefix}-u${i}`,
        roomName(prefix, i % spec.rooms),
      );
      socket.onText = (buffer, start, end) => {
        if (frameKind(buffer, start, end) === 'error')
          context.errors.add(errorText(buffer, start, end));
      };
      socket.onClose = () => {
        if (!releasing) lost += 1;
      };
      sockets.push(socket);
    } catch (error) {
      context.errors.add(`connection ${i}: ${String(error)}`);
    }
  });
  const connectSeconds = (nowMs() - started) / 1000;
  await sleep(spec.settleMs);
  await context.mark('held');
  await sleep(spec.holdMs);
  if (lost > 0) context.errors.add(`${lost} connections closed while held`);
  releasing = true;
  const open = sockets.filter((socket) => socket.isOpen).length;
  for (const socket of sockets) socket.destroy();
  return {
    metrics: {
      held: open,
      connectsPerSecond: sockets.length / connectSeconds,
    },
    errors: context.errors.count,
    errorSamples: context.errors.samples,
  };
}
