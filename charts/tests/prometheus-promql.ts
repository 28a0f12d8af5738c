/**
 * Just enough PromQL structure to ask "does this alert expression see data?": an alert's
 * expression is empty whenever the alert does not fire, so the scrape test evaluates the parts
 * before each threshold comparison instead. Not a parser: it only tracks brackets, strings and
 * comments, which is all that is needed to find top-level operators.
 */

export interface AlertOperand {
  /** One side of a top-level `or` / `and` / `unless`, as written. */
  text: string;
  /** `text` without its last top-level comparison and right-hand side (`text` if it has none). */
  lhs: string;
  /** The comparison that was cut off (`> 0.10`), if any. */
  comparison?: string;
}

const OPENERS: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const IDENTIFIER_CHAR = /[A-Za-z0-9_:]/;
const COMPARISONS = ['==', '!=', '>=', '<=', '>', '<'] as const;

/**
 * Calls `visit(index)` for every character of `expr` outside brackets, strings and comments.
 * `visit` returns how many characters it consumed (0 for just this one).
 */
function scanTopLevel(expr: string, visit: (index: number) => number): void {
  const closers: string[] = [];
  for (let i = 0; i < expr.length; i++) {
    const char = expr[i];
    if (char === '"' || char === "'" || char === '`') {
      i = endOfString(expr, i);
    } else if (char === '#') {
      const newline = expr.indexOf('\n', i);
      i = newline === -1 ? expr.length : newline;
    } else if (OPENERS[char]) {
      closers.push(OPENERS[char]);
    } else if (closers.length > 0 && char === closers[closers.length - 1]) {
      closers.pop();
    } else if (closers.length === 0) {
      i += visit(i);
    }
  }
  if (closers.length > 0) throw new Error(`unbalanced brackets in PromQL: ${expr}`);
}

function endOfString(expr: string, start: number): number {
  const quote = expr[start];
  for (let i = start + 1; i < expr.length; i++) {
    if (expr[i] === '\\' && quote !== '`') i++;
    else if (expr[i] === quote) return i;
  }
  throw new Error(`unterminated string in PromQL: ${expr}`);
}

function keywordAt(expr: string, index: number, keyword: string): boolean {
  return (
    expr.startsWith(keyword, index) &&
    !IDENTIFIER_CHAR.test(expr[index - 1] ?? ' ') &&
    !IDENTIFIER_CHAR.test(expr[index + keyword.length] ?? ' ')
  );
}

interface Split {
  parts: string[];
  /** `separators[i]` joins `parts[i]` and `parts[i + 1]`: the keyword and any `on(...)` / `ignoring(...)`. */
  separators: string[];
}

/** Splits at top-level set operators. */
function splitAt(expr: string, keywords: readonly string[]): Split {
  const parts: string[] = [];
  const separators: string[] = [];
  let start = 0;
  scanTopLevel(expr, (i) => {
    const keyword = keywords.find((k) => keywordAt(expr, i, k));
    if (!keyword) return 0;
    parts.push(expr.slice(start, i));
    separators.push(keyword);
    start = i + keyword.length;
    return keyword.length - 1;
  });
  parts.push(expr.slice(start));
  for (let i = 1; i < parts.length; i++) {
    const modifier = /^\s*(on|ignoring)\s*\([^)]*\)/.exec(parts[i]);
    if (modifier) {
      separators[i - 1] += ` ${modifier[0].trim()}`;
      parts[i] = parts[i].slice(modifier[0].length);
    }
  }
  return { parts: parts.map((part) => part.trim()), separators };
}

function operand(text: string): AlertOperand {
  let cut = -1;
  scanTopLevel(text, (i) => {
    const operator = COMPARISONS.find((op) => text.startsWith(op, i));
    if (!operator) return 0;
    cut = i;
    return operator.length - 1;
  });
  if (cut === -1) return { text, lhs: text };
  return { text, lhs: text.slice(0, cut).trim(), comparison: text.slice(cut).trim() };
}

/**
 * The operands of an alert expression in PromQL's precedence: `or` binds loosest, then `and` /
 * `unless`, then comparisons. Each operand's left-hand side is what the alert compares to its
 * threshold, which is the part that must return data on a working install.
 */
export function alertOperands(expr: string): AlertOperand[] {
  return splitAt(expr, ['or']).parts.flatMap((alternative) => splitAt(alternative, ['and', 'unless']).parts.map(operand));
}

/**
 * The expression with every threshold comparison removed but its set operators kept:
 * `a > 1 and b >= 3` becomes `(a) and (b)`. It returns data exactly when the operands' label sets
 * match, which the operands evaluated one by one cannot show. The right side of an `unless` keeps
 * its comparison: without it, it would remove everything.
 */
export function withoutThresholds(expr: string): string {
  const alternatives = splitAt(expr, ['or']);
  const rebuilt = alternatives.parts.map((alternative) => {
    const { parts, separators } = splitAt(alternative, ['and', 'unless']);
    return parts
      .map((text, i) => (i > 0 && separators[i - 1].startsWith('unless') ? `(${text})` : `(${operand(text).lhs})`))
      .reduce((joined, part, i) => `${joined} ${separators[i - 1]} ${part}`);
  });
  return rebuilt.reduce((joined, part, i) => `${joined} ${alternatives.separators[i - 1]} ${part}`);
}

/** Index of the bracket that closes the one at `open`. */
function closingBracket(expr: string, open: number): number {
  let depth = 0;
  for (let i = open; i < expr.length; i++) {
    const char = expr[i];
    if (char === '"' || char === "'" || char === '`') i = endOfString(expr, i);
    else if (OPENERS[char]) depth++;
    else if (')]}'.includes(char) && --depth === 0) return i;
  }
  throw new Error(`unbalanced brackets in PromQL: ${expr}`);
}

/** The argument of a leading `absent(...)` call (`absent(x) * 0` gives `x`), or null. */
export function absentArgument(expr: string): string | null {
  const text = expr.trim();
  const call = /^absent\s*\(/.exec(text);
  if (!call) return null;
  const open = call[0].length - 1;
  return text.slice(open + 1, closingBracket(text, open)).trim();
}

/** Subquery resolutions (`[10m:1m]` gives 60) in seconds; a subquery without one is not listed. */
export function subqueryResolutionsSeconds(expr: string): number[] {
  return [...expr.matchAll(/\[\s*[0-9a-z]+\s*:\s*([0-9a-z]+)\s*\]/g)].map((m) => durationSeconds(m[1]));
}

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };

/** A PromQL duration (`1m`, `1h30m`) in seconds. */
function durationSeconds(duration: string): number {
  const parts = [...duration.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== duration) {
    throw new Error(`not a PromQL duration: ${duration}`);
  }
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_SECONDS[unit], 0);
}
