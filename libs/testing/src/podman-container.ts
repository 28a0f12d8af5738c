import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { findWorkspaceRoot } from './workspace-root';

/** podman's settings for this project, the file docker/build.sh uses too (it says why). */
const CONTAINERS_CONF = join(findWorkspaceRoot(), 'docker', 'podman', 'containers.conf');

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `podman <args>` (rootful, with the project's containers.conf) to its end. A non-zero exit
 * is a result, not an error: callers assert on it. Throws only when podman could not run at all.
 */
export function podman(args: string[], options: { timeoutMs?: number } = {}): Promise<CommandResult> {
  const env = { ...process.env, CONTAINERS_CONF: process.env['CONTAINERS_CONF'] || CONTAINERS_CONF };
  return new Promise((resolve, reject) => {
    execFile('podman', args, { env, maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 120_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(new Error(`podman ${args.join(' ')}: ${error.message}\n${stderr}`));
        return;
      }
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

/** Like `podman()`, but throws with podman's stderr unless it exits 0; resolves with stdout. */
export async function podmanOk(args: string[], options: { timeoutMs?: number } = {}): Promise<string> {
  const result = await podman(args, options);
  if (result.code !== 0) throw new Error(`podman ${args.join(' ')} exited with ${result.code}:\n${result.stderr}`);
  return result.stdout;
}

export interface ContainerOptions {
  /** Environment variables of the container. */
  env?: Record<string, string>;
  /** Further `podman run` options (security settings, mounts, network). */
  runArgs?: string[];
  /** Overrides the image's CMD. */
  command?: string[];
}

export interface RunningContainer {
  name: string;
  /** Runs a command inside the container (`podman exec`). */
  exec(command: string[]): Promise<CommandResult>;
  /** What the container wrote to stdout and stderr so far. */
  logs(): Promise<string>;
  /** `podman stop`: the image's stop signal (SIGTERM), SIGKILL after `timeoutSeconds`; resolves with the exit code. */
  stop(timeoutSeconds: number): Promise<number>;
  /** Runs the image's HEALTHCHECK once (`podman healthcheck run`); code 0 is healthy. */
  healthcheck(): Promise<CommandResult>;
  /** `podman inspect` of the container. */
  inspect(): Promise<ContainerState>;
  /** Removes the container, running or not. */
  remove(): Promise<void>;
}

export interface ContainerState {
  State: { Running: boolean; ExitCode: number; Health?: { Status: string } };
  Config: { User: string };
}

/** Starts a container from `image` in the background (`podman run -d`) under a fresh name. */
export async function startContainer(image: string, options: ContainerOptions = {}): Promise<RunningContainer> {
  const name = `tg-test-${randomBytes(5).toString('hex')}`;
  const envArgs = Object.entries(options.env ?? {}).flatMap(([key, value]) => ['--env', `${key}=${value}`]);
  await podmanOk(['run', '--detach', '--name', name, ...envArgs, ...(options.runArgs ?? []), image, ...(options.command ?? [])]);
  return containerNamed(name);
}

function containerNamed(name: string): RunningContainer {
  const inspect = async () => (JSON.parse(await podmanOk(['inspect', '--type', 'container', name])) as ContainerState[])[0];
  return {
    name,
    exec: (command) => podman(['exec', name, ...command]),
    logs: async () => {
      const result = await podman(['logs', name]);
      return result.stdout + result.stderr;
    },
    stop: async (timeoutSeconds) => {
      await podmanOk(['stop', '--time', String(timeoutSeconds), name], { timeoutMs: (timeoutSeconds + 30) * 1000 });
      return (await inspect()).State.ExitCode;
    },
    healthcheck: () => podman(['healthcheck', 'run', name]),
    inspect,
    remove: async () => {
      await podman(['rm', '--force', '--time', '0', name]);
    },
  };
}
