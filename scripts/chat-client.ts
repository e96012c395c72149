import { randomBytes } from 'node:crypto';
import * as readline from 'node:readline';
import WebSocket, { RawData } from 'ws';
import { ClientMessageType, ServerMessageType } from '../src/protocol/chat.protocol';
import { ID_PATTERN, ID_PATTERN_TEXT } from '../src/protocol/ids';
import { closeCodeName } from './lib/close-code-names';
import { Frame, healthUrlOf, parseFrame, rawToString } from './lib/frames';

const USAGE = `Usage: npm run -s client -- <ws://host:port | wss://host> [--user ID] [--room ID] [--token JWT]

  --user ID   who you are (default: the token's user, or a generated user_xxxxxx)
  --room ID   the room to join (default: your own room, named like your user)
  --token JWT a token for a server with AUTH_MODE=jwt (default: TOKEN from the environment),
              sent as Authorization: Bearer
IDs are ${ID_PATTERN_TEXT}.`;

const HELP = `Type a line and press Enter to send it to the room. Commands:
  /switch ROOM   leave this room and join ROOM
  /who           who is in this room
  /help          this list
  /quit          leave (Ctrl-D and Ctrl-C too)`;

/** How long leaving waits for the server to answer what was sent (piped input ends at once). */
const ANSWER_TIMEOUT_MS = 5000;

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
  const { url, userId, roomId, token } = options;
  const screen = new Screen();
  let rl: readline.Interface | undefined;
  let opened = false;
  let quitting = false;
  let closeSent = false;
  let exiting = false;
  /**
   * Requests sent and not yet answered. Each one the server answers once (join and switch_room
   * with joined, chat_message with its echo, presence with presence, any of them with error), in
   * order, so leaving waits for this to reach 0: a close sent right behind the last line of a
   * pipe must not overtake it.
   */
  let unanswered = 0;
  let onAllAnswered: (() => void) | undefined;

  const exit = (code: number): void => {
    exiting = true;
    screen.detach();
    rl?.close();
    process.exit(code);
  };
  const send = (message: object): void => {
    if (socket.readyState !== WebSocket.OPEN) return screen.print('! not connected');
    unanswered += 1;
    socket.send(JSON.stringify(message));
  };
  const answered = (): void => {
    unanswered = Math.max(0, unanswered - 1);
    if (unanswered === 0) onAllAnswered?.();
  };
  /**
   * Once the server has answered everything sent (or ANSWER_TIMEOUT_MS passed), closes with 1000
   * and exits when the server has answered the close.
   */
  const quit = (): void => {
    if (quitting || exiting) return;
    quitting = true;
    const close = (): void => {
      onAllAnswered = undefined;
      if (socket.readyState !== WebSocket.OPEN) return exit(0);
      closeSent = true;
      socket.close(1000, 'bye');
      // A server that does not answer the close handshake must not keep us here.
      setTimeout(() => socket.terminate(), 2000).unref();
    };
    if (unanswered === 0 || socket.readyState !== WebSocket.OPEN) return close();
    onAllAnswered = close;
    setTimeout(close, ANSWER_TIMEOUT_MS).unref();
  };
  const handleLine = (line: string): void => {
    screen.eraseEntered(line);
    const [command, ...args] = line.trim().split(/\s+/);
    if (command === '') {
      // Nothing to send: an empty chat_message would only earn an error.
    } else if (!command.startsWith('/')) {
      send({ type: ClientMessageType.ChatMessage, userId, content: line });
    } else if (command === '/switch' && args.length === 1) {
      send({ type: ClientMessageType.SwitchRoom, userId, roomId: args[0] });
    } else if (command === '/switch') {
      screen.print('! usage: /switch ROOM');
    } else if (command === '/who') {
      send({ type: ClientMessageType.Presence });
    } else if (command === '/help') {
      screen.print(HELP);
    } else if (command === '/quit') {
      quit();
    } else {
      screen.print(`! unknown command ${command}; /help lists them`);
    }
    screen.redraw();
  };

  screen.print(`Connecting to ${url} as ${userId}...`);
  const socket = new WebSocket(url, {
    handshakeTimeout: 10_000,
    ...(token !== undefined && { headers: { authorization: `Bearer ${token}` } }),
  });

  socket.on('open', () => {
    opened = true;
    screen.print('Connected. Type /help for commands.');
    send({ type: ClientMessageType.Join, userId, roomId });
    // Input is read only from here on: piped lines wait for the connection instead of failing.
    rl = readline.createInterface({ input: process.stdin, output: process.stdout });
    rl.on('line', handleLine);
    rl.on('SIGINT', quit); // Ctrl-C
    rl.on('close', quit); // Ctrl-D, or the end of piped input
    screen.attach(rl);
  });
  socket.on('message', (data: RawData, isBinary: boolean) => {
    const raw = rawToString(data);
    const frame = isBinary ? undefined : parseFrame(raw);
    if (!frame) return screen.print(`? ${clean(raw)}`);
    if (frame.type === ServerMessageType.Joined && typeof frame.roomId === 'string') {
      screen.setPrompt(`${userId}@${clean(frame.roomId)}> `);
    }
    if (isAnswer(frame, userId)) answered();
    screen.print(describe(frame));
  });
  socket.on('error', (error: Error) => {
    if (!opened) screen.print(`! cannot connect to ${url}: ${error.message}`);
  });
  socket.on('close', (code: number, reason: Buffer) => {
    if (closeSent) return exit(0);
    if (opened) {
      const known = closeCodeName(code);
      const name = known ? ` ${known}` : '';
      const why = reason.length > 0 ? ` (${clean(reason.toString())})` : '';
      screen.print(`* connection closed: ${code}${name}${why}`);
    }
    // Only a normal closure is a normal end; anything else is worth a retry by whoever runs us.
    exit(opened && code === 1000 ? 0 : 1);
  });
}

/** Whether `frame` answers a request of ours (see `unanswered`). */
function isAnswer(frame: Frame, userId: string): boolean {
  switch (frame.type) {
    case ServerMessageType.Joined:
    case ServerMessageType.Presence:
    case ServerMessageType.Error:
      return true;
    case ServerMessageType.ChatMessage:
      return frame.userId === userId;
    default:
      return false;
  }
}

/** A frame as a line for people. */
function describe(frame: Frame): string {
  const time = clock(typeof frame.timestamp === 'string' ? new Date(frame.timestamp) : new Date());
  switch (frame.type) {
    case ServerMessageType.ChatMessage:
      return `${time} [${text(frame.roomId)}] ${text(frame.userId)}: ${text(frame.content)}`;
    case ServerMessageType.Joined:
    case ServerMessageType.UserJoined:
    case ServerMessageType.UserLeft:
      return `${time} * ${text(frame.message)}`;
    case ServerMessageType.Error:
      return `${time} ! error (${text(frame.code)}): ${text(frame.message)}`;
    case ServerMessageType.Presence:
      return `${time} * in ${text(frame.roomId)}: ${describeUsers(frame.users)}`;
    case ServerMessageType.Auth:
      return `${time} * authenticated${frame.userId === undefined ? '' : ` as ${text(frame.userId)}`}`;
    case ServerMessageType.Refreshed:
      return `${time} * token refreshed`;
    default:
      return `${time} ? ${clean(JSON.stringify(frame))}`;
  }
}

/** `alice, bob (2 connections)`: the users of a presence frame. */
function describeUsers(users: unknown): string {
  if (!Array.isArray(users)) return text(users);
  if (users.length === 0) return 'nobody';
  return users
    .map((user: { userId?: unknown; connections?: unknown }) => {
      const many = typeof user.connections === 'number' && user.connections > 1;
      return `${text(user.userId)}${many ? ` (${String(user.connections)} connections)` : ''}`;
    })
    .join(', ');
}

function clock(date: Date): string {
  const at = Number.isNaN(date.getTime()) ? new Date() : date;
  return [at.getHours(), at.getMinutes(), at.getSeconds()]
    .map((n) => String(n).padStart(2, '0'))
    .join(':');
}

function text(value: unknown): string {
  return clean(typeof value === 'string' ? value : JSON.stringify(value));
}

/**
 * Content comes from other people: control characters (escape sequences could move the cursor,
 * retitle or garble the terminal) are shown as `�`; line breaks are kept, indented.
 */
function clean(value: string): string {
  return value
    .replace(/\r?\n/g, '\n    ')
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\ufffd'); // eslint-disable-line no-control-regex
}

main(process.argv.slice(2));
