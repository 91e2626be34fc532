/**
 * The notebooks' entry point: the whole library (lib/index.ts) plus what only notebooks use (rich display,
 * source listings, where a notebook's run is recorded, the data sets' stand-ins), so that a notebook opens
 * with one import: `import { … } from '../dist/lib/notebook'`.
 */
import { keepBusyWhileRunning } from './kernelStatus';

export * from '../index';
export { hyperparameterTable, notebookRun, recordRun } from '../results/notebookRun';
export { loadOrStandIn, type LoadedData, type StandInOptions } from '../data/standIn';

export { showSource, sourceOf, highlightTypeScript, type SourceListing } from './showSource';
export { showFigure, displayHtml, escapeHtml, printTensor } from './display';
export { showTable, showMarkdown, showSummary } from './tables';
export { keepBusyWhileRunning };

// The kernel indicator stays busy while a cell runs (see kernelStatus.ts).
keepBusyWhileRunning();
