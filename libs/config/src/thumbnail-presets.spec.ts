import { loadConfig } from './load-config';
import { MAX_PRESETS, presetCatalogue } from './thumbnail-presets';

const presets = (value: unknown, env: Record<string, string> = {}) =>
  presetCatalogue(loadConfig({ THUMBNAIL_PRESETS: JSON.stringify(value), ...env }));

describe('THUMBNAIL_PRESETS', () => {
  it('unset, offers only `default`: the original 100x100 PNG cover thumbnail, sized by THUMBNAIL_SIZE', () => {
    expect(loadConfig({}).THUMBNAIL_PRESETS).toBeUndefined();
    expect([...presetCatalogue(loadConfig({}))]).toEqual([['default', { width: 100, height: 100, fit: 'cover', format: 'png', quality: null }]]);
    expect(presetCatalogue(loadConfig({ THUMBNAIL_SIZE: '128', THUMBNAIL_PRESETS: ' ' })).get('default')).toMatchObject({ width: 128, height: 128 });
  });

  it('adds the operator’s presets after `default`, filling fit, format and each format’s quality', () => {
    const catalogue = presets({
      w320: { width: 320, height: 240, fit: 'inside', format: 'webp' },
      hero: { width: 1200, height: 630, format: 'jpeg', quality: 70 },
      tiny: { width: 32, height: 32 },
      small: { width: 200, height: 200, format: 'avif' },
    });
    expect([...catalogue.keys()]).toEqual(['default', 'w320', 'hero', 'tiny', 'small']);
    expect(catalogue.get('w320')).toEqual({ width: 320, height: 240, fit: 'inside', format: 'webp', quality: 80 });
    expect(catalogue.get('hero')).toEqual({ width: 1200, height: 630, fit: 'cover', format: 'jpeg', quality: 70 });
    expect(catalogue.get('tiny')).toEqual({ width: 32, height: 32, fit: 'cover', format: 'png', quality: null });
    expect(catalogue.get('small')).toEqual({ width: 200, height: 200, fit: 'cover', format: 'avif', quality: 50 });
  });

  it('lets the operator redefine `default`, which THUMBNAIL_SIZE then no longer shapes', () => {
    const catalogue = presets({ default: { width: 150, height: 100, format: 'webp' } }, { THUMBNAIL_SIZE: '64' });
    expect([...catalogue]).toEqual([['default', { width: 150, height: 100, fit: 'cover', format: 'webp', quality: 80 }]]);
  });

  it.each([
    [{ small: { width: 0, height: 3 } }, 'small.width: must be at least 1'],
    [{ small: { width: 10, height: 4097 } }, 'small.height: must be at most 4096'],
    [{ small: { width: 10.5, height: 10 } }, 'small.width: must be a whole number of pixels'],
    [{ small: { width: '10', height: 10 } }, 'small.width: must be a whole number of pixels'],
    [{ small: { height: 10 } }, 'small.width: must be a whole number of pixels'],
    [{ small: { width: 10, height: 10, fit: 'stretch' } }, 'small.fit: must be one of cover, contain, fill, inside'],
    [{ small: { width: 10, height: 10, format: 'gif' } }, 'small.format: must be one of png, webp, avif, jpeg'],
    [{ small: { width: 10, height: 10, format: 'webp', quality: 101 } }, 'small.quality: must be a whole number from 1 to 100'],
    [{ small: { width: 10, height: 10, quality: 80 } }, 'small: quality does not apply to png, which is lossless'],
    [{ small: { width: 10, height: 10, size: 3 } }, 'small: has unknown keys (size)'],
    [{ default: { width: 10, height: 10, fit: 'inside' } }, 'default.fit: fit inside is not for "default"'],
    [{ small: 100 }, 'small: must be an object with width and height'],
    [{ 'Small.v2': { width: 10, height: 10 } }, 'Small.v2: is not a preset name'],
    [{ ['x'.repeat(33)]: { width: 10, height: 10 } }, `${'x'.repeat(33)}: is not a preset name`],
    [[{ width: 10, height: 10 }], 'must be a JSON object of preset name'],
  ])('refuses %j at start, naming the variable and the place: %s', (value, problem) => {
    expect(() => presets(value)).toThrow(`THUMBNAIL_PRESETS ${problem}`);
  });

  it('refuses text that is not JSON, and more than MAX_PRESETS presets', () => {
    expect(() => loadConfig({ THUMBNAIL_PRESETS: 'small=100x100' })).toThrow(/THUMBNAIL_PRESETS must be a JSON object of preset name/);
    const many = Object.fromEntries(Array.from({ length: MAX_PRESETS + 1 }, (_, i) => [`p${i}`, { width: 10, height: 10 }]));
    expect(() => presets(many)).toThrow(`THUMBNAIL_PRESETS may define at most ${MAX_PRESETS} presets`);
    delete many[`p${MAX_PRESETS}`];
    expect(presets(many).size).toBe(MAX_PRESETS + 1);
  });
});

describe('MAX_VARIANTS_PER_JOB', () => {
  it('defaults to 4 and takes 1 to MAX_PRESETS', () => {
    expect(loadConfig({}).MAX_VARIANTS_PER_JOB).toBe(4);
    expect(loadConfig({ MAX_VARIANTS_PER_JOB: String(MAX_PRESETS) }).MAX_VARIANTS_PER_JOB).toBe(MAX_PRESETS);
    expect(() => loadConfig({ MAX_VARIANTS_PER_JOB: '0' })).toThrow(/MAX_VARIANTS_PER_JOB must be at least 1/);
    expect(() => loadConfig({ MAX_VARIANTS_PER_JOB: String(MAX_PRESETS + 1) })).toThrow(`MAX_VARIANTS_PER_JOB must be at most ${MAX_PRESETS}`);
  });
});
