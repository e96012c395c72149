import { AddressInfo, Server, Socket, createServer } from 'node:net';

/**
 * A TCP server that speaks just enough of Redis' protocol (RESP) to pass for a Redis of the given
 * version: `INFO` answers `redis_version:<version>`, every other command `+OK`. For checks that
 * happen at connect (the version), where a real old Redis is not at hand.
 */
export class FakeRedis {
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly version: string,
  ) {}

  static async start(version: string): Promise<FakeRedis> {
    const server = createServer();
    const fake = new FakeRedis(server, version);
    server.on('connection', (socket) => fake.serve(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `redis://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (;;) {
        const parsed = parseCommand(buffered);
        if (!parsed) return;
        buffered = buffered.slice(parsed.length);
        socket.write(this.answer(parsed.args));
      }
    });
  }

  private answer(args: string[]): string {
    if (args[0]?.toUpperCase() === 'INFO') {
      const info = `# Server\r\nredis_version:${this.version}\r\nloading:0\r\n`;
      return `$${Buffer.byteLength(info)}\r\n${info}\r\n`;
    }
    return '+OK\r\n';
  }
}

/** One RESP array of bulk strings at the start of `text`, or undefined while incomplete. */
function parseCommand(text: string): { args: string[]; length: number } | undefined {
  const header = /^\*(\d+)\r\n/.exec(text);
  if (!header) return undefined;
  let at = header[0].length;
  const args: string[] = [];
  for (let i = 0; i < Number(header[1]); i++) {
    const size = /^\$(\d+)\r\n/.exec(text.slice(at));
    if (!size) return undefined;
    at += size[0].length;
    const end = at + Number(size[1]);
    if (text.length < end + 2) return undefined;
    args.push(text.slice(at, end));
    at = end + 2;
  }
  return { args, length: at };
}
