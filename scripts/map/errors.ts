/** A schema or overrides file the map cannot be derived from: the message says what and where. */
export class MapError extends Error {
  override name = 'MapError';
}
