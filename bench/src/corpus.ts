import { largeJpeg, pngWithIccProfile400, webp } from '@thumbnail/testing';
import { imageFacts, noisePngUnder, pngWithAlpha, type ImageFacts } from './sharp-tools';

export interface CorpusImage {
  id: string;
  description: string;
  /** File name extension nginx and the multipart upload use. */
  extension: 'png' | 'jpg' | 'webp';
  contentType: string;
  data: Buffer;
  facts: ImageFacts;
}

const MIB = 1024 * 1024;

/** Made on the spot, deterministic; nothing is downloaded. */
export async function makeCorpus(): Promise<CorpusImage[]> {
  const made: Array<Omit<CorpusImage, 'facts'>> = [
    {
      id: 'png-icc-400',
      description: '400x400 RGBA PNG, embedded sRGB ICC profile (like the seed image)',
      extension: 'png',
      contentType: 'image/png',
      data: await pngWithIccProfile400(),
    },
    {
      id: 'jpeg-1mp',
      description: '1280x800 photo-like JPEG (q85)',
      extension: 'jpg',
      contentType: 'image/jpeg',
      data: await largeJpeg(1280, 800),
    },
    {
      id: 'jpeg-16mp',
      description: '4896x3264 photo-like noisy JPEG (q85)',
      extension: 'jpg',
      contentType: 'image/jpeg',
      data: await largeJpeg(4896, 3264),
    },
    {
      id: 'webp',
      description: '1024x768 lossy WebP with alpha',
      extension: 'webp',
      contentType: 'image/webp',
      data: await webp({ width: 1024, height: 768 }),
    },
    {
      id: 'png-alpha',
      description: '1024x768 RGBA PNG, no profile, soft-edged transparency',
      extension: 'png',
      contentType: 'image/png',
      data: await pngWithAlpha(1024, 768),
    },
  ];
  return Promise.all(made.map(async (image) => ({ ...image, facts: await imageFacts(image.data) })));
}

/** The largest upload the API takes by default (MAX_UPLOAD_BYTES = 20 MiB): only for its RSS. */
export async function makeLargestUpload(maxBytes = 20 * MIB): Promise<CorpusImage> {
  // A little under the limit: the limit counts file bytes, and rounding to whole rows is coarse.
  const data = await noisePngUnder(maxBytes - 4096);
  return {
    id: 'upload-20mib',
    description: `${(data.length / MIB).toFixed(2)} MiB RGB noise PNG (largest default upload)`,
    extension: 'png',
    contentType: 'image/png',
    data,
    facts: await imageFacts(data),
  };
}
