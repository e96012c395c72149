import { AddressInfo, Server, Socket, createConnection, createServer } from 'node:net';

/**
 * A TCP proxy on a free loopback port in front of a server, for tests that need the network to
 * fail under a client without stopping the server: `cut` drops every connection through it (the
 * client sees 1006, the server a vanished peer), `refuse` turns new connections away until
 * `accept`, and `target` points it at another port (a server started again).
 */
export class TcpProxy {
  private readonly pairs = new Set<[Socket, Socket]>();
  private refusing = false;

  private constructor(
    private readonly server: Server,
    private targetPort: number,
  ) {
    server.on('connection', (client) => this.forward(client));
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server, targetPort);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** ws://127.0.0.1:PORT of the proxy. */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Connections currently forwarded. */
  get connections(): number {
    return this.pairs.size;
  }

  /** Sends the connections accepted from now on to `port`. */
  target(port: number): void {
    this.targetPort = port;
  }

  /** Destroys every forwarded connection, both sides, without a close frame or a FIN. */
  cut(): void {
    for (const [client, upstream] of this.pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  /** From now on, resets every new connection at once (the server looks unreachable). */
  refuse(): void {
    this.refusing = true;
  }

  /** Forwards new connections again. */
  accept(): void {
    this.refusing = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(client: Socket): void {
    if (this.refusing) {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection(this.targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const drop = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    // Either side failing or ending ends the pair: errors are how a cut shows, not test failures.
    for (const socket of pair) {
      socket.on('error', drop);
      socket.on('close', drop);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
