// The read planner against a model of OSS (resolveRange, FORMAT.md §5.1): for every size and range, what we send,
// OSS's answer to it, and what we then serve must equal OSS's answer to the caller's own request; a second request
// happens only in the one documented case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseRangeHeader, resolveRange } from '../../src/format/range.js';
import { planRead, planServe, type FetchedSpan } from '../../src/transfer/range-plan.js';

const RUNS = process.env.SLOW ? 20_000 : 2_000;

/** OSS's answer (modelled) to a request, as the span its body carries, or 416. */
function answer(send: string | undefined, size: number, standard: boolean): FetchedSpan | 416 {
  const r = send === undefined ? ({ status: 200 } as const) : resolveRange(parseRangeHeader(send), size, standard);
  if (r.status === 416) return 416;
  if (r.status === 200) return { start: 0, end: size - 1, total: size, partial: false };
  return { start: r.start, end: r.end, total: size, partial: true };
}

function check(range: string | undefined, size: number, standard: boolean): 'one' | 'two' {
  const plan = planRead(range, standard);
  const wanted = range === undefined ? ({ status: 200 } as const) : resolveRange(parseRangeHeader(range), size, standard);
  let got = answer(plan.sendRange, size, standard);
  let requests: 'one' | 'two' = 'one';
  if (got === 416) {
    assert.equal(wanted.status, 416, `${range} on ${size}: we get 416 only when a plain client does`);
    return requests;
  }
  let serve = planServe(plan, got);
  if (serve.kind === 'refetch') {
    requests = 'two';
    got = answer(undefined, size, standard);
    assert.notEqual(got, 416);
    serve = planServe(plan, got as FetchedSpan);
  }
  if (serve.kind === 'unsatisfiable') {
    assert.equal(wanted.status, 416, `${range} on ${size}`);
    return requests;
  }
  assert.equal(serve.kind, 'serve');
  assert.equal(serve.status, wanted.status, `${range} on ${size} (standard=${standard})`);
  const received = got as FetchedSpan;
  const start = received.start + serve.skip;
  if (wanted.status === 206) {
    assert.equal(start, wanted.start);
    assert.equal(start + serve.length - 1, wanted.end);
    assert.equal(serve.contentRange, `bytes ${wanted.start}-${wanted.end}/${size}`);
  } else {
    assert.equal(start, 0);
    assert.equal(serve.length, size);
    assert.equal(serve.contentRange, undefined);
    assert.equal(serve.complete, true);
  }
  assert.ok(serve.skip >= 0 && serve.skip < 16, 'at most one block is dropped');
  assert.ok(serve.skip + serve.length <= received.end - received.start + 1, 'the served bytes were received');
  return requests;
}

test('every range on small objects is served exactly as OSS answers the caller, in one request except the documented case', () => {
  for (let size = 0; size <= 70; size++) {
    const candidates: (string | undefined)[] = [undefined, 'bytes=abc', 'bytes=9-3', 'bytes=-0'];
    for (let a = 0; a <= size + 20; a++) {
      candidates.push(`bytes=${a}-`, `bytes=-${a}`);
      for (let b = a; b <= size + 20; b++) candidates.push(`bytes=${a}-${b}`);
    }
    for (const standard of [false, true]) {
      for (const range of candidates) {
        const requests = check(range, size, standard);
        const m = range === undefined ? null : /^bytes=([0-9]+)-$/.exec(range);
        const a = m === null ? -1 : Number(m[1]);
        const documented = !standard && m !== null && a >= size && a - (a % 16) < size && a - (a % 16) > 0;
        assert.equal(requests, documented ? 'two' : 'one', `${range} on ${size} (standard=${standard})`);
      }
    }
  }
});

test('random sizes and ranges (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 5_000_000 }),
      fc.nat(),
      fc.nat(),
      fc.constantFrom('bounded', 'from', 'suffix'),
      fc.boolean(),
      (size, x, y, kind, standard) => {
        const a = x % (size + 64);
        const b = a + (y % (size + 64));
        const range = kind === 'bounded' ? `bytes=${a}-${b}` : kind === 'from' ? `bytes=${a}-` : `bytes=-${a}`;
        check(range, size, standard);
      },
    ),
    { numRuns: RUNS },
  );
});

test('an unaligned start is widened to its block; aligned starts, suffixes and ignored values are sent unchanged', () => {
  assert.equal(planRead('bytes=17-99', false).sendRange, 'bytes=16-99');
  assert.equal(planRead('bytes=4097-', true).sendRange, 'bytes=4096-');
  assert.equal(planRead('bytes=32-40', false).sendRange, 'bytes=32-40');
  assert.equal(planRead('bytes=-5', false).sendRange, 'bytes=-5');
  assert.equal(planRead('items=1-2', false).sendRange, 'items=1-2');
  assert.equal(planRead(undefined, false).sendRange, undefined);
});

test('several ranges in one header are refused with ERR_CSE_INVALID_ARGUMENT', () => {
  assert.throws(() => planRead('bytes=0-9,20-29', false), { code: 'ERR_CSE_INVALID_ARGUMENT' });
});

test('the counter comes from the response: a whole-object answer to a widened range is served from offset 0', () => {
  const plan = planRead('bytes=5-9', false);
  // A server that ignores the range (200, whole object) instead of honouring it.
  const serve = planServe(plan, { start: 0, end: 99, total: 100, partial: false });
  assert.equal(serve.kind, 'serve');
  assert.equal(serve.skip, 5);
  assert.equal(serve.length, 5);
  assert.equal(serve.status, 206);
});

// Issue 14 item 1: the answer must be one the request allows, or nothing is served.
test('no Range sent: any answer but the whole object is inconsistent (a 200 or 206 carrying a tail or a prefix)', () => {
  const plan = planRead(undefined, false);
  assert.equal(planServe(plan, { start: 16, end: 199_999, total: 200_000, partial: true }).kind, 'inconsistent');
  assert.equal(planServe(plan, { start: 0, end: 99, total: 200_000, partial: true }).kind, 'inconsistent');
  const whole = planServe(plan, { start: 0, end: 199_999, total: 200_000, partial: true });
  assert.ok(whole.kind === 'serve' && whole.complete, 'a Content-Range of the whole object is the whole object');
  assert.equal(planServe(plan, { start: 0, end: 199_999, total: 200_000, partial: false }).kind, 'serve');
});

test('the refetch answer (sent without Range) must be the whole object', () => {
  const plan = planRead('bytes=20-', false);
  assert.equal(planServe(plan, { start: 16, end: 19, total: 20, partial: true }).kind, 'refetch');
  assert.equal(planServe(plan, { start: 16, end: 19, total: 20, partial: true }, { range: undefined }).kind, 'inconsistent');
  assert.equal(planServe(plan, { start: 0, end: 19, total: 20, partial: false }, { range: undefined }).kind, 'serve');
});

test('property: an answer is served iff it is the whole object or the span OSS gives for the Range sent (either behaviour)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 100_000 }),
      fc.nat(),
      fc.nat(),
      fc.constantFrom('bounded', 'from', 'suffix', 'none'),
      fc.boolean(),
      fc.nat(),
      fc.nat(),
      fc.boolean(),
      (size, x, y, kind, standard, p, q, partial) => {
        const a = x % (size + 64);
        const b = a + (y % (size + 64));
        const range = kind === 'none' ? undefined : kind === 'bounded' ? `bytes=${a}-${b}` : kind === 'from' ? `bytes=${a}-` : `bytes=-${a}`;
        const plan = planRead(range, standard);
        // Half the time an honest answer, half the time any span of the object.
        const honest = answer(plan.sendRange, size, standard);
        const lie = { start: p % size, end: 0, total: size, partial };
        const span: FetchedSpan = (p + q) % 2 === 0 && honest !== 416 ? honest : { ...lie, end: lie.start + (q % (size - lie.start)) };
        const whole = span.start === 0 && span.end === size - 1;
        const allowed = [standard, !standard].some((behaviour) => {
          if (plan.sendRange === undefined) return false;
          const r = resolveRange(parseRangeHeader(plan.sendRange), size, behaviour);
          return r.status === 206 && r.start === span.start && r.end === span.end;
        });
        const serve = planServe(plan, span);
        assert.equal(serve.kind === 'inconsistent', !(whole || allowed), `${range} on ${size}: ${JSON.stringify(span)} → ${serve.kind}`);
      },
    ),
    { numRuns: RUNS },
  );
});
