import type { LoadResult } from '../lib/ipc';
import { OpenLoopSpec, ROOM_PREFIX } from '../lib/load-specs';
import { cpuPercent, nowMs, sleep } from '../lib/clock';
import { Samples, quantile } from '../lib/stats';
import { chatContent, errorText, frameKind } from '../lib/server-frames';
import type { LoadContext } from './load-context';
import { Member, chatFrame, joinRooms, padded } from './room-clients';

/**
 * Latency at a fixed rate. Message k is due at t0 + k / rate and carries that due time in its
 * content; latency is measured from it, so a late send (a busy generator, a server that pushes
 * back) counts against the server instead of silently lowering the rate. Messages go round-robin
 * over the senders of all rooms.
 */
export async function runOpenLoop(spec: OpenLoopSpec, context: LoadContext): Promise<LoadResult> {
  const fillStarted = nowMs();
  const rooms = await joinRooms(context, ROOM_PREFIX['open-loop'], spec.rooms, spec.membersPerRoom);
  const fillSeconds = (nowMs() - fillStarted) / 1000;
  const senders = interleavedSenders(rooms, spec.sendersPerRoom);
  if (senders.length === 0) throw new Error('no sender joined');
  const latencies = new Samples();
  let delivered = 0;
  let measured = { from: Infinity, to: Infinity };

  const listen = (member: Member): void => {
    const sampled = member.index % spec.sampleEvery === 0;
    member.socket.onText = (buffer, start, end) => {
      const kind = frameKind(buffer, start, end);
      if (kind === 'error') return context.errors.add(errorText(buffer, start, end));
      if (kind !== 'chat') return;
      delivered += 1;
      if (!sampled) return;
      const due = Number.parseFloat(chatContent(buffer, start, end) ?? '');
      if (due >= measured.from && due < measured.to) latencies.add(nowMs() - due);
    };
  };
  for (const member of rooms.flat()) listen(member);

  const periodMs = 1000 / spec.messagesPerSecond;
  const t0 = nowMs() + 20;
  const windowFrom = t0 + spec.warmupMs;
  const stopAt = windowFrom + spec.durationMs;
  measured = { from: windowFrom, to: stopAt };
  let sent = 0;
  const sending = new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = nowMs();
      for (let due = t0 + sent * periodMs; due <= now && due < stopAt; due = t0 + sent * periodMs) {
        const sender = senders[sent % senders.length];
        sender.socket.send(
          chatFrame(sender.userId, padded(due.toFixed(3) + '|', spec.contentLength)),
        );
        sent += 1;
      }
      const next = t0 + sent * periodMs;
      if (next >= stopAt) return resolve();
      setTimeout(tick, Math.max(0, next - nowMs()));
    };
    setTimeout(tick, Math.max(0, t0 - nowMs()));
  });

  await sleep(Math.max(0, windowFrom - nowMs()));
  // The window follows the timetable, not the orchestrator's answer: an overloaded server may
  // take seconds to answer its CPU sample, and the messages leave on time regardless.
  const [delivered0, cpu0, measuredFrom] = [delivered, process.cpuUsage(), nowMs()];
  const started = context.mark('start');
  await sending;
  const [delivered1, elapsed] = [delivered, nowMs() - measuredFrom];
  const generatorCpu = cpuPercent(cpu0, elapsed);
  await started;
  await context.mark('end');
  const expected = sent * spec.membersPerRoom;
  const drainUntil = nowMs() + spec.drainMs;
  while (delivered < expected && nowMs() < drainUntil) await sleep(20);
  for (const member of rooms.flat()) member.socket.destroy();

  const sorted = latencies.sorted();
  return {
    metrics: {
      fillSeconds,
      deliveriesPerSecond: (delivered1 - delivered0) / (elapsed / 1000),
      p50Ms: quantile(sorted, 0.5),
      p99Ms: quantile(sorted, 0.99),
      p999Ms: quantile(sorted, 0.999),
      maxMs: quantile(sorted, 1),
      deliveredPercent: expected > 0 ? (delivered / expected) * 100 : 0,
      latencySamples: sorted.length,
      generatorCpuPercent: generatorCpu,
    },
    errors: context.errors.count,
    errorSamples: context.errors.samples,
  };
}

/** Senders in the order room 0, room 1, ..., room 0, ... so consecutive messages change room. */
function interleavedSenders(rooms: Member[][], perRoom: number): Member[] {
  const senders: Member[] = [];
  for (let i = 0; i < perRoom; i++) {
    for (const members of rooms) if (i < members.length) senders.push(members[i]);
  }
  return senders;
}
