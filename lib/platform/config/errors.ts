/** The error of a configuration that cannot start the node. */

/** A configuration that cannot start the node; the message names the offending field. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}
