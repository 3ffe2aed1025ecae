import { createLogSink } from './log-sink';

describe('log sink', () => {
  it('collects parsed pino records at every level', () => {
    const sink = createLogSink();
    sink.logger.debug({ method: '/a/B' }, 'attempt');
    sink.logger.warn({ code: 14 }, 'call failed');
    expect(sink.records).toHaveLength(2);
    expect(sink.find('call failed')[0]).toMatchObject({ code: 14, level: 40 });
    expect(sink.find(/att/)[0]).toMatchObject({ method: '/a/B', level: 20 });
    sink.clear();
    expect(sink.records).toHaveLength(0);
  });
});
