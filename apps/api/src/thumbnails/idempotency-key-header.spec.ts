import { ApiError } from '../errors/api-error';
import { IDEMPOTENCY_HEADER_PATTERN, parseIdempotencyKey } from './idempotency-keys.service';

const parses = (value: string): boolean => {
  try {
    parseIdempotencyKey(value);
    return true;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return false;
  }
};

describe('the Idempotency-Key header', () => {
  it('takes a key bare or quoted, spaces inside it, and gives back the key', () => {
    expect(parseIdempotencyKey(undefined)).toBeNull();
    expect(parseIdempotencyKey('8e03978e-40d5-43e8-bc93-6894a57f9324')).toBe('8e03978e-40d5-43e8-bc93-6894a57f9324');
    expect(parseIdempotencyKey('"8e03978e-40d5"')).toBe('8e03978e-40d5');
    expect(parseIdempotencyKey('order 42')).toBe('order 42');
    expect(parseIdempotencyKey('"')).toBe('"');
    expect(parseIdempotencyKey('x'.repeat(255))).toBe('x'.repeat(255));
    expect(parseIdempotencyKey(`"${'x'.repeat(255)}"`)).toBe('x'.repeat(255));
  });

  it('is described exactly by the pattern the OpenAPI document gives', () => {
    const accepted = ['k', 'a b', '"k"', '"a b"', '"', '"a', 'a"', 'x'.repeat(255), `"${'x'.repeat(255)}"`, '!~'];
    const refused = ['', '""', '" "', '"" ', ' ', 'x'.repeat(256), `"${'x'.repeat(256)}"`, 'tab\there', 'é', '" a"', 'a\u0000'];
    for (const value of accepted) expect([value, IDEMPOTENCY_HEADER_PATTERN.test(value), parses(value)]).toEqual([value, true, true]);
    // (A value the HTTP parser would have trimmed is not sent; ' ' stands for what is left.)
    for (const value of refused.filter((v) => v.trim() === v || v === ' ')) {
      expect([value, IDEMPOTENCY_HEADER_PATTERN.test(value), parses(value)]).toEqual([value, false, false]);
    }
  });
});
