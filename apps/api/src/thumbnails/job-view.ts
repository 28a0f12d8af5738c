/**
 * A display name only: control characters, path parts and excess length removed. It is echoed
 * back in JSON (which escapes it) and never used as a key or path.
 */
export function cleanFilename(raw: string | undefined): string {
  const base = (raw ?? '').split(/[\\/]/).pop() ?? '';
  // Control characters (C0 and C1: terminal escapes) and bidi controls (U+202E makes
  // "x\u202egnp.exe" display as "xexe.png") never survive.
  const printable = base.replace(/[\p{Cc}\p{Bidi_Control}\u2028\u2029]/gu, '').trim();
  return Array.from(printable).slice(0, 255).join('') || 'upload';
}
