import type { LoadResult } from '../lib/ipc';
import { ChurnSpec, ROOM_PREFIX, roomName } from '../lib/load-specs';
import { cpuPercent, nowMs, sleep } from '../lib/clock';
import { errorText, frameKind } from '../lib/server-frames';
import type { LoadContext } from './load-context';
import { connectJoined, joinRooms } from './room-clients';

const RETRY_PAUSE_MS = 50;

/**
 * Churn: `concurrency` loops each connect, join a room, close and start over, next to rooms with
 * resident members (who receive the user_joined/user_left of every cycle).
 */
export async function runChurn(spec: ChurnSpec, context: LoadContext): Promise<LoadResult> {
  const prefix = ROOM_PREFIX.churn;
  const rooms = await joinRooms(context, prefix, spec.rooms, spec.residentsPerRoom);
  for (const member of rooms.flat()) {
    member.socket.onText = (buffer, start, end) => {
      if (frameKind(buffer, start, end) === 'error')
        context.errors.add(errorText(buffer, start, end));
    };
  }
  let cycles = 0;
  let running = true;
  const loop = async (loopIndex: number): Promise<void> => {
    for (let n = 0; running; n++) {
      try {
        const userId = `${prefix}-l${loopIndex}-${n}`;
        const socket = await connectJoined(context, userId, roomName(prefix, n % spec.rooms));
        await socket.close();
        cycles += 1;
      } catch (error) {
        context.errors.add(`cycle: ${String(error)}`);
        await sleep(RETRY_PAUSE_MS);
      }
    }
  };
  const loops = Array.from({ length: spec.concurrency }, (_, i) => loop(i));

  await sleep(spec.warmupMs);
  await context.mark('start');
  const [cycles0, t0, cpu0] = [cycles, nowMs(), process.cpuUsage()];
  await sleep(spec.durationMs);
  const [cycles1, elapsed] = [cycles, nowMs() - t0];
  const generatorCpu = cpuPercent(cpu0, elapsed);
  await context.mark('end');
  running = false;
  await Promise.all(loops);
  for (const member of rooms.flat()) member.socket.destroy();
  return {
    metrics: {
      cyclesPerSecond: (cycles1 - cycles0) / (elapsed / 1000),
      generatorCpuPercent: generatorCpu,
    },
    errors: context.errors.count,
    errorSamples: context.errors.samples,
  };
}
