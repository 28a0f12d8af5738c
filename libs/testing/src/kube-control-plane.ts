import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './built-tools';
import { freePort } from './free-port';
import { spawnServer, waitUntilReady, type ServerProcess } from './server-process';

export interface RunningKubeControlPlane {
  /** `https://127.0.0.1:<port>`: the API server. */
  server: string;
  /** A kubeconfig file for helm and kubectl: cluster admin (a client certificate in system:masters). */
  kubeconfig: string;
  /** Holds etcd's data, the certificates, the keys and the kubeconfigs; removed by `stop()`. */
  dir: string;
  /** Stops the controller manager, the API server and etcd, then removes `dir`. */
  stop(): Promise<void>;
  /** What each process printed last, for failure messages. */
  output(): string;
}

/** The Service range; the API server takes its first address for the `kubernetes` Service. */
const SERVICE_CIDR = '10.0.0.0/24';
const KUBERNETES_SERVICE_IP = '10.0.0.1';

/**
 * A Kubernetes control plane without nodes: Debian's etcd, kube-apiserver and
 * kube-controller-manager (scripts/tools.sh builds both from the Kubernetes module) on free
 * loopback ports, with a CA, certificates and service-account keys made for it in a fresh folder.
 * The API server authenticates with client certificates, authorizes with Node and RBAC and admits
 * as kubeadm sets it up (PodSecurity on), so namespaces labelled for Pod Security are enforced.
 * The controllers turn Deployments and StatefulSets into Pods; with no scheduler and no kubelet
 * those Pods stay Pending. Resolves once `/readyz` answers ok and the controllers have made the
 * `default` ServiceAccount; anything started is stopped and the folder removed if it fails.
 */
export async function startKubeControlPlane(): Promise<RunningKubeControlPlane> {
  const apiserverBinary = requireTool('kube-apiserver');
  const controllerManagerBinary = requireTool('kube-controller-manager');
  requireCommand(['etcd', '--version'], 'etcd-server');
  requireCommand(['openssl', 'version'], 'openssl');

  const dir = mkdtempSync(join(tmpdir(), 'tg-kube-'));
  const started: { name: string; process: ServerProcess }[] = [];
  const stopAll = async () => {
    for (const { process } of started.reverse()) await process.stop();
    started.length = 0;
    rmSync(dir, { recursive: true, force: true });
  };
  const output = () => started.map(({ name, process }) => `--- ${name}\n${process.output()}`).join('\n');

  try {
    const [etcdPort, etcdPeerPort, apiPort, controllerManagerPort] = await distinctFreePorts(4);
    const pki = makePki(join(dir, 'pki'));
    const server = `https://127.0.0.1:${apiPort}`;
    const adminKubeconfig = writeKubeconfig(dir, 'admin', server, pki.ca, pki.admin);
    const controllerManagerKubeconfig = writeKubeconfig(dir, 'controller-manager', server, pki.ca, pki.controllerManager);
    const env = { PATH: process.env['PATH'] };

    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = spawnServer(
      'etcd',
      [
        '--name', 'tg-test',
        '--data-dir', join(dir, 'etcd'),
        '--listen-client-urls', etcdUrl,
        '--advertise-client-urls', etcdUrl,
        '--listen-peer-urls', etcdPeerUrl,
        '--initial-advertise-peer-urls', etcdPeerUrl,
        '--initial-cluster', `tg-test=${etcdPeerUrl}`,
        '--log-level', 'warn',
      ],
      { env },
    );
    started.push({ name: 'etcd', process: etcd });
    await waitUntilReady(async () => (await fetch(`${etcdUrl}/health`)).ok, etcd, 'etcd');

    const apiserver = spawnServer(
      apiserverBinary,
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${join(dir, 'apiserver')}`,
        `--tls-cert-file=${pki.apiserver.cert}`,
        `--tls-private-key-file=${pki.apiserver.key}`,
        `--client-ca-file=${pki.ca.cert}`,
        `--service-account-key-file=${pki.serviceAccount.publicKey}`,
        `--service-account-signing-key-file=${pki.serviceAccount.privateKey}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--authorization-mode=Node,RBAC',
        '--enable-admission-plugins=NodeRestriction,PodSecurity',
        '--allow-privileged=true',
        // The `kubernetes` Service's endpoint would be the advertised loopback address, which
        // Endpoints refuse; nothing here reaches the API server through that Service.
        '--endpoint-reconciler-type=none',
      ],
      { env },
    );
    started.push({ name: 'kube-apiserver', process: apiserver });
    const api = (path: string) => apiStatus(server, path, pki.ca, pki.admin);
    await waitUntilReady(async () => (await api('/readyz')) === 200, apiserver, 'kube-apiserver', 90_000);

    const controllerManager = spawnServer(
      controllerManagerBinary,
      [
        `--kubeconfig=${controllerManagerKubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${controllerManagerPort}`,
        `--cert-dir=${join(dir, 'controller-manager')}`,
        '--leader-elect=false',
        '--use-service-account-credentials=true',
        `--service-account-private-key-file=${pki.serviceAccount.privateKey}`,
        `--root-ca-file=${pki.ca.cert}`,
      ],
      { env },
    );
    started.push({ name: 'kube-controller-manager', process: controllerManager });
    await waitUntilReady(
      async () => (await api('/api/v1/namespaces/default/serviceaccounts/default')) === 200,
      controllerManager,
      'kube-controller-manager',
      60_000,
    );
    return { server, kubeconfig: adminKubeconfig, dir, stop: stopAll, output };
  } catch (error) {
    const message = `${error instanceof Error ? error.message : String(error)}\n${output()}`;
    await stopAll();
    throw new Error(`Kubernetes control plane did not start: ${message}`);
  }
}

function requireCommand([command, ...versionArgs]: string[], debianPackage: string): void {
  if (spawnSync(command, versionArgs, { stdio: 'ignore' }).error) {
    throw new Error(`${command} is not installed: run \`npm test\` (it installs it) or \`apt-get install ${debianPackage}\``);
  }
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

interface KeyPair {
  cert: string;
  key: string;
}

interface Pki {
  ca: KeyPair;
  apiserver: KeyPair;
  admin: KeyPair;
  controllerManager: KeyPair;
  serviceAccount: { privateKey: string; publicKey: string };
}

/**
 * A CA valid for a day and what kubeadm issues from it: the API server's serving certificate, a
 * cluster-admin client certificate, the controller manager's client certificate (RBAC knows the
 * user system:kube-controller-manager), and the key pair that signs service-account tokens.
 */
function makePki(pki: string): Pki {
  mkdirSync(pki, { recursive: true });
  const config = join(pki, 'openssl.cnf');
  // Our own config, so that the system's openssl.cnf cannot add or refuse extensions.
  writeFileSync(
    config,
    [
      '[req]',
      'distinguished_name = dn',
      'x509_extensions = ca',
      '[dn]',
      '[ca]',
      'basicConstraints = critical,CA:TRUE',
      'keyUsage = critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier = hash',
      '',
    ].join('\n'),
  );
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = { cert: join(pki, 'ca.crt'), key: join(pki, 'ca.key') };
  openssl(['req', '-config', config, '-x509', ...ecKey, '-keyout', ca.key, '-out', ca.cert, '-days', '1', '-subj', '/CN=tg-test-kubernetes-ca']);

  const issue = (name: string, subject: string, extensions: string[]): KeyPair => {
    const pair = { cert: join(pki, `${name}.crt`), key: join(pki, `${name}.key`) };
    const csr = join(pki, `${name}.csr`);
    const extfile = join(pki, `${name}.ext`);
    openssl(['req', '-config', config, '-new', ...ecKey, '-keyout', pair.key, '-out', csr, '-subj', subject]);
    writeFileSync(extfile, ['basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature', ...extensions, ''].join('\n'));
    openssl([
      'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-days', '1',
      '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-extfile', extfile, '-out', pair.cert,
    ]);
    return pair;
  };
  const apiserver = issue('apiserver', '/CN=kube-apiserver', [
    'extendedKeyUsage = serverAuth',
    `subjectAltName = IP:127.0.0.1, DNS:localhost, IP:${KUBERNETES_SERVICE_IP}, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc`,
  ]);
  const admin = issue('admin', '/O=system:masters/CN=tg-test-admin', ['extendedKeyUsage = clientAuth']);
  const controllerManager = issue('controller-manager', '/CN=system:kube-controller-manager', ['extendedKeyUsage = clientAuth']);

  const serviceAccount = { privateKey: join(pki, 'sa.key'), publicKey: join(pki, 'sa.pub') };
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', serviceAccount.privateKey]);
  openssl(['ec', '-in', serviceAccount.privateKey, '-pubout', '-out', serviceAccount.publicKey]);
  return { ca, apiserver, admin, controllerManager, serviceAccount };
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A kubeconfig (JSON is YAML) for one user of the cluster; returns its path. */
function writeKubeconfig(dir: string, user: string, server: string, ca: KeyPair, client: KeyPair): string {
  const path = join(dir, `${user}.kubeconfig`);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'tg-test', cluster: { server, 'certificate-authority': ca.cert } }],
    users: [{ name: user, user: { 'client-certificate': client.cert, 'client-key': client.key } }],
    contexts: [{ name: 'tg-test', context: { cluster: 'tg-test', user } }],
    'current-context': 'tg-test',
  };
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

/** The HTTP status of a GET on the API server, as the given client. */
function apiStatus(server: string, path: string, ca: KeyPair, client: KeyPair): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, server),
      { ca: readFileSync(ca.cert), cert: readFileSync(client.cert), key: readFileSync(client.key), timeout: 10_000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}
