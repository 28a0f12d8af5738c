import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';

/** One machine of a test network: a network namespace with one address. */
export interface NetworkHost {
  /** The name the test gave it (`redis`, `worker-a`). */
  readonly name: string;
  /** Its network namespace, as `ip netns` lists it. */
  readonly namespace: string;
  /** Its IPv4 address, the one its servers listen on and its peers connect to. */
  readonly address: string;
  /** The command line that runs `program args` on this host (`ip netns exec`). */
  command(program: string, args: string[]): { program: string; args: string[] };
}

export interface TestNetwork {
  host(name: string): NetworkHost;
  /** The test process's own address on the network: it reaches every host that is not cut. */
  readonly clientAddress: string;
  /**
   * Drops, silently, every IPv4 packet between `host` and the rest of the network (the test
   * process included), or only those to and from the hosts in `from`. Nothing answers: open
   * connections hang and new ones time out, as in a real partition, rather than being reset.
   */
  cut(host: string, options?: { from?: string[] }): Promise<void>;
  /**
   * Lifts every cut of `host`, or only its cuts from the hosts in `from`; connections held open
   * through the cut carry on.
   */
  restore(host: string, options?: { from?: string[] }): Promise<void>;
  /** Kills whatever still runs on the hosts and removes the namespaces and links. */
  destroy(): Promise<void>;
}

/*
 * Layout: one namespace per host, with an `eth0` veth whose other end is a port of a bridge in a
 * namespace of the network's own (the switch). The test process joins through one more veth
 * pair from the root namespace, the only link there, on a free /24 of 198.18.0.0/15 (RFC 2544's
 * benchmark range). Cuts are ebtables rules in the switch's FORWARD chain that drop IPv4 frames
 * on a host's port and leave ARP alone, so neighbours stay known and the loss is pure silence.
 * Every name carries the creating process's pid, so a run killed before its cleanup is swept
 * by the next one.
 */
const PREFIX = 'tgnet';
const COMMAND_TIMEOUT_MS = 15_000;

/** Why network namespaces cannot be used here, or null when they can. */
export function networkNamespacesUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root (ip netns, veth links, ebtables)';
  for (const [program, pkg] of [['ip', 'iproute2'], ['ebtables', 'iptables']]) {
    const probe = spawnSync(program, ['-V'], { encoding: 'utf8' });
    if (probe.error) return `${program} is not installed (Debian package ${pkg}; npm test installs it)`;
  }
  const probe = `${PREFIX}-probe-${process.pid}`;
  const added = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (added.status !== 0) return `cannot create a network namespace: ${added.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return null;
}

/** For `describe.skipIf(...)`: true when namespaces are unavailable, after printing why. */
export function skipWithoutNetworkNamespaces(): boolean {
  const reason = networkNamespacesUnavailable();
  if (reason) console.warn(`SKIPPED: ${reason}`);
  return reason !== null;
}

/** Creates one host per name on a fresh network, every one reachable from the test process. */
export async function startTestNetwork(hostNames: string[]): Promise<TestNetwork> {
  if (new Set(hostNames).size !== hostNames.length || hostNames.length === 0 || hostNames.length > 250) {
    throw new Error(`host names must be 1 to 250 distinct names: ${hostNames.join(', ')}`);
  }
  await sweepAbandonedNetworks();
  const id = `${process.pid}-${randomBytes(3).toString('hex')}`;
  const network = new NamespaceNetwork(id, hostNames, await freeSubnet());
  try {
    await network.build();
  } catch (error) {
    await network.destroy();
    throw error;
  }
  return network;
}

class NamespaceNetwork implements TestNetwork {
  readonly clientAddress: string;
  private readonly switchNamespace: string;
  /** The root namespace's end of the test process's link: the one name that must be unique machine-wide. */
  private readonly clientLink: string;
  private readonly hosts = new Map<string, NetworkHost & { port: string }>();
  /** The ebtables rules (arguments after -A/-D FORWARD) each cut host has in place, by peer (null: everyone). */
  private readonly cuts = new Map<string, Array<{ peer: string | null; rule: string[] }>>();
  private readonly onExit = () => this.destroySync();
  private destroyed = false;

  constructor(
    id: string,
    hostNames: string[],
    private readonly subnet: string,
  ) {
    this.switchNamespace = `${PREFIX}-${id}-switch`;
    this.clientLink = `tg${id.split('-')[1]}c`;
    this.clientAddress = `${subnet}.1`;
    hostNames.forEach((name, index) => {
      const namespace = `${PREFIX}-${id}-${name}`;
      this.hosts.set(name, {
        name,
        namespace,
        address: `${subnet}.${index + 2}`,
        port: `port${index}`,
        command: (program, args) => ({ program: 'ip', args: ['netns', 'exec', namespace, program, ...args] }),
      });
    });
  }

  async build(): Promise<void> {
    process.once('exit', this.onExit);
    const sw = this.switchNamespace;
    await ip(['netns', 'add', sw]);
    await ip(['-n', sw, 'link', 'add', 'switch', 'type', 'bridge']);
    await ip(['-n', sw, 'link', 'set', 'switch', 'up']);
    for (const host of this.hosts.values()) {
      await ip(['netns', 'add', host.namespace]);
      await ip(['link', 'add', 'eth0', 'netns', host.namespace, 'type', 'veth', 'peer', 'name', host.port, 'netns', sw]);
      await ip(['-n', sw, 'link', 'set', host.port, 'master', 'switch', 'up']);
      await ip(['-n', host.namespace, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
      await ip(['-n', host.namespace, 'link', 'set', 'eth0', 'up']);
      await ip(['-n', host.namespace, 'link', 'set', 'lo', 'up']);
    }
    await ip(['link', 'add', this.clientLink, 'type', 'veth', 'peer', 'name', 'client', 'netns', sw]);
    await ip(['-n', sw, 'link', 'set', 'client', 'master', 'switch', 'up']);
    await ip(['addr', 'add', `${this.clientAddress}/24`, 'dev', this.clientLink]);
    await ip(['link', 'set', this.clientLink, 'up']);
    // The switch forwards once its ports are up; a refused connection proves the way there and back.
    await Promise.all([...this.hosts.values()].map((host) => waitUntilReachable(host.address, 10_000)));
  }

  host(name: string): NetworkHost {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host "${name}" on this network (${[...this.hosts.keys()].join(', ')})`);
    return host;
  }

  async cut(name: string, options: { from?: string[] } = {}): Promise<void> {
    const host = this.host(name) as NetworkHost & { port: string };
    const rules = options.from
      ? options.from.flatMap((peer) => {
          const address = this.host(peer).address;
          return [
            { peer, rule: ['-i', host.port, '-p', 'IPv4', '--ip-dst', address, '-j', 'DROP'] },
            { peer, rule: ['-o', host.port, '-p', 'IPv4', '--ip-src', address, '-j', 'DROP'] },
          ];
        })
      : [
          { peer: null, rule: ['-i', host.port, '-p', 'IPv4', '-j', 'DROP'] },
          { peer: null, rule: ['-o', host.port, '-p', 'IPv4', '-j', 'DROP'] },
        ];
    for (const cut of rules) {
      await this.ebtables('-A', cut.rule);
      this.cuts.set(name, [...(this.cuts.get(name) ?? []), cut]);
    }
  }

  async restore(name: string, options: { from?: string[] } = {}): Promise<void> {
    this.host(name);
    const lifted = (peer: string | null) => !options.from || (peer !== null && options.from.includes(peer));
    for (const cut of this.cuts.get(name) ?? []) {
      if (!lifted(cut.peer)) continue;
      await this.ebtables('-D', cut.rule);
      this.cuts.set(name, (this.cuts.get(name) ?? []).filter((kept) => kept !== cut));
    }
  }

  private async ebtables(action: '-A' | '-D', rule: string[]): Promise<void> {
    await run('ip', ['netns', 'exec', this.switchNamespace, 'ebtables', action, 'FORWARD', ...rule]);
  }

  async destroy(): Promise<void> {
    this.destroySync();
  }

  /** Synchronous, so the process's exit handler can run it too. */
  private destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.off('exit', this.onExit);
    removeNamespaces([...[...this.hosts.values()].map((host) => host.namespace), this.switchNamespace]);
    // Normally gone with its peer in the switch's namespace; this covers a build that failed before.
    spawnSync('ip', ['link', 'del', this.clientLink], { stdio: 'ignore' });
  }
}

/**
 * Kills what runs in each namespace (only processes the tests started there can be inside) and
 * deletes it, which removes its links too.
 */
function removeNamespaces(namespaces: string[]): void {
  const existing = new Set(listNamespaces());
  for (const namespace of namespaces.filter((name) => existing.has(name))) {
    const pids = spawnSync('ip', ['netns', 'pids', namespace], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    spawnSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
  }
}

function listNamespaces(): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((line) => line.split(' ')[0])
    .filter(Boolean);
}

/** Namespaces of test processes that died before their cleanup (SIGKILL, a crashed runner). */
async function sweepAbandonedNetworks(): Promise<void> {
  const abandoned = listNamespaces().filter((name) => {
    const match = new RegExp(`^${PREFIX}-(\\d+)-[0-9a-f]{6}-`).exec(name);
    return match !== null && !isAlive(Number(match[1]));
  });
  removeNamespaces(abandoned);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A /24 of 198.18.0.0/15 that no address or route of the root namespace overlaps, picked at random. */
async function freeSubnet(): Promise<string> {
  const taken = JSON.parse(await run('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])) as Array<{ dst?: string }>;
  const used = new Set(
    taken
      .map((route) => route.dst ?? '')
      .filter((dst) => dst.startsWith('198.18.') || dst.startsWith('198.19.'))
      .map((dst) => dst.split('.').slice(0, 3).join('.')),
  );
  // A route to a wider block (198.18.0.0/15 itself, a /16) leaves nothing of it free.
  if (taken.some((route) => /^198\.1[89]\.0\.0\/1[56]$/.test(route.dst ?? ''))) {
    throw new Error('the root namespace routes 198.18.0.0/15 already; the test network has no free subnet');
  }
  for (let tries = 0; tries < 64; tries++) {
    const n = randomBytes(2).readUInt16BE() % 512;
    const subnet = `198.${18 + (n >> 8)}.${n & 255}`;
    if (!used.has(subnet)) return subnet;
  }
  throw new Error('no free /24 in 198.18.0.0/15');
}

/** Resolves once a TCP connection to `address` is refused (port 9 has no listener): the path works. */
async function waitUntilReachable(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: address, port: 9, timeout: 500 });
      const settle = (answer: boolean) => {
        socket.destroy();
        resolve(answer);
      };
      socket.once('connect', () => settle(true));
      socket.once('error', (error: NodeJS.ErrnoException) => settle(error.code === 'ECONNREFUSED'));
      socket.once('timeout', () => settle(false));
    });
    if (refused) return;
    if (Date.now() > deadline) throw new Error(`${address} not reachable within ${timeoutMs} ms`);
  }
}

function ip(args: string[]): Promise<string> {
  return run('ip', args);
}

function run(program: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(program, args, { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${program} ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}
