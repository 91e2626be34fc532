/** `npm run report`: regenerates results/table.md and the error-rate figure from results/*\/metrics.json. */
import { regenerateReport } from '../lib/results/report';

regenerateReport(process.argv[2] ?? 'results')
  .then(({ table, figure }) => {
    const files = [table, figure.html, figure.png, figure.svg].filter(Boolean).join(', ');
    console.log(`wrote ${files}${figure.skipped ? ` (${figure.skipped})` : ''}`);
  })
  .catch((err: Error) => {
    console.error(`error: ${err.message}`);
    process.exit(1);
  });
