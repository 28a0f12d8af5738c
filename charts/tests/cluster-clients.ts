import { execFile } from 'node:child_process';
import { requireTool } from '@thumbnail/testing';
import { parseAllDocuments } from 'yaml';
import type { Manifest } from './chart-helm';

/** helm and kubectl (scripts/tools.sh builds both) pointed at one cluster's kubeconfig. */

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ClusterClients {
  helm(args: string[]): Promise<CliResult>;
  kubectl(args: string[], input?: string): Promise<CliResult>;
  /** `kubectl get ... --output=json`; throws with kubectl's message when it fails. */
  getJson<T>(args: string[]): Promise<T>;
}

/**
 * Runs them as child processes without blocking the event loop: the control plane's processes
 * write their logs into pipes this process reads, and a synchronous spawn would let those pipes
 * fill and stall the API server that helm is waiting for. They keep their caches and settings
 * under `homeDir`, not the user's.
 */
export function clusterClients(kubeconfig: string, homeDir: string): ClusterClients {
  // Without HOME, kubectl would put its discovery cache in the working folder.
  const env = { PATH: process.env['PATH'], HOME: homeDir, KUBECONFIG: kubeconfig };
  const run = (binary: string, args: string[], input?: string) =>
    new Promise<CliResult>((resolve) => {
      const child = execFile(binary, args, { env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr: stderr || (error && code !== 0 ? String(error) : '') });
      });
      child.stdin?.end(input ?? '');
    });
  const kubectl = (args: string[], input?: string) => run(requireTool('kubectl'), args, input);
  return {
    helm: (args) => run(requireTool('helm'), args),
    kubectl,
    getJson: async <T>(args: string[]) => {
      const result = await kubectl(['get', ...args, '--output=json']);
      if (result.code !== 0) throw new Error(`kubectl get ${args.join(' ')}: ${result.stderr}`);
      return JSON.parse(result.stdout) as T;
    },
  };
}

/** The objects of a multi-document YAML stream (helm's manifests). */
export function manifestObjects(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((doc): doc is Manifest => doc !== null);
}

/** Lines of helm's or kubectl's stderr that carry a warning from the API server. */
export function serverWarnings(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.includes('Warning:'));
}
