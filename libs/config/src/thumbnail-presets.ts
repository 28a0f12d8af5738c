import { z } from 'zod';

/** Encodings a preset may ask for. */
export const PRESET_FORMATS = ['png', 'webp', 'avif', 'jpeg'] as const;
export type PresetFormat = (typeof PRESET_FORMATS)[number];

/**
 * How a preset's image fills its box: the request's three `fit` modes, plus `inside` (scaled
 * down to fit within the box, aspect ratio kept, never enlarged: what `srcset` widths want).
 */
export const PRESET_FITS = ['cover', 'contain', 'fill', 'inside'] as const;
export type PresetFit = (typeof PRESET_FITS)[number];

/** The name of the preset a request gets when it names none: today's thumbnail. */
export const DEFAULT_PRESET = 'default';

/**
 * Bounds on what an operator may configure. Each variant of a job holds its pixels in the
 * worker's image slot (docs/security.md sizes the memory), so a preset is at most this wide and
 * high, like THUMBNAIL_SIZE, and the catalogue has at most MAX_PRESETS entries.
 */
export const MAX_PRESET_SIDE = 4096;
export const MAX_PRESETS = 16;

/** Names are used in URLs, form fields and storage keys: short, lower case, no dots. */
const PRESET_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** One named image a job can make. `quality` is null for PNG, which is lossless. */
export interface ThumbnailPreset {
  width: number;
  height: number;
  fit: PresetFit;
  format: PresetFormat;
  quality: number | null;
}

/** sharp's own defaults for each lossy encoder, written down so a record says what was used. */
const DEFAULT_QUALITY: Record<Exclude<PresetFormat, 'png'>, number> = { webp: 80, avif: 50, jpeg: 80 };

const side = z
  .number({ error: 'must be a whole number of pixels' })
  .int('must be a whole number of pixels')
  .min(1, 'must be at least 1')
  .max(MAX_PRESET_SIDE, `must be at most ${MAX_PRESET_SIDE}`);

const QUALITY_RANGE = 'must be a whole number from 1 to 100';

const presetSchema = z
  .strictObject(
    {
      width: side,
      height: side,
      fit: z.enum(PRESET_FITS, { error: `must be one of ${PRESET_FITS.join(', ')}` }).default('cover'),
      format: z.enum(PRESET_FORMATS, { error: `must be one of ${PRESET_FORMATS.join(', ')}` }).default('png'),
      quality: z.number({ error: QUALITY_RANGE }).int(QUALITY_RANGE).min(1, QUALITY_RANGE).max(100, QUALITY_RANGE).optional(),
    },
    { error: (issue) => (issue.code === 'unrecognized_keys' ? `has unknown keys (${issue.keys.join(', ')}); a preset has width, height, fit, format and quality` : 'must be an object with width and height') },
  )
  .refine((preset) => !(preset.format === 'png' && preset.quality !== undefined), 'quality does not apply to png, which is lossless')
  .transform(
    (preset): ThumbnailPreset => ({
      ...preset,
      quality: preset.format === 'png' ? null : (preset.quality ?? DEFAULT_QUALITY[preset.format]),
    }),
  );

/**
 * THUMBNAIL_PRESETS: a JSON object of preset name -> preset. Unset means no presets beyond
 * `default` (parsed as undefined, so the documented default stays "unset").
 */
export const presetsVariable = z
  .string()
  .trim()
  .optional()
  .transform((text, context) => {
    if (text === undefined || text === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      context.addIssue({ code: 'custom', message: 'must be a JSON object of preset name -> { width, height, fit, format, quality }' });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .record(z.string().regex(PRESET_NAME), presetSchema, {
        error: (issue) =>
          issue.code === 'invalid_key'
            ? 'is not a preset name: use 1 to 32 lower-case letters, digits, "-" or "_", starting with a letter or digit'
            : 'must be a JSON object of preset name -> { width, height, fit, format, quality }',
      })
      .refine((presets) => Object.keys(presets).length <= MAX_PRESETS, `may define at most ${MAX_PRESETS} presets`)
      // The top-level fit of a job record, and the request's `fit`, are the original service's
      // three modes; they describe `default`.
      .refine((presets) => presets[DEFAULT_PRESET]?.fit !== 'inside', {
        message: `fit inside is not for "${DEFAULT_PRESET}", whose fit requests choose among cover, contain and fill`,
        path: [DEFAULT_PRESET, 'fit'],
      })
      .optional(),
  );

/** What the configuration's presets are, once THUMBNAIL_SIZE has shaped the built-in default. */
export type PresetCatalogue = ReadonlyMap<string, ThumbnailPreset>;

/**
 * Every preset a request may name, `default` first: the operator's THUMBNAIL_PRESETS, and the
 * built-in `default` (THUMBNAIL_SIZE square, cover, PNG: the original service's thumbnail)
 * unless THUMBNAIL_PRESETS redefines it.
 */
export function presetCatalogue(config: {
  THUMBNAIL_SIZE: number;
  THUMBNAIL_PRESETS?: Readonly<Record<string, ThumbnailPreset>>;
}): PresetCatalogue {
  const builtIn: ThumbnailPreset = { width: config.THUMBNAIL_SIZE, height: config.THUMBNAIL_SIZE, fit: 'cover', format: 'png', quality: null };
  const configured = config.THUMBNAIL_PRESETS ?? {};
  return new Map([[DEFAULT_PRESET, configured[DEFAULT_PRESET] ?? builtIn], ...Object.entries(configured).filter(([name]) => name !== DEFAULT_PRESET)]);
}
