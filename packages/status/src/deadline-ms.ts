/**
 * grpc-js's `Deadline` (a `Date` or ms since the epoch) as ms since the epoch; undefined when the
 * call has none (`Infinity` passes through: grpc-js's own "no deadline"). One home for the
 * conversion every package that reads a call's deadline needs.
 */
export function deadlineToMs(deadline: Date | number | undefined): number | undefined {
  if (deadline === undefined) return undefined;
  return deadline instanceof Date ? deadline.getTime() : deadline;
}
