/**
 * A superficial reading of Helm (Go) templates: actions are balanced, block keywords nest and end,
 * and the named templates a file uses exist. It sees what rendering does not: an include on a path
 * no tested values reach, and a name defined twice (helm lets the later define win silently).
 */

export interface TemplateScan {
  problems: string[];
  /** Names given to `define`. */
  defines: string[];
  /** Names passed to `include` or `template` as string literals. */
  uses: string[];
  /** Files reached with include (print $.Template.BasePath "/x.yaml"), relative to templates/. */
  fileIncludes: string[];
}

const OPENERS = new Set(['if', 'range', 'with', 'define', 'block']);

export function scanTemplate(text: string): TemplateScan {
  const problems: string[] = [];
  const defines: string[] = [];
  const uses: string[] = [];
  const fileIncludes: string[] = [];
  const stack: { keyword: string; line: number }[] = [];
  const lineOf = (index: number) => text.slice(0, index).split('\n').length;

  let cursor = 0;
  while (cursor < text.length) {
    // A "}}" in plain text is text to Go (NOTES.txt shows JSON), so only "{{" opens anything.
    const open = text.indexOf('{{', cursor);
    if (open === -1) break;
    const comment = /^\{\{-?\s*\/\*/.exec(text.slice(open, open + 8));
    const close = comment ? findCommentClose(text, open + comment[0].length) : findClose(text, open + 2);
    if (close === -1) {
      problems.push(`line ${lineOf(open)}: "{{" never closed`);
      break;
    }
    const action = text
      .slice(open + 2, close)
      .replace(/^-\s/, '')
      .replace(/\s-$/, '')
      .trim();
    cursor = close + 2;

    if (comment) continue;
    if (action.includes('{{')) problems.push(`line ${lineOf(open)}: "{{" inside an action`);
    const keyword = action.split(/[\s(]/, 1)[0];
    const line = lineOf(open);

    if (OPENERS.has(keyword)) {
      if (keyword === 'define' && stack.length > 0) problems.push(`line ${line}: define inside a block`);
      stack.push({ keyword, line });
    } else if (keyword === 'else') {
      const top = stack[stack.length - 1];
      if (!top || !['if', 'range', 'with'].includes(top.keyword)) problems.push(`line ${line}: else outside if/range/with`);
    } else if (keyword === 'end') {
      if (!stack.pop()) problems.push(`line ${line}: end without an open block`);
    }

    for (const match of action.matchAll(/\bdefine\s+"([^"]+)"/g)) defines.push(match[1]);
    for (const match of action.matchAll(/\b(?:include|template)\s+"([^"]+)"/g)) uses.push(match[1]);
    for (const match of action.matchAll(/\.Template\.BasePath\s+"\/([^"]+)"/g)) fileIncludes.push(match[1]);
  }
  for (const open of stack) problems.push(`line ${open.line}: ${open.keyword} never ended`);
  return { problems, defines, uses, fileIncludes };
}

/** The index of the "}}" closing an action, skipping string literals (which may hold braces). */
function findClose(text: string, from: number): number {
  let quote: string | null = null;
  for (let i = from; i < text.length - 1; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === '\\' && quote === '"') i++;
      else if (ch === quote) quote = null;
    } else if (ch === '"' || ch === '`') {
      quote = ch;
    } else if (text.startsWith('}}', i)) {
      return i;
    }
  }
  return -1;
}

// The "}}" after a comment's closing star-slash (Go allows it directly, or with " -" between).
function findCommentClose(text: string, from: number): number {
  const end = text.indexOf('*/', from);
  if (end === -1) return -1;
  const after = /^\s*-?\}\}/.exec(text.slice(end + 2));
  return after ? end + 2 + after[0].length - 2 : -1;
}
