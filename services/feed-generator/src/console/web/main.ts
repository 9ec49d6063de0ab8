import { render } from 'preact';
import { App } from './app.js';
import { html } from './html.js';

/** The console's entry module: the page has one element for it to fill. */
const root = document.getElementById('console');
if (!root) throw new Error('the console page has no #console element');
render(html`<${App} />`, root);
