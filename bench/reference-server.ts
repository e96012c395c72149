/**
 * The reference the product is measured against: the same chat protocol (join, switch_room,
 * chat_message, user_joined/user_left) on bare `ws`, with one JSON.stringify per broadcast and no
 * limits, validation pipeline or framework. Run alone: PORT=8081 ts-node bench/reference-server.ts
 */
import { IncomingMessage, ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RawData, WebSocket, WebSocketServer } from 'ws';
import { ClientMessageType, ServerMessageType } from '../src/protocol/chat.protocol';
import { ErrorCode } from '../src/protocol/error-code';

interface Member {
  socket: WebSocket;
  userId?: string;
  roomId?: string;
}

export interface RunningReferenceServer {
  port: number;
  close(): Promise<void>;
}

export async function startReferenceServer(
  host: string,
  port: number,
): Promise<RunningReferenceServer> {
  const rooms = new Map<string, Set<Member>>();

  const broadcast = (roomId: string, frame: object, except?: Member): void => {
    const payload = JSON.stringify(frame);
    for (const member of rooms.get(roomId) ?? [])
      if (member !== except) member.socket.send(payload);
  };
  const sendError = (member: Member, code: ErrorCode, message: string): void =>
    member.socket.send(JSON.stringify({ type: ServerMessageType.Error, message, code }));

  const leave = (member: Member): void => {
    const { roomId, userId } = member;
    const members = roomId === undefined ? undefined : rooms.get(roomId);
    if (roomId === undefined || !members) return;
    member.roomId = undefined;
    members.delete(member);
    if (members.size === 0) rooms.delete(roomId);
    const message = `${userId} left the room`;
    broadcast(roomId, { type: ServerMessageType.UserLeft, userId, roomId, message });
  };

  const join = (member: Member, userId: string, roomId: string): void => {
    if (member.roomId !== roomId) {
      leave(member);
      member.userId = userId;
      member.roomId = roomId;
      const members = rooms.get(roomId) ?? new Set<Member>();
      rooms.set(roomId, members.add(member));
      const message = `${userId} joined the room`;
      broadcast(roomId, { type: ServerMessageType.UserJoined, userId, roomId, message }, member);
    }
    const message = `Joined room: ${roomId}`;
    member.socket.send(JSON.stringify({ type: ServerMessageType.Joined, roomId, userId, message }));
  };

  const onMessage = (member: Member, data: RawData, isBinary: boolean): void => {
    let fields: unknown;
    try {
      // ws hands text frames over as one Buffer (binaryType "nodebuffer", the default).
      fields = isBinary || !Buffer.isBuffer(data) ? undefined : JSON.parse(data.toString());
    } catch {
      return sendError(member, ErrorCode.InvalidJson, 'frame is not valid JSON');
    }
    if (typeof fields !== 'object' || fields === null) {
      return sendError(member, ErrorCode.InvalidMessage, 'message must be a JSON object');
    }
    const { type, userId, roomId, content } = fields as Record<string, unknown>;
    if (type === ClientMessageType.Join || type === ClientMessageType.SwitchRoom) {
      if (typeof userId !== 'string') return sendError(member, ErrorCode.InvalidMessage, 'userId');
      return join(member, userId, typeof roomId === 'string' ? roomId : userId);
    }
    if (type !== ClientMessageType.ChatMessage) {
      return sendError(member, ErrorCode.UnknownType, 'unknown message type');
    }
    if (member.roomId === undefined) return sendError(member, ErrorCode.NotJoined, 'join first');
    if (typeof content !== 'string') return sendError(member, ErrorCode.InvalidMessage, 'content');
    const timestamp = new Date().toISOString();
    const frame = {
      type: ServerMessageType.ChatMessage,
      userId: member.userId,
      roomId: member.roomId,
      content,
      timestamp,
    };
    broadcast(member.roomId, frame);
  };

  const http = createServer((_request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  });
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 65_536 });
  wss.on('connection', (socket: WebSocket) => {
    const member: Member = { socket };
    socket.on('message', (data, isBinary) => onMessage(member, data, isBinary));
    socket.on('close', () => leave(member));
    socket.on('error', () => socket.terminate());
  });
  await new Promise<void>((resolve) => http.listen(port, host, resolve));
  return {
    port: (http.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => http.close(() => resolve()));
      }),
  };
}

if (require.main === module) {
  const host = process.env.HOST ?? '127.0.0.1';
  startReferenceServer(host, Number(process.env.PORT ?? 0)).then(
    ({ port }) => console.log(`reference chat server listening on http://${host}:${port}`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
