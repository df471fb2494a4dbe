// duckdb-check.mjs: reads a day-partitioned keyrate dataset with DuckDB,
// an engine independent of keyrate's Parquet writer, and asserts the
// types, row counts and values a warehouse load depends on. Run by
// scripts/duckdb-check.sh, which builds keyrate, generates the logs and
// installs @duckdb/node-api; exits non-zero on any mismatch.
//
//   node duckdb-check.mjs gen LOGDIR          write the test logs
//   node duckdb-check.mjs check OUTDIR        query keyrate's output
import { mkdirSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// Test data: 3 keys, one request every 7 s from 2026-11-23 18:00:03 to
// 2026-11-24 05:59:57 UTC (a logrotate cut mid-day on both ends), with a
// burst of 40 requests per key at 23:59:30 so that 30/min is broken.
const KEYS = ['k_live_alpha0000000001', 'k_live_bravo0000000002', '=k_live_charlie000003'];
const START = Date.UTC(2026, 10, 23, 18, 0, 3);
const END = Date.UTC(2026, 10, 24, 5, 59, 57);
const BURST = Date.UTC(2026, 10, 23, 23, 59, 30);
const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function clf(ms) {
  const d = new Date(ms), p = (n) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MON[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function gen(dir) {
  mkdirSync(dir, { recursive: true });
  const files = [[], []];
  const perMinute = new Map(); // "key minute-ms" -> requests
  let n = 0;
  const line = (ms, key, status) => {
    const cell = `${key} ${ms - (ms % 60000)}`;
    perMinute.set(cell, (perMinute.get(cell) || 0) + 1);
    files[n % 2].push(`192.0.2.${n % 200} - - [${clf(ms)}] "GET /v1/items?api_key=${encodeURIComponent(key)} HTTP/1.1" ${status} ${100 + (n % 50)} "-" "check"\n`);
    n++;
  };
  for (let ms = START, i = 0; ms <= END; ms += 7000, i++) line(ms, KEYS[i % 3], i % 10 === 0 ? 429 : 200);
  for (const key of KEYS) for (let i = 0; i < 40; i++) line(BURST, key, 200);
  files.forEach((f, i) => writeFileSync(join(dir, `access-${i}.log`), f.join('')));
  // The 30/min violations, worked out request by request.
  const violations = [...perMinute].filter(([, c]) => c > 30).map(([cell, c]) => {
    const [key, minute] = cell.split(' ');
    return { key, start: new Date(Number(minute)).toISOString(), excess: c - 30 };
  }).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.start < b.start ? -1 : 1));
  writeFileSync(join(dir, 'expected.json'), JSON.stringify({ lines: n, violations }));
}

let failures = 0;
function expect(what, got, want) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) {
    console.error(`FAIL ${what}: got ${g}, want ${w}`);
    failures++;
  } else {
    console.log(`ok   ${what}: ${g}`);
  }
}

async function check(out, logs, manifestPath) {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  const rows = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();
  const ds = (table) => `read_parquet('${out}/${table}/*/*.parquet', hive_partitioning = true)`;
  // The first run's manifest: the second read nothing new.
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const expected = JSON.parse(readFileSync(join(logs, 'expected.json'), 'utf8'));

  const types = async (table) => Object.fromEntries(
    (await rows(`DESCRIBE SELECT * FROM ${ds(table)}`)).map((r) => [r.column_name, r.column_type]));
  const ts = 'TIMESTAMP WITH TIME ZONE';
  expect('windows types', await types('windows'), {
    key: 'VARCHAR', plan: 'VARCHAR', limit_name: 'VARCHAR', window_start: ts, window_end: ts, requests: 'BIGINT', date: 'DATE',
  });
  expect('violations types', await types('violations'), {
    key: 'VARCHAR', plan: 'VARCHAR', limit_name: 'VARCHAR', algorithm: 'VARCHAR', window_start: ts, window_end: ts,
    requests: 'BIGINT', allowed: 'BIGINT', excess: 'BIGINT', gateway_rejected: 'BIGINT', caught: 'BIGINT',
    leaked: 'BIGINT', scope: 'VARCHAR', first_exceeded: ts, date: 'DATE',
  });
  expect('keys types', await types('keys'), {
    key: 'VARCHAR', plan: 'VARCHAR', requests: 'BIGINT', first_seen: ts, last_seen: ts, status_2xx: 'BIGINT', status_3xx: 'BIGINT',
    status_4xx: 'BIGINT', status_5xx: 'BIGINT', status_429: 'BIGINT', bytes_sent: 'BIGINT', violations: 'BIGINT',
    rejected: 'BIGINT', gateway_rejected: 'BIGINT', caught: 'BIGINT', leaked: 'BIGINT', false_throttles: 'BIGINT', date: 'DATE',
  });
  expect('throttle_audit types', await types('throttle_audit'), {
    key: 'VARCHAR', plan: 'VARCHAR', limit_name: 'VARCHAR', algorithm: 'VARCHAR', requests: 'BIGINT', allowed: 'BIGINT',
    excess: 'BIGINT', gateway_rejected: 'BIGINT', caught: 'BIGINT', leaked: 'BIGINT',
    exceeded_buckets: 'BIGINT', peak_usage_pct: 'DOUBLE', scope: 'VARCHAR', date: 'DATE',
  });
  expect('false_throttles types', await types('false_throttles'), {
    key: 'VARCHAR', plan: 'VARCHAR', window_start: ts, window_end: ts, requests: 'BIGINT', rejected: 'BIGINT',
    gateway_rejected: 'BIGINT', false_throttles: 'BIGINT', date: 'DATE',
  });
  const limits = await rows(`SELECT plan, limit_name, algorithm, "limit"::INTEGER AS l, "window" AS w, rate, burst FROM read_parquet('${out}/limits.parquet') ORDER BY ALL`);
  expect('limits (flat, the policy\'s)', limits, [
    { plan: 'cli', limit_name: '1000/h', algorithm: 'fixed', l: 1000, w: '1h', rate: null, burst: null },
    { plan: 'cli', limit_name: '30/min', algorithm: 'fixed', l: 30, w: '1m', rate: null, burst: null },
  ]);
  expect('usage types', await types('usage'), {
    key: 'VARCHAR', plan: 'VARCHAR', limit_name: 'VARCHAR', period_start: ts, period_end: ts, quota: 'BIGINT',
    requests: 'BIGINT', billable_requests: 'BIGINT', used: 'BIGINT', remaining: 'BIGINT', scope: 'VARCHAR', date: 'DATE',
  });

  // Row counts agree with the manifest and with the CSV files.
  for (const table of ['windows', 'violations', 'keys', 'throttle_audit', 'false_throttles', 'usage']) {
    const [{ n }] = await rows(`SELECT count(*)::INTEGER AS n FROM ${ds(table)}`);
    expect(`${table} rows = manifest`, n, manifest.outputs[table]);
    const perDate = await rows(`SELECT strftime(date, '%Y-%m-%d') AS d, count(*)::INTEGER AS n FROM ${ds(table)} GROUP BY d ORDER BY d`);
    const csvCounts = readdirSync(join(out, table)).filter((d) => d.startsWith('date=')).sort().map((d) => ({
      d: d.slice(5),
      n: readFileSync(join(out, table, d, 'part-0.csv'), 'utf8').split('\n').length - 2,
    })).filter((x) => x.n > 0);
    expect(`${table} rows per date = CSV`, perDate, csvCounts);
  }
  expect('partition dates', manifest.partition_dates, ['2026-11-23', '2026-11-24']);
  expect('evaluated dates', manifest.dataset.evaluated_dates, ['2026-11-23', '2026-11-24']);

  // Values: every request is counted once per limit and once in keys.
  const [w] = await rows(`SELECT sum(requests)::INTEGER AS n FROM ${ds('windows')} WHERE limit_name = '30/min'`);
  expect('windows requests', w.n, expected.lines);
  const [k] = await rows(`SELECT sum(requests)::INTEGER AS n, count(DISTINCT key)::INTEGER AS keys FROM ${ds('keys')}`);
  expect('keys requests, distinct keys', [k.n, k.keys], [expected.lines, 3]);
  // The hive date is the UTC date of window_start (first_seen for keys).
  for (const [table, col] of [['windows', 'window_start'], ['violations', 'window_start'], ['keys', 'first_seen']]) {
    const [bad] = await rows(`SELECT count(*)::INTEGER AS n FROM ${ds(table)}
      WHERE date - DATE '1970-01-01' <> epoch_ms(${col}::TIMESTAMP) // 86400000`);
    expect(`${table} date = UTC date of ${col}`, bad.n, 0);
  }
  // The burst at 23:59:30 breaks 30/min for each key on 2026-11-23.
  // (Every violations row has an excess: buckets where only the real
  // gateway sent 429s are in false_throttles.)
  const v = await rows(`SELECT key, strftime(window_start::TIMESTAMP, '%Y-%m-%dT%H:%M:%S.000Z') AS start, excess::INTEGER AS excess
    FROM ${ds('violations')} WHERE limit_name = '30/min' AND excess > 0 ORDER BY key, window_start`);
  expect('30/min violations = reference', v, expected.violations);
  if (expected.violations.length !== 3) {
    console.error('FAIL the test data should break 30/min once per key');
    failures++;
  }
  // throttle_audit adds up over dates to the violations' excess; without
  // a calendar quota, usage has one row per key and date, quota null.
  const [a] = await rows(`SELECT sum(excess)::INTEGER AS n FROM ${ds('throttle_audit')} WHERE limit_name = '30/min'`);
  const [ve] = await rows(`SELECT sum(excess)::INTEGER AS n FROM ${ds('violations')} WHERE limit_name = '30/min'`);
  expect('throttle_audit excess = violations excess', a.n, ve.n);
  const [u] = await rows(`SELECT count(*)::INTEGER AS n, count(quota)::INTEGER AS quotas, sum(requests)::INTEGER AS requests FROM ${ds('usage')}`);
  expect('usage rows, quotas, requests', [u.n, u.quotas, u.requests], [6, 0, expected.lines]);
  // The key starting with '=' is written as is in Parquet (formula
  // protection is CSV only).
  const [eq] = await rows(`SELECT count(*)::INTEGER AS n FROM ${ds('keys')} WHERE key = '=k_live_charlie000003'`);
  expect("key starting with '=' intact in Parquet", eq.n, 2);
  // Footer metadata.
  const meta = await rows(`SELECT decode(key) AS k, decode(value) AS v, count(*)::INTEGER AS files
    FROM parquet_kv_metadata('${out}/*/*/*.parquet') WHERE decode(key) = 'keyrate.schema_version' GROUP BY ALL`);
  expect('schema_version in every file', meta, [{ k: 'keyrate.schema_version', v: manifest.schema_version, files: 12 }]);

  if (failures > 0) {
    console.error(`${failures} check(s) failed`);
    process.exit(1);
  }
  console.log('DuckDB reads the dataset as documented');
}

const [cmd, dir, logs, manifestPath] = process.argv.slice(2);
if (cmd === 'gen') gen(dir);
else if (cmd === 'check') await check(dir, logs, manifestPath);
else {
  console.error('usage: duckdb-check.mjs gen LOGDIR | check OUTDIR LOGDIR MANIFEST');
  process.exit(2);
}
