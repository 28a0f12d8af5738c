/**
 * Prometheus' text exposition format, read strictly: every line is a comment, a HELP or TYPE
 * line, or a sample, or the parse fails naming the line. Enough to prove a scrape would succeed
 * and to look up the samples of a metric.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  /** Metric family name -> counter, gauge, histogram, summary or untyped. */
  types: Map<string, string>;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,\s*)?/;
const VALUE = /^\s+(\S+)(\s+-?\d+)?\s*$/;

export function parsePrometheusText(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  text.split('\n').forEach((line, index) => {
    const fail = (why: string) => {
      throw new Error(`line ${index + 1} of the exposition ${why}: ${line}`);
    };
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (type) {
        if (types.has(type[1])) fail('declares a TYPE twice');
        types.set(type[1], type[2]);
      } else if (line.startsWith('# TYPE')) fail('is a malformed TYPE line');
      return;
    }
    const name = NAME.exec(line)?.[0] ?? fail('has no metric name');
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      rest = rest.slice(1);
      while (!rest.startsWith('}')) {
        const label = LABEL.exec(rest) ?? fail('has a malformed label');
        labels[label[1]] = label[2].replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
        rest = rest.slice(label[0].length);
      }
      rest = rest.slice(1);
    }
    const value = VALUE.exec(rest) ?? fail('has no value');
    const number = value[1] === '+Inf' ? Infinity : value[1] === '-Inf' ? -Infinity : Number(value[1]);
    if (Number.isNaN(number) && value[1] !== 'NaN') fail('has a value that is not a number');
    samples.push({ name, labels, value: number });
  });
  return { types, samples };
}

/** The samples of `name` whose labels include `labels`. */
export function samplesOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return exposition.samples.filter(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
}
