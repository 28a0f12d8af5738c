import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The repository root: the nearest folder above this file that holds nx.json. */
export function findWorkspaceRoot(from: string = __dirname): string {
  let dir = from;
  while (!existsSync(join(dir, 'nx.json'))) {
    const parent = join(dir, '..');
    if (parent === dir) throw new Error('nx.json not found above ' + from);
    dir = parent;
  }
  return dir;
}
