import { ClientMessageType } from '../../src/protocol/chat.protocol';
import { BenchSocket } from '../lib/bench-socket';
import { roomName } from '../lib/load-specs';
import { errorText, frameKind } from '../lib/server-frames';
import type { LoadContext } from './load-context';

const CONNECT_CONCURRENCY = 100;
const JOIN_TIMEOUT_MS = 30_000;

export interface Member {
  socket: BenchSocket;
  userId: string;
  roomId: string;
  /** Position in its room, from 0. */
  index: number;
  /** The server it is connected to: its port's index in the context's ports. */
  instance: number;
}

export function joinFrame(userId: string, roomId: string): string {
  return JSON.stringify({ type: ClientMessageType.Join, userId, roomId });
}

/**
 * Connects (to `port`, by default the context's first), sends `join` and resolves once `joined`
 * arrives; an error frame or timeout rejects.
 */
export async function connectJoined(
  context: LoadContext,
  userId: string,
  roomId: string,
  port = context.port,
): Promise<BenchSocket> {
  const socket = await BenchSocket.connect(context.host, port);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no joined frame'));
    }, JOIN_TIMEOUT_MS);
    socket.onText = (buffer, start, end) => {
      const kind = frameKind(buffer, start, end);
      if (kind === 'joined') {
        clearTimeout(timer);
        socket.onText = () => undefined;
        resolve(socket);
      } else if (kind === 'error') {
        clearTimeout(timer);
        socket.destroy();
        reject(new Error(errorText(buffer, start, end)));
      }
    };
    socket.onClose = () => {
      clearTimeout(timer);
      reject(new Error('closed before joined'));
    };
    socket.send(joinFrame(userId, roomId));
  });
}

/** Runs `task(i)` for i in [0, count) with at most `limit` at a time. */
export async function forEachLimited(
  count: number,
  limit: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/**
 * Fills `rooms` rooms (named by `roomName(prefix, n)`) with `membersPerRoom` joined members each
 * (room by room, so the joins of one room do not interleave with another's). Member k of a room connects to port k mod the number of
 * ports, so with several instances every room has members (and senders) on each of them. A member
 * that fails to join is logged and left out.
 */
export async function joinRooms(
  context: LoadContext,
  prefix: string,
  rooms: number,
  membersPerRoom: number,
): Promise<Member[][]> {
  const result: Member[][] = Array.from({ length: rooms }, () => []);
  await forEachLimited(rooms * membersPerRoom, CONNECT_CONCURRENCY, async (i) => {
    const room = Math.floor(i / membersPerRoom);
    const index = i % membersPerRoom;
    const userId = `${prefix}-u${i}`;
    const roomId = roomName(prefix, room);
    const instance = index % context.ports.length;
    try {
      const socket = await connectJoined(context, userId, roomId, context.ports[instance]);
      result[room].push({ socket, userId, roomId, index, instance });
    } catch (error) {
      context.errors.add(`join ${userId}: ${String(error)}`);
    }
  });
  for (const members of result) members.sort((a, b) => a.index - b.index);
  return result;
}

/** Chat content of exactly `length` characters starting with `tag`. */
export function padded(tag: string, length: number): string {
  return tag.length >= length ? tag : tag + '.'.repeat(length - tag.length);
}

export function chatFrame(userId: string, content: string): string {
  return JSON.stringify({ type: ClientMessageType.ChatMessage, userId, content });
}
