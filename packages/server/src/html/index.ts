export { escapeHtml, htmlPage } from './html-page.ts';
