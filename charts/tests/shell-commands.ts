import { parse, type ParseEntry } from 'shell-quote';

/**
 * Commands read from shell text as a shell would split them (quotes removed, `$VARIABLES` kept as
 * written), so tests can check what the docs and the workflow actually tell helm to do.
 */

export interface ShellCommand {
  words: string[];
  /** 1-based line of the text it starts on. */
  line: number;
}

/** The simple commands of a script: continuations joined, comments and here-document bodies dropped, pipelines and lists split. */
export function scriptCommands(script: string, firstLine = 1): ShellCommand[] {
  const lines = script.split('\n');
  const commands: ShellCommand[] = [];
  let hereDocEnd: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    if (hereDocEnd !== null) {
      if (lines[i].trim() === hereDocEnd) hereDocEnd = null;
      continue;
    }
    const start = i;
    let text = lines[i];
    while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1)} ${lines[++i]}`;
    const entries = parse(text, (name) => `$${name}`);
    let words: string[] = [];
    for (const [index, entry] of entries.entries()) {
      if (typeof entry === 'string') {
        words.push(entry);
        continue;
      }
      if (isOperator(entry, '<<') || isOperator(entry, '<<-')) hereDocEnd = String(entries[index + 1]);
      if ('op' in entry || 'comment' in entry) {
        if (words.length > 0) commands.push({ words, line: firstLine + start });
        words = [];
      }
    }
    if (words.length > 0) commands.push({ words, line: firstLine + start });
  }
  return commands;
}

function isOperator(entry: ParseEntry, op: string): boolean {
  return typeof entry === 'object' && 'op' in entry && entry.op === op;
}

/** The commands of every ```sh block of a Markdown text, with their line in the text. */
export function markdownCommands(markdown: string): ShellCommand[] {
  const commands: ShellCommand[] = [];
  for (const match of markdown.matchAll(/^```(?:sh|bash|shell)\n([\s\S]*?)^```$/gm)) {
    const line = markdown.slice(0, match.index).split('\n').length + 1;
    commands.push(...scriptCommands(match[1], line));
  }
  return commands;
}

/** Inline code spans of a Markdown text outside its fenced blocks, with their line. */
export function markdownInlineCode(markdown: string): { code: string; line: number }[] {
  const lines = markdown.split('\n');
  const spans: { code: string; line: number }[] = [];
  let fenced = false;
  lines.forEach((text, index) => {
    if (text.startsWith('```')) fenced = !fenced;
    else if (!fenced) for (const match of text.matchAll(/`([^`]+)`/g)) spans.push({ code: match[1], line: index + 1 });
  });
  return spans;
}

/** The value of a command's option (`--name value` or `--name=value`), each time it is given. */
export function optionValues(words: string[], ...names: string[]): string[] {
  const values: string[] = [];
  words.forEach((word, i) => {
    for (const name of names) {
      if (word === name && i + 1 < words.length) values.push(words[i + 1]);
      else if (word.startsWith(`${name}=`)) values.push(word.slice(name.length + 1));
    }
  });
  return values;
}
