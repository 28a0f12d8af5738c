import { basename } from 'node:path';
import { markdownCommands, markdownInlineCode, optionValues, scriptCommands, type ShellCommand } from './shell-commands';

/**
 * What docs/deployment.md tells an operator to run, read from its code, so the chart tests render
 * exactly that and the page cannot drift from the chart.
 */

const CHART = 'charts/thumbnail-generator';
const HELM_RENDERING = new Set(['install', 'upgrade', 'template']);

export interface DocumentedValues {
  /** Where the page says it, e.g. `line 63: --set global.imageRegistry=...`. */
  name: string;
  sets: string[];
  valuesFiles: string[];
}

/**
 * Every value combination the page gives for the chart: each `helm install|upgrade|template` of
 * charts/thumbnail-generator, and each line of bare `--set` options (in a code block, or inline
 * code) given to add to an install, taken over the defaults.
 */
export function documentedChartValues(markdown: string): DocumentedValues[] {
  const fromValues = (words: string[], line: number) => {
    const sets = optionValues(words, '--set');
    return { name: `line ${line}: ${sets.length > 0 ? sets.join(' ') : '(defaults)'}`, sets, valuesFiles: optionValues(words, '--values', '-f') };
  };
  const combinations: DocumentedValues[] = [];
  for (const { words, line } of markdownCommands(markdown)) {
    if (words[0] === 'helm' && HELM_RENDERING.has(words[1]) && words.includes(CHART)) combinations.push(fromValues(words, line));
    else if (words[0] === '--set') combinations.push(fromValues(words, line));
  }
  for (const { code, line } of markdownInlineCode(markdown)) {
    if (code.startsWith('--set ')) combinations.push(fromValues(scriptCommands(code)[0].words, line));
  }
  return combinations;
}

/** The Secrets the page creates (`kubectl create secret generic NAME --from-literal|--from-file ...`) and their keys. */
export function documentedSecrets(markdown: string): Map<string, string[]> {
  const secrets = new Map<string, string[]>();
  for (const { words } of markdownCommands(markdown)) {
    const at = words.indexOf('create');
    if (words[0] !== 'kubectl' || words[at + 1] !== 'secret' || words[at + 2] !== 'generic') continue;
    const keys = [
      ...optionValues(words, '--from-literal').map((pair) => pair.split('=')[0]),
      ...optionValues(words, '--from-file').map((source) => (source.includes('=') ? source.split('=')[0] : basename(source))),
    ];
    secrets.set(words[at + 3], keys);
  }
  return secrets;
}

export interface HelmWait {
  where: string;
  /** The --timeout given, if any. */
  timeout: string | undefined;
}

/** Every helm command that waits for the release (`--wait`), with its timeout. */
export function helmWaits(commands: ShellCommand[], source: string): HelmWait[] {
  return commands
    .filter(({ words }) => words[0] === 'helm' && words.includes('--wait'))
    .map(({ words, line }) => ({ where: `${source}:${line} helm ${words[1]}`, timeout: optionValues(words, '--timeout')[0] }));
}
