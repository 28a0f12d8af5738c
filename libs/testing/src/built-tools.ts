import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { findWorkspaceRoot } from './workspace-root';

/** The programs and module files `scripts/tools.sh` builds or fetches (its table names them). */
export type ToolName =
  | 'minio'
  | 'ferretdb'
  | 'helm'
  | 'kubeconform'
  | 'kube-apiserver'
  | 'kube-controller-manager'
  | 'kubectl'
  | 'kubernetes-openapi'
  | 'prometheus-operator-crds'
  | 'schemathesis';

export type BuiltTool = { path: string; reason?: undefined } | { path: null; reason: string };

/** Where scripts/tools.sh puts what it builds (TOOLS_DIR, as for the script). */
export function toolsDir(): string {
  return process.env['TOOLS_DIR'] || join(findWorkspaceRoot(), '.tools');
}

/**
 * A tool scripts/tools.sh built: the program's path (or, for module files, the module's folder),
 * or why there is none, for a suite to print as it skips.
 */
export function builtTool(name: ToolName): BuiltTool {
  const dir = toolsDir();
  const link = join(dir, 'bin', name);
  if (existsSync(link)) return { path: realpathSync(link) };
  const unavailable = join(dir, `${name}.unavailable`);
  if (existsSync(unavailable)) return { path: null, reason: `${name} is not built: ${readFileSync(unavailable, 'utf8').trim()}` };
  const needs = name === 'schemathesis' ? 'Python 3.10+ with venv' : 'Go 1.24+';
  return { path: null, reason: `${name} is not built: run \`npm test\` or \`scripts/tools.sh ${name}\` (needs ${needs})` };
}

/** The tool's path; throws with the reason when it is not built (for suites that already checked). */
export function requireTool(name: ToolName): string {
  const tool = builtTool(name);
  if (tool.path === null) throw new Error(tool.reason);
  return tool.path;
}

/**
 * For `describe.skipIf(...)`: true when the tool is missing, after printing why, so a skipped
 * suite is never silent.
 */
export function skipWithoutTool(...names: ToolName[]): boolean {
  const missing = names.map(builtTool).filter((tool): tool is { path: null; reason: string } => tool.path === null);
  for (const tool of missing) console.warn(`SKIPPED: ${tool.reason}`);
  return missing.length > 0;
}
