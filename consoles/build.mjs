// Builds the consoles into dist/: one bundle (esbuild), the page and its stylesheet copied as they are.
// The output is committed; scripts/test.sh rebuilds it and fails when it differs from dist/.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';

const dist = new URL('./dist/', import.meta.url);
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await build({
  entryPoints: [new URL('./src/main.ts', import.meta.url).pathname],
  outfile: new URL('app.js', dist).pathname,
  bundle: true,
  format: 'esm',
  target: ['es2022', 'chrome111', 'firefox115', 'safari16'],
  minify: true,
  legalComments: 'eof',
  charset: 'utf8',
  logLevel: 'warning',
});
for (const file of ['index.html', 'app.css']) {
  await copyFile(new URL(`./static/${file}`, import.meta.url), new URL(file, dist));
}
