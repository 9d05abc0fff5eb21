// Builds the consoles into dist/ (or `--out DIR`): one bundle (esbuild), the page and its stylesheet as they are.
// The output is committed; scripts/test.sh builds it again elsewhere and fails when it differs from dist/.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';

const out = process.argv.indexOf('--out');
const dist = out > 0 ? pathToFileURL(`${process.argv[out + 1]}/`) : new URL('./dist/', import.meta.url);
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
