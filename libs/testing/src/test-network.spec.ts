import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { skipWithoutNetworkNamespaces, startTestNetwork, type NetworkHost, type TestNetwork } from './test-network';

const PORT = 7000;

/** An echo server on `host`; resolves once it listens. */
async function startEcho(host: NetworkHost): Promise<ChildProcess> {
  const script = `require('net').createServer((s) => s.pipe(s)).listen(${PORT}, '${host.address}', () => console.log('listening'))`;
  const { program, args } = host.command(process.execPath, ['-e', script]);
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout as NodeJS.ReadableStream, 'data');
  return child;
}

/** What a connection attempt from `from` to `to` ends in: `connected`, or the error's code. */
function connectFrom(from: NetworkHost, to: NetworkHost): Promise<string> {
  const script = `const s = require('net').createConnection({ host: '${to.address}', port: ${PORT}, timeout: 1500 });
    s.on('connect', () => { console.log('connected'); s.destroy(); });
    s.on('timeout', () => { console.log('timeout'); s.destroy(); });
    s.on('error', (e) => console.log(e.code));`;
  const { program, args } = from.command(process.execPath, ['-e', script]);
  return new Promise((resolve, reject) =>
    execFile(program, args, { timeout: 10_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout.trim()))),
  );
}

async function connect(host: NetworkHost): Promise<Socket> {
  const socket = createConnection({ host: host.address, port: PORT });
  await once(socket, 'connect');
  return socket;
}

/** The next chunk the socket receives, or `silence` if none comes within `ms`. */
async function nextData(socket: Socket, ms: number): Promise<string> {
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('silence'), ms));
  return Promise.race([once(socket, 'data').then(([chunk]) => String(chunk)), timeout]);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function namespaces(): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((line) => line.split(' ')[0]);
}

// Each probe from a host is a Node process of its own, and a cut one waits out its connect timeout.
describe.skipIf(skipWithoutNetworkNamespaces())('startTestNetwork', { timeout: 30_000 }, () => {
  let network: TestNetwork;
  let echo: ChildProcess;

  beforeAll(async () => {
    network = await startTestNetwork(['a', 'b', 'c']);
    echo = await startEcho(network.host('a'));
  });
  afterAll(async () => network?.destroy());

  it('gives each host its own address, reachable from the other hosts and from the test process', async () => {
    const addresses = ['a', 'b', 'c'].map((name) => network.host(name).address);
    expect(new Set([...addresses, network.clientAddress]).size).toBe(4);
    expect(await connectFrom(network.host('b'), network.host('a'))).toBe('connected');
    const socket = await connect(network.host('a'));
    socket.write('ping');
    expect(await nextData(socket, 5_000)).toBe('ping');
    socket.destroy();
  });

  it('cuts a host off in silence: open connections hang, new ones time out, and carry on once restored', async () => {
    const socket = await connect(network.host('a'));
    await network.cut('a');
    socket.write('held');
    // Neither answered nor reset while cut.
    expect(await nextData(socket, 1_000)).toBe('silence');
    expect(socket.destroyed).toBe(false);
    expect(await connectFrom(network.host('b'), network.host('a'))).toBe('timeout');

    await network.restore('a');
    // TCP retransmits what was held: the same connection delivers it.
    expect(await nextData(socket, 15_000)).toBe('held');
    expect(await connectFrom(network.host('b'), network.host('a'))).toBe('connected');
    socket.destroy();
  });

  it('cuts and restores only the named peers with `from`', async () => {
    await network.cut('a', { from: ['b', 'c'] });
    expect(await connectFrom(network.host('b'), network.host('a'))).toBe('timeout');
    expect(await connectFrom(network.host('c'), network.host('a'))).toBe('timeout');
    (await connect(network.host('a'))).destroy();

    await network.restore('a', { from: ['c'] });
    expect(await connectFrom(network.host('c'), network.host('a'))).toBe('connected');
    expect(await connectFrom(network.host('b'), network.host('a'))).toBe('timeout');
    await network.restore('a');
    expect(await connectFrom(network.host('b'), network.host('a'))).toBe('connected');
  });

  it('removes its namespaces and link and ends what runs on its hosts when destroyed', async () => {
    const spare = await startTestNetwork(['x']);
    const server = await startEcho(spare.host('x'));
    const exited = once(server, 'exit');
    const own = namespaces().filter((name) => name.startsWith(spare.host('x').namespace.replace(/-x$/, '')));
    expect(own).toHaveLength(2);

    await spare.destroy();
    expect((await exited)[1]).toBe('SIGKILL');
    expect(namespaces().filter((name) => own.includes(name))).toEqual([]);
    const links = spawnSync('ip', ['-o', 'addr', 'show'], { encoding: 'utf8' }).stdout;
    expect(links).not.toContain(`${spare.clientAddress}/24`);
    expect(echo.exitCode).toBeNull();
  });

  it("sweeps the namespaces a killed test process left, and no live process's", async () => {
    // A pid no process has: its namespace is what a run killed before its cleanup leaves.
    let dead = 4_000_000;
    while (isAlive(dead)) dead++;
    const abandoned = `tgnet-${dead}-abcdef-worker`;
    const live = `tgnet-${process.pid}-fedcba-worker`;
    for (const name of [abandoned, live]) expect(spawnSync('ip', ['netns', 'add', name]).status).toBe(0);
    try {
      const next = await startTestNetwork(['y']);
      await next.destroy();
      expect(namespaces()).not.toContain(abandoned);
      expect(namespaces()).toContain(live);
    } finally {
      for (const name of [abandoned, live]) spawnSync('ip', ['netns', 'del', name]);
    }
  });
});
