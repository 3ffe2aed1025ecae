import { Metadata } from '@grpc/grpc-js';
import { reportedServerMs, SERVER_MS_METADATA_KEY } from './load-report';

it('reads a plain decimal report and ignores an absent or malformed one', () => {
  const trailers = (value?: string) => {
    const metadata = new Metadata();
    if (value !== undefined) metadata.set(SERVER_MS_METADATA_KEY, value);
    return metadata;
  };
  expect(reportedServerMs(trailers('2.07'))).toBe(2.07);
  expect(reportedServerMs(trailers('0'))).toBe(0);
  expect(reportedServerMs(trailers())).toBe(-1);
  expect(reportedServerMs(undefined)).toBe(-1);
  for (const bad of ['', ' ', '-1', '1e3', 'NaN', 'Infinity', '0x10', '2 ms', '1.', '.5'])
    expect(reportedServerMs(trailers(bad))).toBe(-1);
});
