// CPU ms per image for sharp decoding a 400x400 RGBA PNG (see png-decode.md). REPRO_LOOP=a..e: run that case 2000 times, print nothing (for perf).
const sharp = require('sharp');
sharp.cache(false); sharp.concurrency(1);
const W = 400, px = Buffer.alloc(W * W * 4), raw = (w, h, c) => ({ raw: { width: w, height: h, channels: c } });
for (let i = 0; i < W * W; i++) px.set([(i % W) * 255 / (W - 1), Math.floor(i / W) * 255 / (W - 1), 160, i % W < W / 4 ? 128 : 255], i * 4);
const cpuMs = async (f, n = 300) => { for (let i = 0; i < 30; i++) await f(); const t = process.cpuUsage(); for (let i = 0; i < n; i++) await f(); const d = process.cpuUsage(t); return ((d.user + d.system) / 1000 / n).toFixed(2); };
(async () => {
  // adaptiveFiltering: Sub/Up/Paeth rows as most encoders write them (sharp's default writes filter None on every row).
  const icc = await sharp(px, raw(W, W, 4)).withIccProfile('srgb').png({ adaptiveFiltering: true }).toBuffer();
  const plain = await sharp(px, raw(W, W, 4)).png({ adaptiveFiltering: true }).toBuffer();
  const jpeg = await sharp(px, raw(W, W, 4)).flatten().jpeg().toBuffer();
  if (!(await sharp(icc).metadata()).icc || (await sharp(plain).metadata()).icc) throw new Error('ICC profile not where expected');
  const cases = [['a PNG+sRGB ICC decode', () => sharp(icc).raw().toBuffer()],
    ['b PNG+sRGB ICC ignoreIcc', () => sharp(icc, { ignoreIcc: true }).raw().toBuffer()],
    ['c PNG no profile decode', () => sharp(plain).raw().toBuffer()],
    ['d JPEG decode (same size)', () => sharp(jpeg).raw().toBuffer()],
    ['e empty 1x1 raw -> raw', () => sharp(Buffer.alloc(3), raw(1, 1, 3)).raw().toBuffer()]];
  const loop = cases.find(([name]) => name[0] === process.env.REPRO_LOOP);
  if (loop) { for (let i = 0; i < 2000; i++) await loop[1](); return; }
  console.log(`sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}, libpng ${sharp.versions.png}; ${W}x${W} RGBA PNG ${icc.length} B with ICC, ${plain.length} B without`);
  for (const [name, f] of cases) console.log(name.padEnd(27), (await cpuMs(f)).padStart(6), 'ms CPU per image');
})();
