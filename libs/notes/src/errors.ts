/** Thrown when ratings, priors or options given to the notes scorer are malformed. */
export class NotesInputError extends Error {
  override name = 'NotesInputError';
}
