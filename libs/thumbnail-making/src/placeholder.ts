import { rgbaToThumbHash } from 'thumbhash';

/** Decoded 8-bit pixels, row by row: grey, grey+alpha, RGB or RGBA. */
export interface RawPixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/**
 * Side of the grid the image is averaged down to before hashing. ThumbHash keeps at most seven
 * cosine terms per axis, so 32 cells a side lose nothing it would keep, at a tenth of the CPU
 * of the library's maximum of 100 (bench/README.md).
 */
const GRID = 32;

/**
 * Samples read per cell and axis at most: plenty for a picture that is blurred by design, and
 * it keeps the cost flat however large the decoded image is.
 */
const SAMPLES_PER_CELL_SIDE = 8;

/**
 * The ThumbHash of an image, from its decoded pixels: averaged onto a grid of at most 32x32
 * cells with the image's aspect ratio (colours weighted by alpha, so transparent pixels add no
 * colour), then hashed. Averaging here instead of with sharp saves a libvips pipeline, whose
 * fixed cost is ten times this.
 */
export function thumbHashOf(pixels: RawPixels): Buffer {
  const { width, height } = pixels;
  const scale = Math.min(1, GRID / Math.max(width, height));
  const columns = Math.max(1, Math.round(width * scale));
  const rows = Math.max(1, Math.round(height * scale));
  const xs = cellSamples(width, columns);
  const ys = cellSamples(height, rows);
  const rgba = new Uint8Array(columns * rows * 4);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      const [r, g, b, a] = averageColour(pixels, xs[column], ys[row]);
      rgba.set([r, g, b, a], (row * columns + column) * 4);
    }
  }
  return Buffer.from(rgbaToThumbHash(columns, rows, rgba));
}

/** For each of `cells` cells along a side of `length` pixels, the pixel positions to sample. */
function cellSamples(length: number, cells: number): number[][] {
  return Array.from({ length: cells }, (_, cell) => {
    const start = (cell * length) / cells;
    const span = length / cells;
    const count = Math.max(1, Math.min(SAMPLES_PER_CELL_SIDE, Math.floor(span)));
    return Array.from({ length: count }, (_, i) => Math.min(length - 1, Math.floor(start + ((i + 0.5) * span) / count)));
  });
}

function averageColour(pixels: RawPixels, xs: number[], ys: number[]): [number, number, number, number] {
  const { data, width, channels } = pixels;
  const grey = channels < 3;
  const alphaAt = channels === 2 || channels === 4 ? channels - 1 : -1;
  let r = 0;
  let g = 0;
  let b = 0;
  let a = 0;
  for (const y of ys) {
    for (const x of xs) {
      const i = (y * width + x) * channels;
      const alpha = alphaAt < 0 ? 255 : data[i + alphaAt];
      r += data[i] * alpha;
      g += data[grey ? i : i + 1] * alpha;
      b += data[grey ? i : i + 2] * alpha;
      a += alpha;
    }
  }
  const samples = xs.length * ys.length;
  if (a === 0) return [0, 0, 0, 0];
  return [Math.round(r / a), Math.round(g / a), Math.round(b / a), Math.round(a / samples)];
}
