/**
 * Something the client sent, made fit to quote back in an error message: control and bidi
 * characters removed (no terminal escapes, no reordered text), at most 40 characters.
 */
export function quotedText(text: string): string {
  return Array.from(text.replace(/[\p{Cc}\p{Bidi_Control}]/gu, '')).slice(0, 40).join('');
}
