// The app's public surface for tools beside the product (eval/, bench/, tests): start every role in-process.
export { startApp, type RunningApp } from './app.factory.js';
