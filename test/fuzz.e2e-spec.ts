import * as fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { setTimeout as delay } from 'node:timers/promises';
import { HandshakeGuard } from '../src/transport/handshake-guard';
import { SessionRegistry } from '../src/transport/session-registry';
import { RoomHub } from '../src/rooms/room-hub';
import { RoomStore } from '../src/rooms/room-store';
import { PROTOCOL_TEST_LIMITS, RunningApp, startApp } from './support/test-app';
import { CloseInfo, Frame, TestClient } from './support/test-client';
import { POSITIONED } from './support/expected-frames';

/*
 * Property-based fuzzing of the wire protocol (issue 3, "Tests"): fast-check generates frames,
 * they are sent to the running app over a few connections, and an oracle written from the README
 * (not from the server's code) predicts the one answer each frame must get: an error frame with a
 * documented code, `joined`, the sender's own `chat_message`, or the documented close (1009 for a
 * frame over MAX_PAYLOAD_BYTES, 1007 for invalid UTF-8), after which the lane reconnects.
 *
 * Each connection is paced by its replies: a frame is sent only once the previous one has been
 * answered, so a missing reply times out and a second reply shows up in place of the next one (the
 * codes are predicted exactly) or, for the last frame, before the sentinel that ends every lane.
 * Lanes share room and user names, so broadcasts of the other lanes (user_joined, user_left, their
 * chat_message) arrive in between; they are noise to the oracle, checked only for their room.
 *
 * Where the README names two failures for one frame without saying which wins (a `__proto__` key
 * in a message of unknown type; a malformed field in a chat_message of an unjoined connection),
 * the oracle takes the order in which a server has to find them: frame, JSON, `type`, fields
 * (unknown_type before a reserved key), then session state (not_joined, user_mismatch, length).
 *
 * A failure prints fast-check's seed and path; rerun it with FUZZ_SEED=<seed> FUZZ_PATH=<path>.
 */

const MAX_PAYLOAD_BYTES = 65_536;
const MAX_MESSAGE_LENGTH = 10_000;
const LANES = 3;
// Runs of 1 to 100 frames (about 14,000 in all; never near 10,000 in practice): short enough to
// shrink a failure to a few frames.
const MAX_FRAMES_PER_RUN = 100;
const RUNS = 300;
const REQUIRED_FRAMES = 10_000;
const REPLY_TIMEOUT_MS = 4_000;
const FUZZ_TIME_LIMIT_MS = 150_000;

/** The `code`s of the README's error table. */
const DOCUMENTED_CODES = [
  'invalid_json',
  'invalid_message',
  'unknown_type',
  'not_joined',
  'user_mismatch',
  'unsupported',
  'rate_limited',
  'internal',
] as const;
type ErrorCode = (typeof DOCUMENTED_CODES)[number];

const KNOWN_TYPES = ['join', 'chat_message', 'switch_room'] as const;
/** "1 to 128 characters of [A-Za-z0-9_.:@-]" (README, Protocol). */
const ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;
const RESERVED_KEYS = ['__proto__', 'constructor', 'prototype'];

// ---------------------------------------------------------------------------------------------
// Frames

/** One generated WebSocket message: its exact bytes, its opcode, and where to fragment it. */
class FuzzFrame {
  constructor(
    readonly kind: string,
    readonly bytes: Buffer,
    readonly binary: boolean,
    /** Offsets at which the message is split into continuation frames (empty: one frame). */
    readonly splits: readonly number[] = [],
  ) {}

  fragments(): Buffer[] {
    const cuts = [...new Set(this.splits.map((at) => at % (this.bytes.length + 1)))].sort(
      (a, b) => a - b,
    );
    const parts: Buffer[] = [];
    let from = 0;
    for (const cut of cuts) {
      parts.push(this.bytes.subarray(from, cut));
      from = cut;
    }
    parts.push(this.bytes.subarray(from));
    return parts;
  }

  /** How fast-check prints a counterexample: short, since frames reach 64 KiB. */
  [fc.toStringMethod](): string {
    const opcode = this.binary ? 'binary' : 'text';
    const head = this.binary
      ? this.bytes.subarray(0, 48).toString('hex')
      : JSON.stringify(this.bytes.subarray(0, 160).toString('utf8'));
    const more = this.bytes.length > (this.binary ? 48 : 160) ? '…' : '';
    const split = this.splits.length > 0 ? ` split@${this.splits.join(',')}` : '';
    return `${this.kind}<${opcode} ${this.bytes.length}B${split}: ${head}${more}>`;
  }
}

const text = (kind: string, value: string) => new FuzzFrame(kind, Buffer.from(value), false);
const json = (kind: string, value: unknown) => text(kind, JSON.stringify(value));

// ---------------------------------------------------------------------------------------------
// The oracle: what the README says each frame must get

type Outcome =
  | { kind: 'error'; code: ErrorCode }
  | { kind: 'joined'; userId: string; roomId: string }
  | { kind: 'chat'; userId: string; roomId: string; content: string }
  | { kind: 'close'; code: 1007 | 1009 };

/** What the server knows of one connection: the user it is bound to and the room it is in. */
interface Session {
  userId?: string;
  roomId?: string;
}

const isId = (value: unknown): value is string =>
  typeof value === 'string' && ID_PATTERN.test(value);
const codePoints = (value: string): number => [...value].length;
/** No lone surrogate: every UTF-16 surrogate is half of a pair (String#isWellFormed, written out). */
const isWellFormed = (value: string): boolean => !/[\uD800-\uDFFF]/u.test(value);
const error = (code: ErrorCode): Outcome => ({ kind: 'error', code });

function predict(frame: FuzzFrame, session: Session): { outcome: Outcome; session: Session } {
  const same = (outcome: Outcome) => ({ outcome, session });
  // A closed connection is replaced by a fresh one, which knows nothing yet.
  const closes = (code: 1007 | 1009) => ({
    outcome: { kind: 'close', code } as const,
    session: {},
  });
  if (frame.bytes.length > MAX_PAYLOAD_BYTES) return closes(1009);
  if (frame.binary) return same(error('unsupported'));
  if (!isUtf8(frame.bytes)) return closes(1007);
  let value: unknown;
  try {
    value = JSON.parse(frame.bytes.toString('utf8'));
  } catch {
    return same(error('invalid_json'));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return same(error('invalid_message'));
  }
  const fields = new Map(Object.entries(value));
  const type = fields.get('type');
  if (typeof type !== 'string') return same(error('invalid_message'));
  if (!(KNOWN_TYPES as readonly string[]).includes(type)) return same(error('unknown_type'));
  if (RESERVED_KEYS.some((key) => fields.has(key))) return same(error('invalid_message'));
  // Any string field with a lone surrogate (`"\ud800"`, valid JSON) is refused, known or not.
  if ([...fields.values()].some((field) => typeof field === 'string' && !isWellFormed(field))) {
    return same(error('invalid_message'));
  }

  const userId = fields.get('userId');
  const roomId = fields.get('roomId');
  if (type === 'chat_message') {
    const content = fields.get('content');
    if (!isId(userId) || typeof content !== 'string' || content.length === 0) {
      return same(error('invalid_message'));
    }
    if (session.roomId === undefined) return same(error('not_joined'));
    if (session.userId !== userId) return same(error('user_mismatch'));
    if (codePoints(content) > MAX_MESSAGE_LENGTH) return same(error('invalid_message'));
    return same({ kind: 'chat', userId, roomId: session.roomId, content });
  }
  // join (roomId optional, null counts as absent) and switch_room (roomId required).
  const roomOk = isId(roomId) || (type === 'join' && (roomId === undefined || roomId === null));
  if (!isId(userId) || !roomOk) return same(error('invalid_message'));
  if (session.userId !== undefined && session.userId !== userId) {
    return same(error('user_mismatch'));
  }
  const room = isId(roomId) ? roomId : userId;
  return { outcome: { kind: 'joined', userId, roomId: room }, session: { userId, roomId: room } };
}

function outcomeLabel(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'error':
      return `error ${outcome.code}`;
    case 'close':
      return `close ${outcome.code}`;
    default:
      return outcome.kind;
  }
}

// ---------------------------------------------------------------------------------------------
// Generators

// Mostly one name, so that lanes join, stay bound to it and chat; the rest tries every corner.
const validId = fc.oneof(
  { weight: 8, arbitrary: fc.constant('alice') },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'alice',
      'bob',
      'lobby',
      'games',
      'a',
      '0',
      'user@example.com',
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      'hasOwnProperty',
      'x'.repeat(128),
    ),
  },
  { weight: 1, arbitrary: fc.stringMatching(ID_PATTERN) },
);

const invalidId = fc.oneof(
  fc.constantFrom(
    '',
    'a'.repeat(129),
    'al ice',
    'alice\n',
    '\nalice',
    'a/b',
    'room#1',
    'alicé',
    '👋',
    'a\u0000b',
    '<b>x</b>',
    'a%20b',
    '\u202ealice',
    'ａlice',
  ),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((s) => !isId(s)),
  fc.integer({ min: 129, max: 2_000 }).map((n) => 'b'.repeat(n)),
);

const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 2 }),
  fc.jsonValue({ maxDepth: 3 }),
);

const loneSurrogates = fc
  .array(fc.integer({ min: 0xd800, max: 0xdfff }), { minLength: 1, maxLength: 4 })
  .map((units) => String.fromCharCode(...units));

const content: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: loneSurrogates },
  {
    weight: 2,
    arbitrary: fc.constantFrom('', ' ', '\uFE0F', '\u0000', '\u2028', '"', '\\', '</script>'),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('a', 'é', '👋', '\u{10FFFF}'), fc.integer({ min: -2, max: 2 }))
      .map(([char, delta]) => char.repeat(MAX_MESSAGE_LENGTH + delta)),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 70_000 }).map((n) => 'x'.repeat(n)) },
  { weight: 2, arbitrary: wrongType },
);

/** A field value: mostly valid, else out of bounds, of the wrong type, or absent. */
const idField = fc.option(
  fc.oneof({ weight: 6, arbitrary: validId }, { weight: 2, arbitrary: invalidId }, wrongType),
  { nil: undefined, freq: 8 },
);

const unknownType = fc
  .oneof(
    fc.constantFrom(
      'JOIN',
      'Join',
      ' join',
      'join ',
      'join\u0000',
      'ｊｏｉｎ',
      'chat',
      'leave',
      'joined',
      'error',
      'user_joined',
      '',
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      'hasOwnProperty',
      'valueOf',
      '#protocol_error',
      'x'.repeat(10_000),
    ),
    fc.string({ unit: 'grapheme', maxLength: 30 }),
  )
  .filter((type) => !(KNOWN_TYPES as readonly string[]).includes(type));

const extraFields = fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), {
  maxKeys: 3,
});

/** `{type, userId?, roomId?, content?, ...extra}`, the protocol's shapes with wrong types and bounds. */
const protocolObject: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    type: fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom<unknown>(...KNOWN_TYPES) },
      { weight: 1, arbitrary: unknownType },
      { weight: 1, arbitrary: wrongType },
      { weight: 1, arbitrary: fc.constant(undefined) },
    ),
    userId: idField,
    roomId: idField,
    content: fc.option(content, { nil: undefined, freq: 6 }),
    extra: fc.option(extraFields, { nil: undefined, freq: 3 }),
  })
  .map(({ type, extra, ...fields }) => ({ ...(extra ?? {}), type, ...fields }));

const protocolShape = protocolObject.map((value) => json('shape', value));

/** Well-formed messages, so that lanes get into rooms and chat between the malformed ones. */
const validMessage = fc.oneof(
  fc
    .record({ userId: validId, roomId: fc.option(validId, { nil: undefined }) })
    .map(({ userId, roomId }) => json('valid-join', { type: 'join', userId, roomId })),
  fc
    .record({ userId: validId, roomId: validId })
    .map((fields) => json('valid-switch', { type: 'switch_room', ...fields })),
  fc
    .record({ userId: validId, content: fc.string({ unit: 'grapheme', minLength: 1 }) })
    .map((fields) => json('valid-chat', { type: 'chat_message', ...fields })),
  fc
    .record({ userId: validId, content: fc.string({ unit: 'grapheme', minLength: 1 }) })
    .map((fields) => json('valid-chat', { type: 'chat_message', ...fields })),
);

const randomJson = fc.oneof(
  fc.jsonValue().map((value) => json('json', value)),
  fc
    .record({ type: fc.jsonValue({ maxDepth: 2 }), rest: extraFields })
    .map(({ type, rest }) => json('json-typed', { ...rest, type })),
);

/** Keys that reach `Object.prototype` when merged naively; fast-check never generates them. */
const POLLUTING_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  '__defineGetter__',
  '__lookupGetter__',
  'toLocaleString',
  'toJSON',
];
// Parsed per use, so each `__proto__` in them is an own key (JSON.parse defines, never sets).
const POLLUTING_PAYLOADS = [
  '{"polluted":"yes"}',
  '{"prototype":{"polluted":"yes"}}',
  '{"__proto__":{"polluted":"yes"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '[{"__proto__":{"polluted":"yes"}}]',
  '"polluted"',
  '1',
  'null',
];

/** Every plain object in `value`, breadth first, with its depth. */
function objectsIn(value: unknown): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  const queue: unknown[] = [value];
  while (queue.length > 0) {
    const node = queue.shift();
    if (typeof node !== 'object' || node === null) continue;
    if (!Array.isArray(node)) found.push(node as Record<string, unknown>);
    queue.push(...Object.values(node as Record<string, unknown>));
  }
  return found;
}

const injection = fc.record({
  key: fc.constantFrom(...POLLUTING_KEYS),
  payload: fc.constantFrom(...POLLUTING_PAYLOADS),
  at: fc.nat(),
});

/** A protocol shape or a random object with `__proto__` & co. defined as own keys at random depths. */
const injectedKeys = fc
  .record({
    base: fc.oneof(
      { weight: 3, arbitrary: protocolObject },
      {
        weight: 1,
        arbitrary: fc.object({ maxDepth: 3 }).map((o) => ({ type: 'join', userId: 'alice', o })),
      },
      { weight: 1, arbitrary: fc.object({ maxDepth: 3 }) },
    ),
    injections: fc.array(injection, { minLength: 1, maxLength: 3 }),
  })
  .map(({ base, injections }) => {
    const value: unknown = JSON.parse(JSON.stringify(base) ?? 'null');
    for (const { key, payload, at } of injections) {
      const targets = objectsIn(value);
      if (targets.length === 0) continue;
      Object.defineProperty(targets[at % targets.length], key, {
        value: JSON.parse(payload) as unknown,
        enumerable: true,
        configurable: true,
        writable: true,
      });
    }
    return json('injected', value);
  });

/** Deep nesting built as text: JSON.stringify of such a value would itself overflow the stack. */
const deepNesting = fc
  .record({
    depth: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 200, max: 40_000 })),
    shape: fc.constantFrom('array', 'object', 'mixed', 'unclosed'),
    where: fc.constantFrom('root', 'extra', 'userId', 'content', 'nested-proto'),
  })
  .map(({ depth, shape, where }) => {
    const deep =
      shape === 'array'
        ? '['.repeat(depth) + ']'.repeat(depth)
        : shape === 'object'
          ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
          : shape === 'mixed'
            ? '[{"a":'.repeat(depth) + '1' + '}]'.repeat(depth)
            : '['.repeat(depth);
    const frames: Record<typeof where, string> = {
      root: deep,
      extra: `{"type":"join","userId":"alice","roomId":"lobby","extra":${deep}}`,
      userId: `{"type":"join","userId":${deep}}`,
      content: `{"type":"chat_message","userId":"alice","content":${deep}}`,
      'nested-proto': `{"type":"join","userId":"alice","x":{"__proto__":${deep}}}`,
    };
    return text(`deep-${shape}-${where}`, frames[where]);
  });

/** Frames of MAX_PAYLOAD_BYTES ± a few bytes: the limit itself is allowed, one more closes. */
const nearPayloadLimit = fc
  .record({
    delta: fc.integer({ min: -3, max: 3 }),
    template: fc.constantFrom('chat', 'join-pad', 'unknown', 'binary', 'ascii-garbage'),
  })
  .map(({ delta, template }) => {
    const size = MAX_PAYLOAD_BYTES + delta;
    if (template === 'binary') return new FuzzFrame('limit-binary', Buffer.alloc(size, 7), true);
    const [before, after] = {
      chat: ['{"type":"chat_message","userId":"alice","content":"', '"}'],
      'join-pad': ['{"type":"join","userId":"alice","roomId":"lobby","pad":"', '"}'],
      unknown: ['{"type":"', '"}'],
      'ascii-garbage': ['', ''],
    }[template];
    const fill = 'x'.repeat(size - before.length - after.length);
    return text(`limit-${template}`, `${before}${fill}${after}`);
  });

const binaryFrames = fc.oneof(
  fc.uint8Array({ maxLength: 1_024 }).map((u) => new FuzzFrame('binary', Buffer.from(u), true)),
  protocolObject.map((v) => new FuzzFrame('binary-json', Buffer.from(JSON.stringify(v)), true)),
);

const INVALID_UTF8 = [
  [0xff],
  [0xfe],
  [0x80],
  [0xbf],
  [0xc0, 0x80], // overlong NUL
  [0xc1, 0xbf],
  [0xe0, 0x80, 0x80],
  [0xe2, 0x82], // truncated
  [0xed, 0xa0, 0x80], // UTF-16 surrogate
  [0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xf0, 0x9f, 0x98],
];

const rawTextBytes = fc.oneof(
  fc
    .uint8Array({ minLength: 1, maxLength: 256 })
    .map((u) => new FuzzFrame('text-bytes', Buffer.from(u), false)),
  fc
    .tuple(protocolShape, fc.nat(), fc.constantFrom(...INVALID_UTF8))
    .map(([frame, at, sequence]) => {
      const cut = at % (frame.bytes.length + 1);
      const bytes = Buffer.concat([
        frame.bytes.subarray(0, cut),
        Buffer.from(sequence),
        frame.bytes.subarray(cut),
      ]);
      return new FuzzFrame('invalid-utf8', bytes, false);
    }),
  protocolShape.map(
    (f) => new FuzzFrame('bom', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), f.bytes]), false),
  ),
);

const unknownTypes = fc
  .record({ type: unknownType, fields: fc.option(protocolObject, { nil: undefined }) })
  .map(({ type, fields }) => json('unknown-type', { ...(fields ?? {}), type }));

const longStrings = fc
  .record({
    length: fc.integer({ min: 1_000, max: 70_000 }),
    char: fc.constantFrom('a', 'é', '👋', ' '),
    field: fc.constantFrom('userId', 'roomId', 'content', 'type', 'extra'),
  })
  .map(({ length, char, field }) =>
    json(`long-${field}`, {
      type: 'chat_message',
      userId: 'alice',
      content: 'hi',
      [field]: char.repeat(Math.ceil(length / Buffer.byteLength(char))),
    }),
  );

const frameArb: fc.Arbitrary<FuzzFrame> = fc
  .tuple(
    fc.oneof(
      { weight: 30, arbitrary: protocolShape },
      { weight: 15, arbitrary: validMessage },
      { weight: 10, arbitrary: randomJson },
      { weight: 8, arbitrary: injectedKeys },
      { weight: 5, arbitrary: unknownTypes },
      { weight: 4, arbitrary: deepNesting },
      { weight: 4, arbitrary: binaryFrames },
      { weight: 4, arbitrary: rawTextBytes },
      { weight: 2, arbitrary: longStrings },
      { weight: 1, arbitrary: nearPayloadLimit },
    ),
    fc.option(fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), { nil: [], freq: 10 }),
  )
  .map(([frame, splits]) => new FuzzFrame(frame.kind, frame.bytes, frame.binary, splits));

// ---------------------------------------------------------------------------------------------
// Lanes: one connection at a time, paced by replies

class FuzzFailure extends Error {
  override readonly name = 'FuzzFailure';
}

function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new FuzzFailure(message());
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FuzzFailure(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const BROADCASTS = new Set(['user_joined', 'user_left', 'chat_message']);

/** Frames of other lanes' activity in a shared room; never an answer to this lane's frame. */
function isNoise(frame: Frame, expected?: Outcome): boolean {
  if (!BROADCASTS.has(frame.type)) return false;
  if (frame.type !== 'chat_message' || expected?.kind !== 'chat') return true;
  return !(
    frame.userId === expected.userId &&
    frame.roomId === expected.roomId &&
    frame.content === expected.content
  );
}

interface Tally {
  frames: number;
  outcomes: Map<string, number>;
}

class Lane {
  private client!: TestClient;
  private session: Session = {};
  /** Rooms this lane has been in: broadcast noise must come from one of them. */
  private readonly rooms = new Set<string>();
  private readonly clients: TestClient[] = [];

  constructor(
    private readonly server: RunningApp,
    private readonly name: string,
    private readonly tally: Tally,
  ) {}

  async open(): Promise<void> {
    this.client = await TestClient.connect(this.server.wsUrl);
    this.clients.push(this.client);
    this.session = {};
  }

  async play(frame: FuzzFrame, index: number): Promise<void> {
    const { outcome, session } = predict(frame, this.session);
    const context = () =>
      `${this.name}, frame #${index} ${frame[fc.toStringMethod]()}, session ${JSON.stringify(this.session)}, expected ${outcomeLabel(outcome)}`;
    const fragments = frame.fragments();
    fragments.forEach((part, i) =>
      this.client.socket.send(part, { binary: frame.binary, fin: i === fragments.length - 1 }),
    );
    this.tally.frames += 1;
    const label = outcomeLabel(outcome);
    this.tally.outcomes.set(label, (this.tally.outcomes.get(label) ?? 0) + 1);

    if (outcome.kind === 'close') {
      const closed = await withTimeout(this.client.closed, REPLY_TIMEOUT_MS, context());
      check(closed.code === outcome.code, () => `${context()}: closed with ${closed.code}`);
      this.checkOnlyNoiseLeft(context);
      await this.open();
      return;
    }
    const reply = await this.reply(outcome, context);
    if (outcome.kind === 'error') {
      check(
        reply.type === 'error' &&
          (DOCUMENTED_CODES as readonly unknown[]).includes(reply.code) &&
          reply.code === outcome.code &&
          typeof reply.message === 'string' &&
          reply.message.length > 0 &&
          Object.keys(reply).sort().join() === 'code,message,type',
        () => `${context()}: got ${JSON.stringify(reply).slice(0, 300)}`,
      );
    } else if (outcome.kind === 'joined') {
      const expected = {
        type: 'joined',
        roomId: outcome.roomId,
        userId: outcome.userId,
        message: `Joined room: ${outcome.roomId}`,
      };
      const { offset, epoch, ...rest } = reply;
      check(
        JSON.stringify(rest) === JSON.stringify(expected) &&
          Number.isSafeInteger(offset) &&
          typeof epoch === 'string',
        () => `${context()}: got ${JSON.stringify(reply).slice(0, 300)}`,
      );
      this.rooms.add(outcome.roomId);
    } else {
      check(
        reply.type === 'chat_message' &&
          typeof reply.timestamp === 'string' &&
          !Number.isNaN(Date.parse(reply.timestamp)),
        () => `${context()}: got ${JSON.stringify(reply).slice(0, 300)}`,
      );
    }
    this.session = session;
  }

  /** Ends the lane with a frame whose answer names it, so a late extra answer cannot hide. */
  async finish(runId: number): Promise<void> {
    const sentinel = `fuzz-end-${runId}-${this.name}`;
    const context = () => `${this.name}, sentinel ${sentinel}`;
    this.client.send({ type: sentinel });
    const reply = await this.reply(undefined, context);
    check(
      reply.type === 'error' &&
        reply.code === 'unknown_type' &&
        String(reply.message).includes(sentinel),
      () => `${context()}: an extra answer came first: ${JSON.stringify(reply).slice(0, 300)}`,
    );
    this.checkOnlyNoiseLeft(context);
  }

  terminate(): void {
    for (const client of this.clients) client.terminate();
  }

  private async reply(expected: Outcome | undefined, context: () => string): Promise<Frame> {
    const reply = this.client.next((frame) => !isNoise(frame, expected), REPLY_TIMEOUT_MS);
    const closed = this.client.closed.then((info: CloseInfo): never => {
      throw new FuzzFailure(`${context()}: closed with ${info.code} instead of answering`);
    });
    // Whichever loses must not become an unhandled rejection later.
    reply.catch(() => undefined);
    closed.catch(() => undefined);
    return Promise.race([reply, closed]).catch((cause: unknown) => {
      throw cause instanceof FuzzFailure
        ? cause
        : new FuzzFailure(`${context()}: ${String(cause)}`);
    });
  }

  private checkOnlyNoiseLeft(context: () => string): void {
    for (const frame of this.client.unread()) {
      check(
        isNoise(frame) && typeof frame.roomId === 'string' && this.rooms.has(frame.roomId),
        () => `${context()}: unexpected frame ${JSON.stringify(frame).slice(0, 300)}`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------

function prototypeSnapshot(): Record<string, string[]> {
  return {
    Object: Object.getOwnPropertyNames(Object.prototype).sort(),
    Array: Object.getOwnPropertyNames(Array.prototype).sort(),
    Function: Object.getOwnPropertyNames(Function.prototype).sort(),
    String: Object.getOwnPropertyNames(String.prototype).sort(),
  };
}

async function settled(
  read: () => Promise<Record<string, number>>,
): Promise<Record<string, number>> {
  let counts = await read();
  for (let i = 0; i < 500 && Object.values(counts).some((n) => n !== 0); i++) {
    await delay(10);
    counts = await read();
  }
  return counts;
}

describe('protocol fuzzing', () => {
  let server: RunningApp;

  beforeAll(async () => {
    server = await startApp({
      ...PROTOCOL_TEST_LIMITS,
      MAX_PAYLOAD_BYTES,
      MAX_MESSAGE_LENGTH,
      // Lanes of random frames rarely join; they must not be cut for it mid-run.
      JOIN_TIMEOUT_MS: 3_600_000,
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it(
    `answers ${REQUIRED_FRAMES}+ generated frames each with exactly one error frame, the ` +
      'success frame or the documented close, and keeps serving, unpolluted',
    async () => {
      const prototypesBefore = prototypeSnapshot();
      const tally: Tally = { frames: 0, outcomes: new Map() };
      let runId = 0;

      await fc.assert(
        fc.asyncProperty(
          fc.array(frameArb, { minLength: 1, maxLength: MAX_FRAMES_PER_RUN, size: 'max' }),
          async (frames) => {
            runId += 1;
            const lanes = Array.from(
              { length: LANES },
              (_, i) => new Lane(server, `lane ${i}`, tally),
            );
            try {
              await Promise.all(lanes.map((lane) => lane.open()));
              const results = await Promise.allSettled(
                lanes.map(async (lane, l) => {
                  for (let i = l; i < frames.length; i += LANES) await lane.play(frames[i], i);
                  await lane.finish(runId);
                }),
              );
              const failed = results.find((r) => r.status === 'rejected');
              if (failed) throw failed.reason;
            } finally {
              for (const lane of lanes) lane.terminate();
            }
          },
        ),
        {
          numRuns: RUNS,
          seed: process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED),
          path: process.env.FUZZ_PATH,
          // Shrinking replays runs against the live server; it is capped so that a failure is
          // still reported, with its seed, well within the test's timeout.
          plugins: [fc.interruptAfterTimeLimit(FUZZ_TIME_LIMIT_MS, { failOnInterrupt: true })],
        },
      );

      expect(tally.frames).toBeGreaterThanOrEqual(REQUIRED_FRAMES);
      // The generators reach every answer the oracle knows, so none of them is tested vacuously.
      const reached = [...tally.outcomes.keys()].sort();
      expect(reached).toEqual(
        expect.arrayContaining([
          'chat',
          'close 1007',
          'close 1009',
          'error invalid_json',
          'error invalid_message',
          'error not_joined',
          'error unknown_type',
          'error unsupported',
          'error user_mismatch',
          'joined',
        ]),
      );

      // No prototype was touched.
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
      expect(prototypeSnapshot()).toEqual(prototypesBefore);

      // The server is up and serves a fresh client.
      expect((await fetch(`${server.httpUrl}/health`)).status).toBe(200);
      const fresh = await TestClient.connect(server.wsUrl);
      try {
        expect(
          await fresh.request({ type: 'join', userId: 'fresh', roomId: 'after-fuzz' }),
        ).toEqual({
          type: 'joined',
          roomId: 'after-fuzz',
          userId: 'fresh',
          message: 'Joined room: after-fuzz',
          ...POSITIONED,
        });
        expect(
          await fresh.request({ type: 'chat_message', userId: 'fresh', content: 'still up' }),
        ).toEqual({
          type: 'chat_message',
          userId: 'fresh',
          roomId: 'after-fuzz',
          content: 'still up',
          timestamp: expect.any(String),
          ...POSITIONED,
        });
      } finally {
        await fresh.close();
      }

      // Every fuzzed connection, membership and timer is gone.
      const registry = server.app.get(SessionRegistry);
      const hub = server.app.get(RoomHub);
      const store = server.app.get<RoomStore>(RoomStore);
      const guard = server.app.get(HandshakeGuard);
      const counts = await settled(async () => ({
        connections: registry.size,
        joinTimers: registry.awaitingJoinCount,
        hubRooms: hub.roomCount,
        hubMembers: hub.memberCount,
        storeRooms: await store.roomCount(),
        guardOpen: guard.openCount,
        guardIps: guard.ipCount,
      }));
      expect(counts).toEqual({
        connections: 0,
        joinTimers: 0,
        hubRooms: 0,
        hubMembers: 0,
        storeRooms: 0,
        guardOpen: 0,
        guardIps: 0,
      });
    },
    240_000,
  );
});
