// A fake camera for Chromium: one video frame (Y4M) showing a QR code, as the holder's phone screen would.

import { writeFileSync } from 'node:fs';
import qrcode from 'qrcode-generator';

const WIDTH = 640;
const HEIGHT = 480;
/** Video levels of white and black (ITU-R BT.601 studio range). */
const WHITE = 235;
const BLACK = 16;

/**
 * Writes `file` as a one-frame YUV4MPEG2 (4:2:0) video of `text`'s QR code, for Chromium's
 * `--use-file-for-fake-video-capture`, which plays it in a loop as the camera.
 */
export function qrVideo(text: string, file: string): void {
  const qr = qrcode(0, 'M');
  // Show codes are Base45 behind a prefix: QR alphanumeric mode, as the holder's app encodes them.
  qr.addData(text, 'Alphanumeric');
  qr.make();
  const modules = qr.getModuleCount();
  const quiet = 4;
  const cell = Math.floor((Math.min(WIDTH, HEIGHT) * 0.95) / (modules + 2 * quiet));
  if (cell < 2) throw new Error(`a ${modules}-module code does not fit a ${WIDTH}x${HEIGHT} frame`);
  const left = Math.floor((WIDTH - cell * modules) / 2);
  const top = Math.floor((HEIGHT - cell * modules) / 2);
  const luma = Buffer.alloc(WIDTH * HEIGHT, WHITE);
  for (let row = 0; row < modules; row++) {
    for (let col = 0; col < modules; col++) {
      if (!qr.isDark(row, col)) continue;
      for (let y = 0; y < cell; y++) {
        const start = (top + row * cell + y) * WIDTH + left + col * cell;
        luma.fill(BLACK, start, start + cell);
      }
    }
  }
  const chroma = Buffer.alloc((WIDTH / 2) * (HEIGHT / 2), 128);
  writeFileSync(
    file,
    Buffer.concat([
      Buffer.from(`YUV4MPEG2 W${WIDTH} H${HEIGHT} F30:1 Ip A1:1 C420jpeg\nFRAME\n`, 'ascii'),
      luma,
      chroma,
      chroma,
    ]),
  );
}
