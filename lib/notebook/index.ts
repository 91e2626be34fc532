/** Helpers for the notebooks: `import { showSource, showFigure, showTable } from '../dist/lib/notebook'`. */
import { keepBusyWhileRunning } from './kernelStatus';

export { showSource, sourceOf, highlightTypeScript, type SourceListing } from './showSource';
export { showFigure, displayHtml, escapeHtml } from './display';
export { showTable, showMarkdown, showSummary } from './tables';
export { keepBusyWhileRunning };

// The kernel indicator stays busy while a cell runs (see kernelStatus.ts).
keepBusyWhileRunning();
