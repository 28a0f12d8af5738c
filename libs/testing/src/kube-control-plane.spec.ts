import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { requireTool, skipWithoutTool } from './built-tools';
import { startKubeControlPlane, type RunningKubeControlPlane } from './kube-control-plane';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Command lines of the running processes that mention `text`. */
function processesNaming(text: string): string[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((pid) => {
      try {
        return [readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')];
      } catch {
        return []; // it exited while we looked
      }
    })
    .filter((commandLine) => commandLine.includes(text));
}

describe.skipIf(skipWithoutTool('kube-apiserver', 'kube-controller-manager', 'kubectl'))('startKubeControlPlane', () => {
  let cluster: RunningKubeControlPlane;

  const kubectl = (args: string[], input?: string): Promise<Result> =>
    new Promise((resolve) => {
      const child = execFile(requireTool('kubectl'), args, { env: { PATH: process.env['PATH'], HOME: cluster.dir, KUBECONFIG: cluster.kubeconfig } }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      );
      child.stdin?.end(input ?? '');
    });
  const pod = (name: string, securityContext: string) => `
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: locked }
spec:
  containers:
    - name: main
      image: registry.invalid/anything:1
      ${securityContext}
`;

  beforeAll(async () => {
    const started = performance.now();
    cluster = await startKubeControlPlane();
    console.info(`startKubeControlPlane: ready in ${Math.round(performance.now() - started)} ms`);
  }, 240_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('answers the kubeconfig’s admin with the release version and refuses anonymous reads of Secrets', async () => {
    const version = await kubectl(['version', '--output=json']);
    expect(version.code, version.stderr).toBe(0);
    const { clientVersion, serverVersion } = JSON.parse(version.stdout) as Record<string, { gitVersion: string }>;
    // helm checks charts' kubeVersion ranges against this; an unstamped build says v0.0.0-master.
    expect(serverVersion.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
    expect(serverVersion.gitVersion).toBe(clientVersion.gitVersion);

    const anonymous = await kubectl(['get', 'secrets', '--namespace=default', '--as=system:anonymous']);
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr).toContain('Forbidden');
  });

  it('enforces Pod Security on a namespace labelled for it', async () => {
    expect((await kubectl(['create', 'namespace', 'locked'])).code).toBe(0);
    expect((await kubectl(['label', 'namespace', 'locked', 'pod-security.kubernetes.io/enforce=restricted'])).code).toBe(0);

    const refused = await kubectl(['create', '-f', '-'], pod('loose', ''));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('violates PodSecurity "restricted:latest"');

    const restricted = `securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        allowPrivilegeEscalation: false
        capabilities: { drop: [ALL] }
        seccompProfile: { type: RuntimeDefault }`;
    const admitted = await kubectl(['create', '-f', '-'], pod('tight', restricted));
    expect(admitted.code, admitted.stderr).toBe(0);
  });

  it('runs the controllers: a Deployment gets its Pod, which stays Pending without a node', async () => {
    expect((await kubectl(['create', 'deployment', 'web', '--image=registry.invalid/web:1', '--namespace=default'])).code).toBe(0);
    await vi.waitFor(
      async () => {
        const pods = await kubectl(['get', 'pods', '--namespace=default', '--selector=app=web', '--output=jsonpath={.items[*].status.phase}']);
        expect(pods.stdout).toBe('Pending');
      },
      { timeout: 60_000, interval: 200 },
    );
  });

  it('stop() ends every process and removes its folder', async () => {
    // etcd, the API server and the controller manager each name a path inside the folder.
    expect(processesNaming(cluster.dir)).toHaveLength(3);
    await cluster.stop();
    expect(processesNaming(cluster.dir)).toEqual([]);
    expect(existsSync(cluster.dir)).toBe(false);
  });
});
