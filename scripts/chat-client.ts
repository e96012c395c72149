import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import * as readline from 'node:readline';
import WebSocket, { RawData } from 'ws';
import { ClientMessageType, ServerMessageType } from '../src/protocol/chat.protocol';
import { ID_PATTERN, ID_PATTERN_TEXT } from '../src/protocol/ids';
import { closeCodeName } from './lib/close-code-names';
import { clean, clock, describeFrame, text } from './lib/frame-lines';
import { Frame, healthUrlOf, isRecord, parseFrame, rawToString } from './lib/frames';
import {
  reconnectDelay,
  reconnectsAfterClose,
  reconnectsAfterRefusal,
} from './lib/reconnect-policy';
import { RoomPositions, StreamPosition } from './lib/room-positions';

const USAGE = `Usage: npm run -s client -- <ws://host:port | wss://host> [--user ID] [--room ID] [--token JWT]

  --user ID   who you are (default: the token's user, or a generated user_xxxxxx)
  --room ID   the room to join (default: your own room, named like your user)
  --token JWT a token for a server with AUTH_MODE=jwt (default: TOKEN from the environment),
              sent as Authorization: Bearer
IDs are ${ID_PATTERN_TEXT}.`;

const HELP = `Type a line and press Enter to send it to the room. Commands:
  /switch ROOM   leave this room and join ROOM
  /who           who is in this room
  /history [N]   the last N messages of this room (default 20; the server caps N)
  /help          this list
  /quit          leave (Ctrl-D and Ctrl-C too)
After a dropped connection the client reconnects by itself and rejoins the room with what it
missed (README, "Clients").`;

/** How long leaving waits for the server to answer what was sent (piped input ends at once). */
const ANSWER_TIMEOUT_MS = 5000;

/** Messages `/history` asks for without N, and the ones shown after a rejoin that could not recover. */
const HISTORY_DEFAULT_LIMIT = 20;

interface Options {
  url: string;
  userId: string;
  roomId: string;
  token?: string;
}

/** The options, or the reason the arguments are wrong. */
function parseArgs(argv: string[]): Options | string {
  const positional: string[] = [];
  const named = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--user' || arg === '--room' || arg === '--token') {
      const value = argv[++i];
      if (value === undefined) return `${arg} needs a value`;
      named.set(arg, value);
    } else if (arg.startsWith('-')) {
      return `unknown option ${arg}`;
    } else {
      positional.push(arg);
    }
  }
  if (positional.length !== 1) return 'give exactly one server URL';
  const url = positional[0];
  try {
    healthUrlOf(url);
  } catch {
    return `not a ws:// or wss:// URL: ${url}`;
  }
  const token = named.get('--token') ?? (process.env.TOKEN || undefined);
  const userId =
    named.get('--user') ??
    (token !== undefined ? userOfToken(token) : undefined) ??
    `user_${randomBytes(3).toString('hex')}`;
  const roomId = named.get('--room') ?? userId;
  for (const [what, id] of [
    ['--user', userId],
    ['--room', roomId],
  ]) {
    if (!ID_PATTERN.test(id)) return `${what} must be ${ID_PATTERN_TEXT}`;
  }
  return { url, userId, roomId, token };
}

/**
 * The user a token names (`sub`, else seed 003's `user_id`), read without verifying: the server
 * verifies; the client only needs the name to know its own messages. Undefined if unreadable.
 */
function userOfToken(token: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      sub?: unknown;
      user_id?: unknown;
    };
    const user = payload.sub ?? payload.user_id;
    return typeof user === 'string' ? user : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Prints lines above the prompt. Incoming frames arrive while the person is typing: the prompt
 * line is cleared, the frame printed, and the prompt redrawn with what was typed so far. Without a
 * terminal (piped input or output) there is no prompt, only the lines.
 */
class Screen {
  private readonly tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  private rl: readline.Interface | undefined;
  private prompt = '> ';

  attach(rl: readline.Interface): void {
    this.rl = rl;
    rl.setPrompt(this.prompt);
    this.redraw();
  }

  /** Clears the prompt line for good: nothing is typed any more. */
  detach(): void {
    if (this.tty && this.rl) this.clearLine();
    this.rl = undefined;
  }

  print(line: string): void {
    if (this.tty && this.rl) this.clearLine();
    process.stdout.write(`${line}\n`);
    this.redraw();
  }

  setPrompt(prompt: string): void {
    this.prompt = prompt;
    this.rl?.setPrompt(prompt);
  }

  /** Redraws the prompt and the text typed so far. */
  redraw(): void {
    if (this.tty) this.rl?.prompt(true);
  }

  /** Erases the line just entered, wrapped rows included; the server's echo of it shows instead. */
  eraseEntered(line: string): void {
    if (!this.tty || !this.rl) return;
    const width = this.prompt.length + line.length;
    const rows = Math.max(1, Math.ceil(width / (process.stdout.columns || 80)));
    readline.moveCursor(process.stdout, 0, -rows);
    readline.clearScreenDown(process.stdout);
  }

  private clearLine(): void {
    readline.clearLine(process.stdout, 0);
    readline.cursorTo(process.stdout, 0);
  }
}

/** A join (or switch) sent and not yet answered with `joined`. */
interface PendingJoin {
  /** The position it asked to recover from, if any. */
  since?: StreamPosition;
  /** Frames of the room received before its `joined`: the replay of what was missed. */
  replayed: number;
}

/**
 * One person's chat session, across connections: the first connection, and after an unexpected
 * drop (`reconnectsAfterClose`) the next ones, opened with jittered exponential backoff,
 * authenticated with the same token, rejoining the current room with `since` (the last position
 * seen there) so that the server replays what was missed, or says it could not (`recovered:false`),
 * in which case the last messages are read back through `history`.
 */
class TerminalClient {
  private readonly screen = new Screen();
  private readonly positions = new RoomPositions();
  private socket: WebSocket | undefined;
  private rl: readline.Interface | undefined;
  /** The room this session is in: the one asked for at start, then the last one joined. */
  private roomId: string;
  private readonly joining = new Map<string, PendingJoin>();
  /** Whether any connection has opened: a first connection that fails ends the client instead. */
  private connectedOnce = false;
  /** Retries since the last successful join (the backoff's attempt number). */
  private attempt = 0;
  /** The close code that ended the last open connection (for the delay of the first retry). */
  private dropCode = 1006;
  private retryTimer: NodeJS.Timeout | undefined;
  private quitting = false;
  private closeSent = false;
  private exiting = false;
  /**
   * Requests sent on this connection and not yet answered. Each one the server answers once (join
   * and switch_room with joined, chat_message with its echo, presence with presence, history with
   * history, any of them with error), in order, so leaving waits for this to reach 0: a close sent
   * right behind the last line of a pipe must not overtake it.
   */
  private unanswered = 0;
  private onAllAnswered: (() => void) | undefined;

  constructor(private readonly options: Options) {
    this.roomId = options.roomId;
  }

  start(): void {
    this.screen.print(`Connecting to ${this.options.url} as ${this.options.userId}...`);
    this.connect();
  }

  private connect(): void {
    const { url, token } = this.options;
    const socket = new WebSocket(url, {
      handshakeTimeout: 10_000,
      ...(token !== undefined && { headers: { authorization: `Bearer ${token}` } }),
    });
    this.socket = socket;
    let opened = false;
    let refusedWith: number | undefined;

    socket.on('unexpected-response', (_request, response: IncomingMessage) => {
      refusedWith = response.statusCode;
      socket.terminate(); // ends the handshake: 'error' and 'close' follow
    });
    socket.on('open', () => {
      opened = true;
      this.onOpen();
    });
    socket.on('message', (data: RawData, isBinary: boolean) => {
      const raw = rawToString(data);
      const frame = isBinary ? undefined : parseFrame(raw);
      if (!frame) return this.screen.print(`? ${clean(raw)}`);
      this.onFrame(frame);
    });
    socket.on('error', (error: Error) => {
      const why = refusedWith === undefined ? error.message : `HTTP ${refusedWith}`;
      if (!this.connectedOnce) this.screen.print(`! cannot connect to ${url}: ${why}`);
      else if (!opened) this.screen.print(`* reconnecting failed: ${why}`);
    });
    socket.on('close', (code: number, reason: Buffer) =>
      this.onClose(opened, code, reason, refusedWith),
    );
  }

  private onOpen(): void {
    const reconnected = this.connectedOnce;
    this.connectedOnce = true;
    this.screen.print(reconnected ? 'Reconnected.' : 'Connected. Type /help for commands.');
    this.sendJoin(ClientMessageType.Join, this.roomId);
    if (reconnected) return;
    // Input is read only from here on: piped lines wait for the connection instead of failing.
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
    this.rl = rl;
    rl.on('line', (line) => this.handleLine(line));
    rl.on('SIGINT', () => this.quit()); // Ctrl-C
    rl.on('close', () => this.quit()); // Ctrl-D, or the end of piped input
    this.screen.attach(rl);
  }

  private onFrame(frame: Frame): void {
    const roomId = typeof frame.roomId === 'string' ? frame.roomId : undefined;
    if (frame.type === ServerMessageType.Joined && roomId !== undefined) {
      return this.onJoined(roomId, frame);
    }
    if (frame.type === ServerMessageType.History) {
      this.answered();
      return this.printHistory(frame);
    }
    let replayed = false;
    if (roomId !== undefined && isBroadcast(frame)) {
      // Printed once each: a frame already seen (a replay overlapping the live stream) is not.
      if (this.positions.observe(roomId, frame) === 'duplicate') return;
      const pending = this.joining.get(roomId);
      if (pending) {
        pending.replayed += 1;
        replayed = true;
      }
    }
    // A replayed message of ours answers nothing sent on this connection.
    if (!replayed && isAnswer(frame, this.options.userId)) this.answered();
    this.screen.print(describeFrame(frame));
  }

  private onJoined(roomId: string, frame: Frame): void {
    const pending = this.joining.get(roomId);
    this.joining.delete(roomId);
    this.positions.joined(roomId, frame);
    this.roomId = roomId;
    this.attempt = 0;
    this.screen.setPrompt(`${this.options.userId}@${clean(roomId)}> `);
    this.answered();
    this.screen.print(describeFrame(frame));
    if (!pending?.since) return;
    if (frame.recovered === true) {
      const missed =
        pending.replayed === 1 ? '1 missed message' : `${pending.replayed} missed messages`;
      this.screen.print(`${clock()} * recovered ${missed} in ${clean(roomId)}`);
    } else {
      this.screen.print(
        `${clock()} * could not recover what was missed in ${clean(roomId)}; its last messages:`,
      );
      this.send({
        type: ClientMessageType.History,
        roomId,
        limit: HISTORY_DEFAULT_LIMIT,
      });
    }
  }

  private printHistory(frame: Frame): void {
    const messages = Array.isArray(frame.messages) ? frame.messages.filter(isRecord) : [];
    const room = text(frame.roomId);
    if (messages.length === 0) return this.screen.print(`${clock()} * history of ${room}: empty`);
    this.screen.print(`${clock()} * history of ${room}, ${messages.length} oldest first:`);
    for (const message of messages) this.screen.print(describeFrame(message));
    this.screen.print(`${clock()} * end of history`);
  }

  private onClose(opened: boolean, code: number, reason: Buffer, refusedWith?: number): void {
    this.socket = undefined;
    this.unanswered = 0;
    this.joining.clear();
    if (this.closeSent) return this.exit(0);
    // Leaving while requests were in flight: they are lost with the connection.
    if (this.quitting) return this.exit(1);
    if (!this.connectedOnce) return this.exit(1); // the error said why
    let retry: boolean;
    if (opened) {
      const known = closeCodeName(code);
      const name = known ? ` ${known}` : '';
      const why = reason.length > 0 ? ` (${clean(reason.toString())})` : '';
      this.screen.print(`* connection closed: ${code}${name}${why}`);
      this.dropCode = code;
      retry = reconnectsAfterClose(code);
    } else {
      retry = refusedWith === undefined || reconnectsAfterRefusal(refusedWith);
      // After a 4001 the retry still carries the expired token.
      if (refusedWith === 401)
        this.screen.print('* the token was refused: start again with a new one');
    }
    // Only a normal closure is a normal end; anything else is worth a retry by whoever runs us.
    if (!retry) return this.exit(opened && code === 1000 ? 0 : 1);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const delay = reconnectDelay(this.attempt, this.dropCode);
    this.attempt += 1;
    this.screen.setPrompt(`${this.options.userId} (reconnecting)> `);
    this.screen.print(`* reconnecting in ${(delay / 1000).toFixed(1)} s (attempt ${this.attempt})`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay);
  }

  /** Joins `roomId` with `type` (join, or switch_room), asking to recover from its last position. */
  private sendJoin(
    type: typeof ClientMessageType.Join | typeof ClientMessageType.SwitchRoom,
    roomId: string,
  ): void {
    const since = this.positions.get(roomId);
    if (!this.send({ type, userId: this.options.userId, roomId, ...(since && { since }) })) return;
    this.joining.set(roomId, { since, replayed: 0 });
  }

  /** Sends `message` if connected (true), or says it cannot (false). */
  private send(message: object): boolean {
    const socket = this.socket;
    if (socket?.readyState !== WebSocket.OPEN) {
      this.screen.print(this.retryTimer ? '! not connected: reconnecting' : '! not connected');
      return false;
    }
    this.unanswered += 1;
    socket.send(JSON.stringify(message));
    return true;
  }

  private answered(): void {
    this.unanswered = Math.max(0, this.unanswered - 1);
    if (this.unanswered === 0) this.onAllAnswered?.();
  }

  private handleLine(line: string): void {
    this.screen.eraseEntered(line);
    const [command, ...args] = line.trim().split(/\s+/);
    const { userId } = this.options;
    if (command === '') {
      // Nothing to send: an empty chat_message would only earn an error.
    } else if (!command.startsWith('/')) {
      this.send({ type: ClientMessageType.ChatMessage, userId, content: line });
    } else if (command === '/switch' && args.length === 1) {
      this.sendJoin(ClientMessageType.SwitchRoom, args[0]);
    } else if (command === '/switch') {
      this.screen.print('! usage: /switch ROOM');
    } else if (command === '/who') {
      this.send({ type: ClientMessageType.Presence });
    } else if (command === '/history' && args.length <= 1) {
      const limit = args.length === 0 ? HISTORY_DEFAULT_LIMIT : Number(args[0]);
      if (!Number.isSafeInteger(limit) || limit < 1) {
        this.screen.print('! usage: /history [N], N a whole number from 1');
      } else {
        this.send({ type: ClientMessageType.History, roomId: this.roomId, limit });
      }
    } else if (command === '/history') {
      this.screen.print('! usage: /history [N]');
    } else if (command === '/help') {
      this.screen.print(HELP);
    } else if (command === '/quit') {
      this.quit();
    } else {
      this.screen.print(`! unknown command ${command}; /help lists them`);
    }
    this.screen.redraw();
  }

  /**
   * Once the server has answered everything sent (or ANSWER_TIMEOUT_MS passed), closes with 1000
   * and exits when the server has answered the close. Between two connections, exits at once.
   */
  private quit(): void {
    if (this.quitting || this.exiting) return;
    this.quitting = true;
    clearTimeout(this.retryTimer);
    const close = (): void => {
      this.onAllAnswered = undefined;
      const socket = this.socket;
      if (socket?.readyState !== WebSocket.OPEN) return this.exit(0);
      this.closeSent = true;
      socket.close(1000, 'bye');
      // A server that does not answer the close handshake must not keep us here.
      setTimeout(() => socket.terminate(), 2000).unref();
    };
    if (this.unanswered === 0 || this.socket?.readyState !== WebSocket.OPEN) return close();
    this.onAllAnswered = close;
    setTimeout(close, ANSWER_TIMEOUT_MS).unref();
  }

  private exit(code: number): void {
    this.exiting = true;
    this.screen.detach();
    this.rl?.close();
    process.exit(code);
  }
}

function main(argv: string[]): void {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`${USAGE}\n\n${HELP}`);
    return;
  }
  const options = parseArgs(argv);
  if (typeof options === 'string') {
    console.error(`client: ${options}\n\n${USAGE}`);
    process.exit(2);
  }
  new TerminalClient(options).start();
}

/**
 * Whether `frame` is one broadcast to a room's members (the positioned frames of the stream):
 * everything with a roomId except the answers to one connection.
 */
function isBroadcast(frame: Frame): boolean {
  switch (frame.type) {
    case ServerMessageType.Joined:
    case ServerMessageType.Presence:
    case ServerMessageType.History:
    case ServerMessageType.Error:
      return false;
    default:
      return true;
  }
}

/** Whether `frame` answers a request of ours (see `unanswered`). */
function isAnswer(frame: Frame, userId: string): boolean {
  switch (frame.type) {
    case ServerMessageType.Presence:
    case ServerMessageType.Error:
      return true;
    case ServerMessageType.ChatMessage:
      return frame.userId === userId;
    default:
      return false;
  }
}

main(process.argv.slice(2));
