/**
 * The longest side an accepted image may have, in pixels: the most a JPEG or GIF can declare.
 * Rows longer than that cost memory far beyond their pixel count (a 40,000,000 x 1 PNG is one
 * row of 160 MB that libvips buffers many times over) and millions of rows take libvips seconds
 * just to walk, so the API refuses such an upload from its header and the worker before
 * decoding it, whatever LIMIT_INPUT_PIXELS allows.
 */
export const MAX_IMAGE_SIDE = 65_535;
