import htm from 'htm';
import { h } from 'preact';

/**
 * Preact's `h` through htm's tagged templates: markup without a JSX build step. Values are set as
 * text or properties, never parsed as HTML, so nothing from the API can become markup.
 */
export const html = htm.bind(h);
