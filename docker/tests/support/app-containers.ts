import { freePort, startContainer, type RunningContainer } from '@thumbnail/testing';
import type { ChartPod, Component } from './chart-pod';

export interface AppContainer {
  container: RunningContainer;
  /** `http://127.0.0.1:<port>`: the app's port on the host network. */
  url: string;
  /** The environment it was started with. */
  env: Record<string, string>;
  /** The API key its clients send (the chart's generated one), null when API keys are off. */
  apiKey: string | null;
}

/**
 * Starts one app image as the chart's pod runs it (its env, security context, limits and
 * volumes), with `connections` in place of the chart's in-cluster addresses and secrets, and
 * waits until /health/ready answers 200. The container shares the host's network, so the
 * servers the test started on 127.0.0.1 are reachable; the app listens on a free port of
 * 127.0.0.1 (PORT or WORKER_PORT, HOST), not on the pod's port on every interface.
 */
export async function startAppContainer(
  component: Component,
  image: string,
  pod: ChartPod,
  connections: Record<string, string>,
  options: { claims?: Record<string, string> } = {},
): Promise<AppContainer> {
  const missing = pod.secretEnv.filter((name) => !(name in connections));
  if (missing.length > 0) throw new Error(`the chart reads ${missing.join(', ')} from Secrets: give the test's values in connections`);
  const port = await freePort();
  const env: Record<string, string> = {
    ...pod.env,
    ...connections,
    [component === 'api' ? 'PORT' : 'WORKER_PORT']: String(port),
    HOST: '127.0.0.1',
  };
  const unexpanded = Object.entries(env).filter(([, value]) => value.includes('$('));
  if (unexpanded.length > 0) throw new Error(`${unexpanded.map(([name]) => name).join(', ')} still refer to in-cluster values: set them in connections`);

  const container = await startContainer(image, { env, runArgs: ['--network', 'host', ...pod.runArgs(options.claims)] });
  const url = `http://127.0.0.1:${port}`;
  try {
    await untilReady(url, container);
  } catch (error) {
    const logs = await container.logs();
    await container.remove();
    throw new Error(`${component}: ${(error as Error).message}\n${logs}`);
  }
  return { container, url, env, apiKey: pod.apiKey };
}

async function untilReady(url: string, container: RunningContainer, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await fetch(`${url}/health/ready`).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (!(await container.inspect()).State.Running) throw new Error('the container exited before it was ready');
    if (Date.now() > deadline) throw new Error(`/health/ready did not answer 200 within ${timeoutMs} ms (last: ${status})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
