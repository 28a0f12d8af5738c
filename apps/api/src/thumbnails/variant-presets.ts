import { DEFAULT_PRESET, type PresetCatalogue } from '@thumbnail/config';
import { THUMBNAIL_FITS, type ThumbnailFit, type ThumbnailVariant } from '@thumbnail/jobs';
import { ApiError, errors } from '../errors/api-error';

/**
 * The operator's presets (THUMBNAIL_PRESETS) as requests name them: `variants=a,b` on upload,
 * `variant=a` on download. Clients choose among these and nothing else: a size per request would
 * let any client pick how much work and memory each job costs.
 */
export class VariantPresets {
  /** Every preset name, `default` first, as refusals list them. */
  readonly names: string[];

  constructor(
    private readonly catalogue: PresetCatalogue,
    /** MAX_VARIANTS_PER_JOB */
    readonly maxPerJob: number,
  ) {
    this.names = [...catalogue.keys()];
  }

  /**
   * The names in a `variants` value (a comma list, or several of them as a repeated parameter),
   * each once, in order; refuses unknown names and more than `maxPerJob`.
   */
  parse(value: unknown): string[] {
    const values = Array.isArray(value) ? value : [value];
    if (!values.every((part) => typeof part === 'string')) throw errors.invalidParameter('variants', 'must be preset names separated by commas.');
    const names = [...new Set(values.flatMap((part: string) => part.split(',')).map((name) => name.trim()).filter(Boolean))];
    if (names.length === 0) throw errors.invalidParameter('variants', `must name at least one preset: ${this.names.join(', ')}.`);
    const unknown = names.find((name) => !this.catalogue.has(name));
    if (unknown !== undefined) throw this.unknown(unknown);
    if (names.length > this.maxPerJob) {
      throw new ApiError(
        400,
        'too_many_variants',
        `A job makes at most ${this.maxPerJob} variants; this request names ${names.length}. Presets: ${this.names.join(', ')}.`,
        {},
        { known_variants: this.names },
      );
    }
    return names;
  }

  /** The variants a job makes: `names` (absent: `default`), with the request's `fit` for `default`. */
  variants(names: string[] | undefined, fit: ThumbnailFit | undefined): ThumbnailVariant[] {
    return (names ?? [DEFAULT_PRESET]).map((name) => {
      const preset = this.preset(name);
      return { name, ...preset, fit: name === DEFAULT_PRESET ? (fit ?? preset.fit) : preset.fit, output: null };
    });
  }

  /** The `default` preset's fit and size, which a job record's top-level fields describe. */
  original(fit: ThumbnailFit | undefined): { fit: ThumbnailFit; width: number; height: number } {
    const preset = this.preset(DEFAULT_PRESET);
    // Configuration refuses `inside` for `default`.
    const fitOfDefault = (THUMBNAIL_FITS as readonly string[]).includes(preset.fit) ? (preset.fit as ThumbnailFit) : 'cover';
    return { fit: fit ?? fitOfDefault, width: preset.width, height: preset.height };
  }

  isKnown(name: string): boolean {
    return this.catalogue.has(name);
  }

  unknown(name: string): ApiError {
    return new ApiError(
      400,
      'unknown_variant',
      `There is no preset "${printable(name)}". Presets: ${this.names.join(', ')}.`,
      {},
      { known_variants: this.names },
    );
  }

  private preset(name: string) {
    const preset = this.catalogue.get(name);
    if (!preset) throw this.unknown(name);
    return preset;
  }
}

/** A client's text quoted back: short and without control characters. */
function printable(text: string): string {
  return Array.from(text.replace(/[\p{Cc}\p{Bidi_Control}]/gu, '')).slice(0, 40).join('');
}
