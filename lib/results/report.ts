/** `npm run report`: results/table.md and the figures over all runs, regenerated from their records. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { saveFigure, type RenderedFigure } from '../plots/figure';
import { errorRatesFigure, timeToAccuracyFigure } from './figures';
import { collectRecordedRuns, collectRuns } from './metrics';
import { tableMarkdown } from './table';

/** Rewrites results/table.md and the error-rate figure from every run's metrics. */
export async function regenerateReport(
  resultsDir: string,
): Promise<{ table: string; figure: RenderedFigure; timeToAccuracy: RenderedFigure | null }> {
  const runs = collectRuns(resultsDir);
  const table = path.join(resultsDir, 'table.md');
  fs.writeFileSync(table, tableMarkdown(runs));
  const figure = await saveFigure(errorRatesFigure(runs), path.join(resultsDir, 'error-rates'), {
    width: 1000,
    height: 560,
  });
  const timeFigure = timeToAccuracyFigure(
    collectRecordedRuns(resultsDir),
    collectRecordedRuns(path.join(resultsDir, 'search')),
  );
  const timeToAccuracy = timeFigure && (await saveFigure(timeFigure, path.join(resultsDir, 'time-to-accuracy')));
  return { table, figure, timeToAccuracy };
}
