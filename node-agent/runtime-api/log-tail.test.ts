import { LineSplitter, LogTail, billedDuration, endLine, reportLine, startLine } from './log-tail';

const bytes = (s: string): number => Buffer.byteLength(s);

describe('LogTail', () => {
  test('LogTail keeps every line with newlines when they fit', () => {
    const tail = new LogTail();
    tail.push('first');
    tail.push('second');
    expect(tail.text()).toBe('first\nsecond\n');
  });

  test('LogTail returns an empty string when nothing was pushed', () => {
    expect(new LogTail().text()).toBe('');
  });

  test('LogTail keeps the last 4 KB by bytes when many lines are pushed', () => {
    const tail = new LogTail();
    for (let i = 0; i < 1000; i++) tail.push(`line ${String(i).padStart(4, '0')}`);
    const text = tail.text();
    expect(bytes(text)).toBeLessThanOrEqual(4096);
    expect(text.endsWith('line 0999\n')).toBe(true);
    // Whole lines are dropped from the front: the tail starts at a line boundary.
    expect(text.startsWith('line ')).toBe(true);
    // 10 bytes a line: 409 whole lines fit in 4096 bytes.
    expect(text.split('\n').filter(Boolean)).toHaveLength(409);
  });

  test('LogTail counts bytes rather than characters when lines are multibyte', () => {
    const tail = new LogTail();
    // Each line is 10 three-byte characters plus a newline: 31 bytes, 11 characters.
    const line = '€'.repeat(10);
    for (let i = 0; i < 500; i++) tail.push(line);
    const text = tail.text();
    expect(bytes(text)).toBeLessThanOrEqual(4096);
    expect(text.split('\n').filter(Boolean)).toHaveLength(Math.floor(4096 / 31));
    expect(text).not.toContain('\uFFFD');
  });

  test('LogTail honours a custom limit when one is given', () => {
    const tail = new LogTail(8);
    tail.push('aaa');
    tail.push('bbb');
    tail.push('ccc');
    expect(tail.text()).toBe('bbb\nccc\n');
  });

  test('LogTail cuts a single line to the last bytes when it alone is over the limit', () => {
    const tail = new LogTail(8);
    tail.push('0123456789abcdef');
    expect(tail.text()).toBe('9abcdef\n');
  });

  test('LogTail starts at a whole character when the byte cut lands inside a multibyte one', () => {
    const tail = new LogTail();
    // 'é' is two bytes; the last 4096 bytes are "\n" plus 4095 bytes, which starts mid-character.
    tail.push('é'.repeat(3000));
    const text = tail.text();
    expect(text).not.toContain('\uFFFD');
    expect(bytes(text)).toBeLessThanOrEqual(4096);
    expect(text).toBe(`${'é'.repeat(2047)}\n`);
  });

  test('LogTail drops old lines when a later huge line needs the room', () => {
    const tail = new LogTail(16);
    tail.push('old');
    tail.push('x'.repeat(40));
    expect(tail.text()).toBe(`${'x'.repeat(15)}\n`);
  });
});

describe('reportLine', () => {
  const facts = { requestId: '8f5e0ad5-6f4c-4bbc-9b7c-0a1e6d8e2f43', durationMs: 12.345, billedDurationMs: 13, memorySizeMb: 128, maxMemoryUsedMb: 67 };

  test('reportLine matches Lambda’s tab-separated format when there is no init duration', () => {
    expect(reportLine(facts)).toBe(
      'REPORT RequestId: 8f5e0ad5-6f4c-4bbc-9b7c-0a1e6d8e2f43\tDuration: 12.35 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 67 MB\t',
    );
  });

  test('reportLine appends Init Duration when one is given', () => {
    expect(reportLine({ ...facts, initDurationMs: 150.5 })).toBe(
      'REPORT RequestId: 8f5e0ad5-6f4c-4bbc-9b7c-0a1e6d8e2f43\tDuration: 12.35 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 67 MB\tInit Duration: 150.50 ms\t',
    );
  });

  test('reportLine prints Init Duration when it is zero', () => {
    expect(reportLine({ ...facts, initDurationMs: 0 })).toContain('\tInit Duration: 0.00 ms\t');
  });

  test('reportLine prints two decimals when the duration is whole', () => {
    expect(reportLine({ ...facts, durationMs: 3 })).toContain('\tDuration: 3.00 ms\t');
  });

  test('startLine and endLine match Lambda’s lines when given a request id and version', () => {
    expect(startLine('abc', '$LATEST')).toBe('START RequestId: abc Version: $LATEST');
    expect(endLine('abc')).toBe('END RequestId: abc');
  });
});

describe('billedDuration', () => {
  test.each([
    [0, 1],
    [0.2, 1],
    [1, 1],
    [1.0001, 2],
    [12.345, 13],
    [100, 100],
  ])('billedDuration rounds %p ms up to %p ms when granularity is 1 ms', (duration, billed) => {
    expect(billedDuration(duration)).toBe(billed);
  });

  test.each([
    [0, 100],
    [1, 100],
    [100, 100],
    [100.01, 200],
    [250, 300],
    [999.9, 1000],
  ])('billedDuration rounds %p ms up to %p ms when granularity is 100 ms', (duration, billed) => {
    expect(billedDuration(duration, 100)).toBe(billed);
  });
});

describe('LineSplitter', () => {
  function collect(): { lines: string[]; splitter: LineSplitter } {
    const lines: string[] = [];
    return { lines, splitter: new LineSplitter((l) => lines.push(l)) };
  }

  test('LineSplitter emits each complete line when a chunk holds several', () => {
    const { lines, splitter } = collect();
    splitter.write('a\nb\nc\n');
    expect(lines).toEqual(['a', 'b', 'c']);
  });

  test('LineSplitter holds a partial line until its newline arrives when chunks split it', () => {
    const { lines, splitter } = collect();
    splitter.write('hel');
    expect(lines).toEqual([]);
    splitter.write('lo\nwor');
    expect(lines).toEqual(['hello']);
    splitter.write(Buffer.from('ld\n'));
    expect(lines).toEqual(['hello', 'world']);
  });

  test('LineSplitter keeps empty lines when newlines are consecutive', () => {
    const { lines, splitter } = collect();
    splitter.write('a\n\nb\n');
    expect(lines).toEqual(['a', '', 'b']);
  });

  test('LineSplitter emits the partial line when flushed', () => {
    const { lines, splitter } = collect();
    splitter.write('done\nno newline');
    splitter.flush();
    expect(lines).toEqual(['done', 'no newline']);
  });

  test('LineSplitter emits nothing when flushed with no partial line', () => {
    const { lines, splitter } = collect();
    splitter.write('a\n');
    splitter.flush();
    splitter.flush();
    expect(lines).toEqual(['a']);
  });

  test('LineSplitter starts afresh when written to after a flush', () => {
    const { lines, splitter } = collect();
    splitter.write('one');
    splitter.flush();
    splitter.write('two\n');
    expect(lines).toEqual(['one', 'two']);
  });

  test('LineSplitter keeps a multibyte character whole when a chunk boundary splits its bytes', () => {
    const { lines, splitter } = collect();
    const data = Buffer.from('größe €5\n');
    // Split inside 'ö' (2 bytes) and inside '€' (3 bytes).
    const cuts = [3, 9, data.length];
    let from = 0;
    for (const to of cuts) {
      splitter.write(data.subarray(from, to));
      from = to;
    }
    expect(lines).toEqual(['größe €5']);
  });
});
