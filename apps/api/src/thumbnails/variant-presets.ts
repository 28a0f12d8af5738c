import { DEFAULT_PRESET, type PresetCatalogue } from '@thumbnail/config';
import { THUMBNAIL_FITS, type ThumbnailFit, type ThumbnailVariant } from '@thumbnail/jobs';
import { ApiError, errors } from '../errors/api-error';
import { quotedText } from '../errors/quoted-text';

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
   * each once, in order. Exactly what `pattern()` describes: names as configured, commas between
   * them and nothing else, at most `maxPerJob` of them (a name given twice counts twice).
   */
  parse(value: unknown): string[] {
    const values = Array.isArray(value) ? value : [value];
    if (!values.every((part) => typeof part === 'string')) throw errors.invalidParameter('variants', 'must be preset names separated by commas.');
    const given = values.flatMap((part: string) => part.split(','));
    if (given.some((name) => name === '')) {
      throw errors.invalidParameter('variants', `must be preset names separated by commas, with no spaces or empty names: ${this.names.join(', ')}.`);
    }
    const unknown = given.find((name) => !this.catalogue.has(name));
    if (unknown !== undefined) throw this.unknown(unknown);
    if (given.length > this.maxPerJob) {
      throw new ApiError(
        400,
        'too_many_variants',
        `A job makes at most ${this.maxPerJob} variants; this request names ${given.length}. Presets: ${this.names.join(', ')}.`,
        {},
        { known_variants: this.names },
      );
    }
    return [...new Set(given)];
  }

  /** The regular expression (for the OpenAPI document) of the `variants` values `parse` takes. */
  pattern(): string {
    const name = `(?:${this.names.map(escapeRegExp).join('|')})`;
    return `^${name}(?:,${name}){0,${this.maxPerJob - 1}}$`;
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
      `There is no preset "${quotedText(name)}". Presets: ${this.names.join(', ')}.`,
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
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
