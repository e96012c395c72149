import { AddressInfo, Server, Socket, connect, createServer } from 'node:net';
import { TcpProxy } from './tcp-proxy';

/** An echo server on a free loopback port. */
async function echoServer(): Promise<Server> {
  const server = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const portOf = (server: Server): number => (server.address() as AddressInfo).port;

/** Connects to `port`, sends `text`, resolves with the first data back (or the error). */
function roundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    socket.once('data', (data) => {
      resolve(data.toString());
      socket.destroy();
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code}`));
    socket.once('close', () => resolve('closed'));
  });
}

describe('TcpProxy', () => {
  const servers: Server[] = [];
  let proxy: TcpProxy;

  beforeEach(async () => {
    servers.push(await echoServer(), await echoServer());
    proxy = await TcpProxy.start(portOf(servers[0]));
  });

  afterEach(async () => {
    await proxy.close();
    await Promise.all(
      servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))),
    );
  });

  it('forwards both ways', async () => {
    expect(await roundTrip(proxy.port, 'ping')).toBe('ping');
  });

  it('cut drops the connections it forwards', async () => {
    const socket: Socket = connect(proxy.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('data', resolve).write('x'));
    const ended = new Promise((resolve) => socket.once('close', resolve));
    socket.on('error', () => undefined);

    proxy.cut();

    await ended;
    expect(proxy.connections).toBe(0);
  });

  it('refuse resets new connections until accept', async () => {
    proxy.refuse();
    expect(await roundTrip(proxy.port, 'ping')).toMatch(/^(error ECONNRESET|closed)$/);
    proxy.accept();
    expect(await roundTrip(proxy.port, 'ping')).toBe('ping');
  });

  it('target sends new connections to another port', async () => {
    let reached = false;
    servers[1].once('connection', () => (reached = true));
    proxy.target(portOf(servers[1]));
    expect(await roundTrip(proxy.port, 'ping')).toBe('ping');
    expect(reached).toBe(true);
  });
});
