/**
 * `npm run report`: regenerates results/table.md, the error-rate figure and the MNIST time-to-accuracy
 * figure from results/*\/metrics.json and history.json.
 */
import { regenerateReport } from '../lib/results/report';

regenerateReport(process.argv[2] ?? 'results')
  .then(({ table, figure, timeToAccuracy }) => {
    const figures = [figure, timeToAccuracy].flatMap((f) => (f ? [f.html, f.png, f.svg] : []));
    const files = [table, ...figures].filter(Boolean).join(', ');
    console.log(`wrote ${files}${figure.skipped ? ` (${figure.skipped})` : ''}`);
  })
  .catch((err: Error) => {
    console.error(`error: ${err.message}`);
    process.exit(1);
  });
