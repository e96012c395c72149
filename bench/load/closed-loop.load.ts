import type { LoadResult } from '../lib/ipc';
import { ClosedLoopSpec, ROOM_PREFIX } from '../lib/load-specs';
import { cpuPercent, nowMs, sleep } from '../lib/clock';
import { errorText, frameKind } from '../lib/server-frames';
import type { LoadContext } from './load-context';
import { Member, chatFrame, joinRooms, padded } from './room-clients';

const DRAIN_MS = 3_000;

/**
 * Fan-out throughput: every sender keeps `inFlight` messages outstanding and sends the next one
 * when its own copy comes back, so the server is always busy and never flooded. Delivered frames
 * are counted at every receiver, and per server when there are several.
 */
export async function runClosedLoop(
  spec: ClosedLoopSpec,
  context: LoadContext,
): Promise<LoadResult> {
  const fillStarted = nowMs();
  const rooms = await joinRooms(
    context,
    ROOM_PREFIX['closed-loop'],
    spec.rooms,
    spec.membersPerRoom,
  );
  const fillSeconds = (nowMs() - fillStarted) / 1000;
  let delivered = 0;
  /** Delivered frames by the server the receiver is connected to. */
  const deliveredBy = context.ports.map(() => 0);
  let completed = 0;
  let running = true;
  let outstanding = 0;

  const startSender = (member: Member): void => {
    const own = Buffer.from(`"userId":"${member.userId}"`);
    let sequence = 0;
    const sendNext = (): void => {
      outstanding += 1;
      member.socket.send(chatFrame(member.userId, padded(`${sequence++}`, spec.contentLength)));
    };
    member.socket.onText = (buffer, start, end) => {
      const kind = frameKind(buffer, start, end);
      if (kind === 'error') return context.errors.add(errorText(buffer, start, end));
      if (kind !== 'chat') return;
      delivered += 1;
      deliveredBy[member.instance] += 1;
      const at = buffer.indexOf(own, start);
      if (at === -1 || at >= end) return;
      completed += 1;
      outstanding -= 1;
      if (running) sendNext();
    };
    for (let i = 0; i < spec.inFlight; i++) sendNext();
  };
  const countOnly = (member: Member): void => {
    member.socket.onText = (buffer, start, end) => {
      const kind = frameKind(buffer, start, end);
      if (kind === 'chat') {
        delivered += 1;
        deliveredBy[member.instance] += 1;
      } else if (kind === 'error') context.errors.add(errorText(buffer, start, end));
    };
  };
  for (const members of rooms) {
    for (const member of members) {
      if (member.index < spec.sendersPerRoom) startSender(member);
      else countOnly(member);
    }
  }

  await sleep(spec.warmupMs);
  await context.mark('start');
  const [delivered0, completed0, t0, cpu0] = [delivered, completed, nowMs(), process.cpuUsage()];
  const deliveredBy0 = [...deliveredBy];
  await sleep(spec.durationMs);
  const [delivered1, completed1, elapsed] = [delivered, completed, nowMs() - t0];
  const deliveredBy1 = [...deliveredBy];
  const generatorCpu = cpuPercent(cpu0, elapsed);
  await context.mark('end');
  running = false;
  const drainUntil = nowMs() + DRAIN_MS;
  while (outstanding > 0 && nowMs() < drainUntil) await sleep(20);
  const drainSeconds = (nowMs() - drainUntil + DRAIN_MS) / 1000;
  if (outstanding > 0)
    context.errors.add(`${outstanding} messages never came back to their sender`);
  for (const member of rooms.flat()) member.socket.destroy();

  const seconds = elapsed / 1000;
  const perInstance: Record<string, number> = {};
  if (context.ports.length > 1) {
    deliveredBy1.forEach((n, i) => {
      perInstance[`framesPerSecondInstance${i + 1}`] = (n - deliveredBy0[i]) / seconds;
    });
  }
  return {
    metrics: {
      ...perInstance,
      fillSeconds,
      drainSeconds,
      framesPerSecond: (delivered1 - delivered0) / seconds,
      messagesPerSecond: (completed1 - completed0) / seconds,
      generatorCpuPercent: generatorCpu,
    },
    errors: context.errors.count,
    errorSamples: context.errors.samples,
  };
}
