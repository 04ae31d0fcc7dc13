// Text for people: times in a zone, durations, cron in words, run and task states.

export function fmtTime(ms, tz) {
  if (ms == null) return '—';
  const opts = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' };
  try {
    return new Intl.DateTimeFormat('sv-SE', { ...opts, timeZone: tz || undefined }).format(new Date(ms));
  } catch {
    return new Date(ms).toISOString();
  }
}

export function fmtDuration(ms) {
  if (ms == null || Number.isNaN(ms)) return '—';
  const neg = ms < 0 ? '-' : '';
  ms = Math.abs(ms);
  if (ms < 1000) return `${neg}${Math.round(ms)}ms`;
  if (ms < 60_000) return `${neg}${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  if (ms < 3_600_000) return `${neg}${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
  if (ms < 86_400_000) return `${neg}${Math.floor(ms / 3_600_000)}h${Math.round((ms % 3_600_000) / 60_000)}m`;
  return `${neg}${Math.floor(ms / 86_400_000)}d${Math.round((ms % 86_400_000) / 3_600_000)}h`;
}

/** "in 3s" / "5m ago". */
export function fmtRelative(ms, nowMs = Date.now()) {
  if (ms == null) return '';
  const d = ms - nowMs;
  return d >= 0 ? `in ${fmtDuration(d)}` : `${fmtDuration(-d)} ago`;
}

export function fmtBytes(n) {
  if (n == null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const MACROS = { '@yearly': '0 0 0 1 1 *', '@annually': '0 0 0 1 1 *', '@monthly': '0 0 0 1 * *', '@weekly': '0 0 0 * * 0', '@daily': '0 0 0 * * *', '@midnight': '0 0 0 * * *', '@hourly': '0 0 * * * *' };

const pad = (n) => String(n).padStart(2, '0');
const isNum = (f) => /^\d+$/.test(f);
const step = (f) => /^\*\/(\d+)$/.exec(f)?.[1];

function listOf(f, names) {
  return f
    .split(',')
    .map((p) => {
      const r = /^(\w+)-(\w+)$/.exec(p);
      const name = (v) => (names && isNum(v) ? names[Number(v) % names.length] : v);
      return r ? `${name(r[1])} to ${name(r[2])}` : name(p);
    })
    .join(', ');
}

/**
 * A cron expression (5 or 6 fields, seconds first, or a macro) in words. Common shapes read
 * naturally; anything else is spelled out field by field, so the words never claim more than
 * the expression says.
 */
export function cronWords(expr) {
  let text = String(expr || '').trim();
  if (MACROS[text.toLowerCase()]) text = MACROS[text.toLowerCase()];
  const f = text.split(/\s+/);
  if (f.length !== 5 && f.length !== 6) return `cron ${expr}`;
  const [sec, min, hour, dom, mon, dow] = f.length === 6 ? f : ['0', ...f];
  let when;
  if (step(sec) && min === '*' && hour === '*') when = `every ${step(sec)} seconds`;
  else if (sec === '*' && min === '*' && hour === '*') when = 'every second';
  else if (isNum(sec) && step(min) && hour === '*') when = `every ${step(min)} minutes${sec !== '0' ? ` at second ${sec}` : ''}`;
  else if (isNum(sec) && min === '*' && hour === '*') when = sec === '0' ? 'every minute' : `every minute at second ${sec}`;
  else if (isNum(sec) && isNum(min) && hour === '*') when = `every hour at minute ${min}${sec !== '0' ? `:${pad(sec)}` : ''}`;
  else if (isNum(sec) && isNum(min) && step(hour)) when = `every ${step(hour)} hours at minute ${min}`;
  else if (isNum(sec) && isNum(min) && /^\d+(,\d+)*$/.test(hour)) when = `at ${hour.split(',').map((hh) => `${pad(hh)}:${pad(min)}${sec !== '0' ? `:${pad(sec)}` : ''}`).join(', ')}`;
  else when = `second ${sec}, minute ${min}, hour ${hour}`;
  const parts = [when];
  if (dom !== '*' && dom !== '?') parts.push(`on day ${listOf(dom)} of the month`);
  if (mon !== '*') parts.push(`in ${listOf(mon, ['', ...MONTHS])}`);
  if (dow !== '*' && dow !== '?') parts.push(dow === '1-5' ? 'on weekdays' : `on ${listOf(dow, DAYS)}`);
  return parts.join(' ');
}

const UNITS = [[86_400_000, 'day', 'd'], [3_600_000, 'hour', 'h'], [60_000, 'minute', 'm'], [1000, 'second', 's']];

/** An interval in words, by its largest exact unit: "every 5 seconds", "every minute", "every 90 seconds". */
export function intervalWords(ms) {
  for (const [u, name] of UNITS) if (ms >= u && ms % u === 0) return ms === u ? name : `${ms / u} ${name}s`;
  return `${ms} ms`;
}

/** An interval as it is typed (the CLI's --every, a duration field): "10s", "5m", "1500ms". */
export function intervalText(ms) {
  for (const [u, , short] of UNITS) if (ms >= u && ms % u === 0) return `${ms / u}${short}`;
  return `${ms}ms`;
}

/** A stored schedule in words. */
export function scheduleWords(s) {
  if (!s) return '';
  if ('cron' in s) return `${cronWords(s.cron)} (${s.tz || 'UTC'})`;
  if ('everyMs' in s) return `every ${intervalWords(s.everyMs)}`;
  if ('atMs' in s) return `once at ${fmtTime(s.atMs)}`;
  if ('now' in s) return 'once, at creation';
  if ('manual' in s) return 'only when triggered';
  if ('daemon' in s) return 'kept running (daemon)';
  return JSON.stringify(s);
}

/** The schedule as typed: the raw expression or value. */
export function scheduleRaw(s) {
  if (!s) return '';
  if ('cron' in s) return s.cron;
  if ('everyMs' in s) return `every ${intervalText(s.everyMs)}`;
  if ('atMs' in s) return s.at || new Date(s.atMs).toISOString();
  return Object.keys(s)[0];
}

export function actionWords(a) {
  if (!a) return '';
  if (a.process) return `process: ${a.process.command}`;
  if (a.http) return `http: ${a.http.method || 'GET'} ${a.http.url}`;
  if (a.jsonrpc) return `jsonrpc: ${a.jsonrpc.method} at ${a.jsonrpc.url}`;
  if (a.container) return `container: ${a.container.image} ${(a.container.args || []).join(' ')}`;
  return JSON.stringify(a);
}
