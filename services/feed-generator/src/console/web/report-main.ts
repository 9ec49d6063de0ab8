import { render } from 'preact';
import { html } from './html.js';
import { ReportView } from './report.view.js';

/** The conversation report's entry module: the conversation's name is the last segment of the path. */
const root = document.getElementById('page');
if (!root) throw new Error('the report page has no #page element');
const name = decodeURIComponent(location.pathname.split('/').filter(Boolean).at(-1) ?? '');
render(html`<${ReportView} name=${name} />`, root);
