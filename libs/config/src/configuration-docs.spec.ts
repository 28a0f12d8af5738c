import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findWorkspaceRoot } from '@thumbnail/testing';
import { DRIVER_DEFAULTS, ENV_SCHEMA_PARTS } from './app-config';

/**
 * docs/configuration.md's table is what operators read; the schema is what the apps do. This
 * keeps them the same: every variable in both, and each default the schema has shown as the
 * table's default.
 */
describe('docs/configuration.md', () => {
  const table = readFileSync(join(findWorkspaceRoot(), 'docs', 'configuration.md'), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const [names, fallback] = line.split('|').slice(1, 3);
      return { names: [...names.matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1]), fallback: fallback.trim() };
    });
  const documented = new Map(table.flatMap((row) => row.names.map((name) => [name, row.fallback.split(',').map((cell) => cell.trim())] as const)));
  const variables = new Map(ENV_SCHEMA_PARTS.flatMap((part) => Object.entries(part.shape)));

  /** Defaults that depend on the machine: the table says what they follow. */
  const MACHINE_DEPENDENT: Record<string, string> = { WORKER_CONCURRENCY: 'number of cores' };

  it('lists exactly the variables the schema reads', () => {
    expect([...documented.keys()].sort()).toEqual([...variables.keys()].sort());
  });

  it.each([...variables.entries()].map(([name, schema]) => [name, schema] as const))('shows the default of %s', (name, schema) => {
    const cells = documented.get(name) ?? [];
    const parsed = schema.safeParse(undefined);
    const fallback = DRIVER_DEFAULTS[name] ?? (parsed.success ? parsed.data : undefined);
    // In a row naming several variables, the defaults are listed in the same order.
    const names = table.find((row) => row.names.includes(name))?.names ?? [];
    const cell = cells.length === names.length ? cells[names.indexOf(name)] : cells.join(', ');
    if (MACHINE_DEPENDENT[name]) expect(cell).toContain(MACHINE_DEPENDENT[name]);
    else if (fallback === undefined || (Array.isArray(fallback) && fallback.length === 0)) expect(cell).not.toMatch(/^`[^`]+`/);
    else expect(cell).toContain(`\`${String(fallback)}\``);
  });
});
