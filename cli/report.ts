/**
 * `npm run report`: regenerates results/table.md, the error-rate figure and the MNIST time-to-accuracy
 * figure from results/*\/metrics.json and history.json; `--help` lists the flags.
 */
import { cliFlags, FLAGS, runMain, type FlagTable } from './args';
import { regenerateReport } from '../lib/results/report';

export const USAGE = [
  'usage: npm run report -- [flags]',
  'The results table, the error-rate figure and the time-to-accuracy figure, from <results-dir>/*/metrics.json.',
].join('\n');
export const FLAG_TABLE = {
  'results-dir': { ...FLAGS['results-dir'], default: 'results' },
} satisfies FlagTable;

async function main(): Promise<void> {
  const values = cliFlags(USAGE, FLAG_TABLE);
  const { table, figure, timeToAccuracy } = await regenerateReport(values['results-dir']);
  const figures = [figure, timeToAccuracy].flatMap((f) => (f ? [f.html, f.png, f.svg] : []));
  const files = [table, ...figures].filter(Boolean).join(', ');
  console.log(`wrote ${files}${figure.skipped ? ` (${figure.skipped})` : ''}`);
}

runMain(module, main);
