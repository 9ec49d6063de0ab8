import { render } from 'preact';
import { DigestView } from './editions.view.js';
import { html } from './html.js';

/** A digest's public page's entry module: the digest's name is the last segment of the path. */
const root = document.getElementById('page');
if (!root) throw new Error('the digest page has no #page element');
const name = decodeURIComponent(location.pathname.split('/').filter(Boolean).at(-1) ?? '');
render(html`<${DigestView} name=${name} />`, root);
