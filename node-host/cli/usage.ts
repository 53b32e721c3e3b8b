/** Bad usage of a command: exit status 2, with the command's usage line. */
export class UsageError extends Error {}
