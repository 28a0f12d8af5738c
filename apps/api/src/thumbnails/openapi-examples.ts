import { VARIANT_CONTENT_TYPES } from '@thumbnail/jobs';

/** Examples shown at /docs; shaped exactly like real answers. */
export const jobExample = {
  _id: '6f1c1a4e-3c1b-4c52-9a8e-0d2b8f1e9a77',
  filename: 'originals/6f1c1a4e-3c1b-4c52-9a8e-0d2b8f1e9a77',
  originalFilename: 'holiday.png',
  status: 'complete',
  thumbnailFilename: 'thumbnails/6f1c1a4e-3c1b-4c52-9a8e-0d2b8f1e9a77.png',
  thumbnailLink: 'http://localhost:3000/thumbnail/6f1c1a4e-3c1b-4c52-9a8e-0d2b8f1e9a77/image',
  createdAt: '2026-11-26T10:00:00.000Z',
  startedAt: '2026-11-26T10:00:00.012Z',
  completedAt: '2026-11-26T10:00:00.031Z',
  attempts: 1,
  fit: 'cover',
  width: 100,
  height: 100,
  contentType: 'image/png',
  bytes: 72236,
  variants: [
    {
      name: 'default',
      format: 'png',
      width: 100,
      height: 100,
      bytes: 11873,
      link: 'http://localhost:3000/thumbnail/6f1c1a4e-3c1b-4c52-9a8e-0d2b8f1e9a77/image',
    },
  ],
  placeholder: { thumbhash: 'HBkSHYSIeHiPiHh8eJd4eTN0EEQG' },
};

export const unknownVariantExample = {
  error: {
    code: 'unknown_variant',
    message: 'There is no preset "huge". Presets: default, w320, w640.',
    known_variants: ['default', 'w320', 'w640'],
  },
};

/** What GET /thumbnail/:id/image may answer with, one per preset format. */
export const IMAGE_TYPES = Object.values(VARIANT_CONTENT_TYPES);

export function errorExample(code: string, message: string) {
  return { error: { code, message } };
}
