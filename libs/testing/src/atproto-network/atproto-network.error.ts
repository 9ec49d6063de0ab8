/** What went wrong with the local AT Protocol network: its start, its stop, or a call to it. */
export class AtprotoNetworkError extends Error {
  override name = 'AtprotoNetworkError';
}
