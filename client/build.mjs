// Build the browser client: node build.mjs
// Writes sessionlens.js (recorder), player.js and player.css (console player),
// heatmap.js and survey-preview.js (console pages)
// to ../src/sessionlens/console/static/build/. Deterministic, no network.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, '../src/sessionlens/console/static/build');

const common = {
  absWorkingDir: here,
  bundle: true,
  format: 'iife',
  minify: true,
  target: 'es2018',
  outdir,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
};

mkdirSync(outdir, { recursive: true });
await esbuild.build({ ...common, entryPoints: { sessionlens: 'src/recorder/index.js' } });
await esbuild.build({ ...common, entryPoints: { player: 'src/player/index.js' } });
await esbuild.build({ ...common, entryPoints: { heatmap: 'src/heatmap/index.js' } });
await esbuild.build({ ...common, entryPoints: { 'survey-preview': 'src/survey-preview/index.js' } });
console.log('built sessionlens.js, player.js, player.css, heatmap.js, survey-preview.js in ' + path.relative(process.cwd(), outdir));
