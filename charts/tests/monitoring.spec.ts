import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CHART_FILES_DIR,
  RULES_FILE,
  RULES_TEST_FILE,
  RUNBOOK_ANCHORS,
  RUNBOOK_BASE_URL,
  alertQueries,
  dashboardQueries,
  dataPanels,
  loadAlertRules,
  loadDashboard,
} from './dashboard-queries';

const OPERATIONS_GUIDE = join(import.meta.dirname, '..', '..', 'docs', 'operations.md');
const PROMTOOL = process.env.PROMTOOL ?? 'promtool';
const JOBS = ['thumbnail-generator-api', 'thumbnail-generator-worker'];

const workDir = mkdtempSync(join(tmpdir(), 'monitoring-spec-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync(PROMTOOL, args, { cwd: CHART_FILES_DIR, encoding: 'utf8' });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error(
      `promtool was not found (tried "${PROMTOOL}"). These tests need it: run the test setup that ` +
        `installs Debian's prometheus package (apt-get install -y prometheus), or set PROMTOOL ` +
        `to the binary's path.`,
    );
  }
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/**
 * `promtool check rules` parses every expr, so writing queries as recording rules gets them the
 * same PromQL parser Prometheus uses. Group names carry where each query came from, and promtool
 * puts the group name in its error.
 */
function checkQueries(name: string, groups: { name: string; exprs: string[] }[]) {
  const file = join(workDir, `${name}.rules.yaml`);
  const ruleFile = {
    groups: groups.map((group, g) => ({
      name: group.name,
      rules: group.exprs.map((expr, i) => ({ record: `check:query_${g}_${i}`, expr })),
    })),
  };
  writeFileSync(file, stringify(ruleFile));
  return promtool('check', 'rules', file);
}

/** GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens. */
function githubSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

describe('alert rules', () => {
  const alerts = loadAlertRules();

  it('pass promtool check rules', () => {
    const { status, output } = promtool('check', 'rules', basename(RULES_FILE));
    expect(status, output).toBe(0);
  });

  it('pass their promtool unit tests', () => {
    const { status, output } = promtool('test', 'rules', basename(RULES_TEST_FILE));
    expect(status, output).toBe(0);
  });

  it('are the alerts the runbook anchors list', () => {
    expect(alerts.map((a) => `alert-${a.alert.toLowerCase()}`).sort()).toEqual(
      [...RUNBOOK_ANCHORS].sort(),
    );
  });

  it.each(alerts.map((a) => [a.alert, a] as const))(
    '%s has severity, summary, a templated description and a runbook anchor',
    (name, alert) => {
      expect(['critical', 'warning']).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary?.trim()).toBeTruthy();
      expect(alert.annotations?.description).toMatch(/\{\{.+\}\}/);

      const url = alert.annotations?.runbook_url ?? '';
      expect(url).toBe(`${RUNBOOK_BASE_URL}#alert-${name.toLowerCase()}`);
      const anchor = url.slice(url.indexOf('#') + 1);
      expect(RUNBOOK_ANCHORS as readonly string[]).toContain(anchor);
    },
  );

  it('each has a promtool case that fires it, labels and annotations checked, and one that must not', () => {
    interface AlertRuleTest {
      alertname: string;
      exp_alerts?: { exp_labels?: Record<string, string>; exp_annotations?: Record<string, string> }[];
    }
    const suite = parse(readFileSync(RULES_TEST_FILE, 'utf8')) as {
      rule_files: string[];
      tests: { alert_rule_test?: AlertRuleTest[] }[];
    };
    expect(suite.rule_files).toEqual([basename(RULES_FILE)]);
    const cases = suite.tests.flatMap((t) => t.alert_rule_test ?? []);

    for (const { alert } of alerts) {
      const own = cases.filter((c) => c.alertname === alert);
      const firing = own.filter((c) => (c.exp_alerts ?? []).length > 0);
      expect(firing.length, `${alert}: no case expects it to fire`).toBeGreaterThan(0);
      for (const c of firing) {
        for (const expected of c.exp_alerts ?? []) {
          expect(expected.exp_labels?.severity, `${alert}: exp_labels`).toBeTruthy();
          expect(Object.keys(expected.exp_annotations ?? {}).sort(), `${alert}: exp_annotations`).toEqual(
            ['description', 'runbook_url', 'summary'],
          );
        }
      }
      expect(
        own.some((c) => (c.exp_alerts ?? []).length === 0),
        `${alert}: no case expects it to stay silent`,
      ).toBe(true);
    }
  });

  it('have expressions promtool parses (the list alertQueries() hands to live tests)', () => {
    const queries = alertQueries();
    expect(queries).toHaveLength(RUNBOOK_ANCHORS.length);
    const { status, output } = checkQueries(
      'alerts',
      queries.map((q) => ({ name: `alert ${q.alert}`, exprs: [q.expr] })),
    );
    expect(status, output).toBe(0);
  });

  it('docs/operations.md has a heading for each runbook anchor', () => {
    const guide = readFileSync(OPERATIONS_GUIDE, 'utf8');
    const prose = guide.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
    const slugs = [...prose.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)].map((m) => githubSlug(m[1]));
    for (const anchor of RUNBOOK_ANCHORS) {
      expect(slugs, `docs/operations.md needs a heading whose anchor is #${anchor}`).toContain(anchor);
    }
  });
});

describe('Grafana dashboard', () => {
  const dashboard = loadDashboard();
  const panels = dataPanels(dashboard);

  it('is the overview dashboard with a Prometheus data source variable', () => {
    expect(dashboard.uid).toBe('thumbnail-generator-overview');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    expect(panels.length).toBeGreaterThanOrEqual(12);
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
  });

  it.each(panels.map((p) => [p.title, p] as const))(
    '"%s" queries ${datasource} with a non-empty expr',
    (_title, panel) => {
      expect(panel.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(target.expr?.trim()).toBeTruthy();
        expect(target.refId).toBeTruthy();
      }
    },
  );

  it('selects only by job and instance, and only this service’s jobs', () => {
    for (const { panelTitle, expr } of dashboardQueries(dashboard)) {
      expect(expr, panelTitle).not.toMatch(/\b(namespace|pod|container|node|service|endpoint)\b/);
      for (const [, values] of expr.matchAll(/\bjob=~?"([^"]*)"/g)) {
        for (const job of values.split('|')) expect(JOBS, `${panelTitle}: job "${job}"`).toContain(job);
      }
    }
  });

  it('has panel queries promtool parses once Grafana variables are filled in', () => {
    const queries = dashboardQueries(dashboard);
    expect(queries.length).toBeGreaterThanOrEqual(panels.length);
    for (const { expr } of queries) expect(expr).not.toContain('$');

    const byPanel = new Map<string, string[]>();
    for (const q of queries) {
      const name = `panel ${q.panelId} "${q.panelTitle}"`;
      byPanel.set(name, [...(byPanel.get(name) ?? []), q.expr]);
    }
    const { status, output } = checkQueries(
      'dashboard',
      [...byPanel].map(([name, exprs]) => ({ name, exprs })),
    );
    expect(status, output).toBe(0);
  });

  it('would catch a PromQL syntax error that way', () => {
    const { status, output } = checkQueries('broken', [
      { name: 'panel 0 "broken on purpose"', exprs: ['sum(rate(http_requests_total[5m])'] },
    ]);
    expect(status).not.toBe(0);
    expect(output).toContain('broken on purpose');
  });
});
