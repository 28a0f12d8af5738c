import { expect } from 'vitest';
import { type InspectedImage, ORIENTATION_UPRIGHT, type Rgb } from './image-fixtures';

/**
 * Asserts the four quadrants of `quadrants()` (ORIENTATION_UPRIGHT's colours), read a quarter of
 * the way in from each corner of `area`, each channel within `tolerance`.
 */
export function expectQuadrants(image: InspectedImage, tolerance: number, area = { x: 0, y: 0, width: image.width, height: image.height }): void {
  const { topLeft, topRight, bottomLeft, bottomRight } = ORIENTATION_UPRIGHT;
  const at = (fx: number, fy: number) => image.pixel(Math.floor(area.x + area.width * fx), Math.floor(area.y + area.height * fy));
  const expected: [number[], Rgb][] = [
    [at(0.25, 0.25), topLeft],
    [at(0.75, 0.25), topRight],
    [at(0.25, 0.75), bottomLeft],
    [at(0.75, 0.75), bottomRight],
  ];
  for (const [actual, colour] of expected) {
    colour.forEach((value, channel) => expect(Math.abs(actual[channel] - value), `[${actual}] vs [${colour}]`).toBeLessThanOrEqual(tolerance));
  }
}
