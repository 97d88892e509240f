import { consumerEpoch, resumeSequence } from './checkpoint';

test('a new epoch resumes after the ack floor once anything was acknowledged', () => {
  expect(resumeSequence({ ackFloorConsumerSeq: 4, ackFloorStreamSeq: 120, optStartSeq: 100 })).toBe(121);
});

test('a new epoch resumes where the old consumer started when nothing was acknowledged', () => {
  expect(resumeSequence({ ackFloorConsumerSeq: 0, ackFloorStreamSeq: 0, optStartSeq: 100 })).toBe(100);
  expect(resumeSequence({ ackFloorConsumerSeq: 0, ackFloorStreamSeq: 0, optStartSeq: 0 })).toBe(1);
});

test('a consumer name yields its epoch only when it belongs to the mapping', () => {
  expect(consumerEpoch('esm-abc-7', 'abc')).toBe(7);
  expect(consumerEpoch('esm-abc-x', 'abc')).toBeUndefined();
  expect(consumerEpoch('esm-abcd-7', 'abc')).toBeUndefined();
  expect(consumerEpoch('async-fn', 'abc')).toBeUndefined();
});
