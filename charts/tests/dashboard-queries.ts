import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/**
 * The PromQL this chart ships, read from the files themselves: the dashboard's panel queries
 * with Grafana's variables filled in, and the alert expressions. monitoring.spec.ts checks their
 * syntax with promtool; a test against a real Prometheus scraping the real apps can run the
 * same lists to see that they return data.
 */

export const CHART_FILES_DIR = join(import.meta.dirname, '..', 'thumbnail-generator', 'files');
export const RULES_FILE = join(CHART_FILES_DIR, 'prometheus-rules.yaml');
export const RULES_TEST_FILE = join(CHART_FILES_DIR, 'prometheus-rules.test.yaml');
export const DASHBOARD_FILE = join(CHART_FILES_DIR, 'grafana-dashboard.json');

export const RUNBOOK_BASE_URL =
  'https://github.com/thumbnail-generator/thumbnail-generator/blob/main/docs/operations.md';

/**
 * The anchors of docs/operations.md the alerts' runbook_url point at, one per alert (`alert-` + lowercase
 * alert name). That page needs a heading for each: `## Alert: <Name>`.
 */
export const RUNBOOK_ANCHORS = [
  'alert-serviceavailability',
  'alert-targetunavailabilityrate',
  'alert-higherrorrate',
  'alert-queuebacklog',
  'alert-workerdown',
  'alert-joblatencyhigh',
  'alert-originalsnotdeleted',
  'alert-workercrashes',
  'alert-webhookdeliveriesfailing',
] as const;

/**
 * What Grafana's built-in variables stand for outside Grafana. 5m matches the alerts' windows
 * and holds enough samples at any scrape interval up to 1m. `datasource` is never inside an
 * expression (only in the panels' datasource field), so it has no entry.
 */
export const GRAFANA_VARIABLE_VALUES: Readonly<Record<string, string>> = {
  __rate_interval: '5m',
  __interval: '1m',
  __interval_ms: '60000',
  __range: '1h',
  __range_s: '3600',
  __range_ms: '3600000',
};

export interface GrafanaTarget {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}

export interface GrafanaPanel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: GrafanaTarget[];
  /** Only on rows; a collapsed row keeps its panels here instead of at the top level. */
  panels?: GrafanaPanel[];
}

export interface GrafanaDashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: GrafanaPanel[];
  templating: { list: { name: string; type: string; query?: unknown }[] };
}

export interface PanelQuery {
  panelId: number;
  panelTitle: string;
  refId: string;
  /** With Grafana's variables replaced, ready for Prometheus' /api/v1/query. */
  expr: string;
}

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface AlertQuery {
  alert: string;
  group: string;
  expr: string;
}

interface RuleFile {
  groups: { name: string; rules: (AlertRule | { record: string; expr: string })[] }[];
}

/**
 * Replaces `$name`, `${name}`, `${name:format}` and `[[name]]`. An unknown variable throws
 * rather than leaving a `$` for Prometheus to reject with a less helpful message. `$` followed
 * by a digit (a label_replace group reference) is not a variable and is left alone.
 */
export function substituteGrafanaVariables(
  expr: string,
  values: Readonly<Record<string, string>> = GRAFANA_VARIABLE_VALUES,
): string {
  return expr.replace(
    /\$\{([A-Za-z_]\w*)(?::[^}]*)?\}|\[\[([A-Za-z_]\w*)\]\]|\$([A-Za-z_]\w*)/g,
    (match, braced?: string, bracketed?: string, bare?: string) => {
      const name = braced ?? bracketed ?? bare ?? '';
      const value = values[name];
      if (value === undefined) {
        throw new Error(`Grafana variable ${match} in "${expr}" has no value to substitute`);
      }
      return value;
    },
  );
}

export function loadDashboard(file: string = DASHBOARD_FILE): GrafanaDashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as GrafanaDashboard;
}

/** Every panel that shows data: rows are layout only, and a collapsed row's panels count. */
export function dataPanels(dashboard: GrafanaDashboard): GrafanaPanel[] {
  return dashboard.panels.flatMap((panel) =>
    panel.type === 'row' ? (panel.panels ?? []) : [panel],
  );
}

export function dashboardQueries(
  dashboard: GrafanaDashboard = loadDashboard(),
  values: Readonly<Record<string, string>> = GRAFANA_VARIABLE_VALUES,
): PanelQuery[] {
  return dataPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      panelId: panel.id,
      panelTitle: panel.title,
      refId: target.refId ?? '',
      expr: substituteGrafanaVariables(target.expr ?? '', values),
    })),
  );
}

export function loadAlertRules(file: string = RULES_FILE): (AlertRule & { group: string })[] {
  const rules = parse(readFileSync(file, 'utf8')) as RuleFile;
  return rules.groups.flatMap((group) =>
    group.rules
      .filter((rule): rule is AlertRule => 'alert' in rule)
      .map((rule) => ({ ...rule, group: group.name })),
  );
}

export function alertQueries(file: string = RULES_FILE): AlertQuery[] {
  return loadAlertRules(file).map(({ alert, group, expr }) => ({ alert, group, expr: expr.trim() }));
}
