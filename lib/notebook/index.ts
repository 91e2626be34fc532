/** Helpers for the notebooks: `import { showSource, showFigure, showTable } from '../dist/lib/notebook'`. */
export { showSource, sourceOf, highlightTypeScript, type SourceListing } from './showSource';
export { showFigure, displayHtml, escapeHtml } from './display';
export { showTable, showMarkdown, showSummary } from './tables';
