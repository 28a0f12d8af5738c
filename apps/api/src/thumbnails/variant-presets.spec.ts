import { loadConfig, presetCatalogue } from '@thumbnail/config';
import { ApiError } from '../errors/api-error';
import { VariantPresets } from './variant-presets';

const presets = new VariantPresets(
  presetCatalogue(
    loadConfig({
      THUMBNAIL_PRESETS: JSON.stringify({
        w320: { width: 320, height: 320, fit: 'inside', format: 'webp' },
        w640: { width: 640, height: 640, fit: 'inside', format: 'webp', quality: 70 },
        square: { width: 200, height: 200, format: 'avif' },
      }),
    }),
  ),
  3,
);

function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('expected a refusal');
}

describe('VariantPresets', () => {
  it('reads comma lists and repeated parameters, each name once, in order', () => {
    expect(presets.parse('w640')).toEqual(['w640']);
    expect(presets.parse('w640,default,w640')).toEqual(['w640', 'default']);
    expect(presets.parse(['square', 'w320,square'])).toEqual(['square', 'w320']);
  });

  it('takes exactly what its pattern in the OpenAPI document describes', () => {
    const pattern = new RegExp(presets.pattern());
    for (const value of ['w640', 'default,w320', 'square,square,square', 'w640,default,w640']) {
      expect(pattern.test(value), value).toBe(true);
      expect(() => presets.parse(value)).not.toThrow();
    }
    for (const value of ['', ' w640', 'w640,', ',w640', 'w640,,default', 'Default', 'default,w320,w640,square', 'w320,w320,w320,w320', 'w640 ']) {
      expect(pattern.test(value), value).toBe(false);
      expect(refusal(() => presets.parse(value)).status, value).toBe(400);
    }
  });

  it('refuses an unknown preset with the list of known ones', () => {
    const error = refusal(() => presets.parse('w320,huge'));
    expect([error.status, error.code]).toEqual([400, 'unknown_variant']);
    expect(error.message).toBe('There is no preset "huge". Presets: default, w320, w640, square.');
    expect(error.details).toEqual({ known_variants: ['default', 'w320', 'w640', 'square'] });
    // Quoted back short and without control characters.
    expect(refusal(() => presets.parse(`\u001b[31m${'x'.repeat(100)}`)).message).toContain(`"[31m${'x'.repeat(36)}"`);
  });

  it('refuses more than MAX_VARIANTS_PER_JOB presets, also with the list', () => {
    const error = refusal(() => presets.parse('default,w320,w640,square'));
    expect([error.status, error.code]).toEqual([400, 'too_many_variants']);
    expect(error.message).toMatch(/^A job makes at most 3 variants; this request names 4\./);
    expect(error.details).toEqual({ known_variants: ['default', 'w320', 'w640', 'square'] });
  });

  it('refuses a value that names nothing or is not text', () => {
    expect(refusal(() => presets.parse(' , ')).code).toBe('unknown_variant');
    expect(refusal(() => presets.parse('w640,')).code).toBe('invalid_parameter');
    expect(refusal(() => presets.parse([{}])).code).toBe('invalid_parameter');
  });

  it('gives a job the presets as configured, with the request’s fit for default only', () => {
    expect(presets.variants(undefined, undefined)).toEqual([
      { name: 'default', width: 100, height: 100, fit: 'cover', format: 'png', quality: null, output: null },
    ]);
    expect(presets.variants(['w640', 'default'], 'contain')).toEqual([
      { name: 'w640', width: 640, height: 640, fit: 'inside', format: 'webp', quality: 70, output: null },
      { name: 'default', width: 100, height: 100, fit: 'contain', format: 'png', quality: null, output: null },
    ]);
    expect(presets.original('fill')).toEqual({ fit: 'fill', width: 100, height: 100 });
    expect(presets.original(undefined)).toEqual({ fit: 'cover', width: 100, height: 100 });
  });

  it('takes a redefined default’s own fit when the request names none', () => {
    const redefined = new VariantPresets(presetCatalogue(loadConfig({ THUMBNAIL_PRESETS: '{"default":{"width":64,"height":48,"fit":"contain","format":"webp"}}' })), 4);
    expect(redefined.original(undefined)).toEqual({ fit: 'contain', width: 64, height: 48 });
    expect(redefined.variants(undefined, 'cover')).toEqual([{ name: 'default', width: 64, height: 48, fit: 'cover', format: 'webp', quality: 80, output: null }]);
  });
});
