// One chat.completions.create call with the official `openai` npm client
// (major version 5) against OPENAI_BASE_URL, with the SDK's own retry logic
// (maxRetries from DG_MAX_RETRIES). A wrapping fetch counts the HTTP attempts
// the SDK makes and the statuses it saw. Prints one JSON line:
//   {"attempts": N, "statuses": [...], "ok": bool, "status": S, "should_retry": H}
// Run by test_sdk_retry.py, which counts the same requests at the gateway.
'use strict';
const path = require('path');

const OpenAI = require(path.join(process.env.OPENAI_NODE_DIR, 'node_modules', 'openai'));
const { version } = require(path.join(process.env.OPENAI_NODE_DIR, 'node_modules', 'openai', 'package.json'));

const statuses = [];
let shouldRetry = null;
const countingFetch = async (url, init) => {
  const res = await fetch(url, init);
  statuses.push(res.status);
  if (res.status === 429) shouldRetry = res.headers.get('x-should-retry');
  return res;
};

const client = new OpenAI({
  apiKey: process.env.OPENAI_API_KEY,
  baseURL: process.env.OPENAI_BASE_URL,
  maxRetries: Number(process.env.DG_MAX_RETRIES || '2'),
  timeout: 30000,
  fetch: countingFetch,
});

async function main() {
  if (version.split('.')[0] !== '5') throw new Error(`expected openai@5, got ${version}`);
  const out = { version, attempts: 0, statuses, ok: false, status: null, should_retry: null };
  try {
    await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Name three rivers in Europe.' }],
      max_tokens: 8,
    });
    out.ok = true;
    out.status = 200;
  } catch (e) {
    if (!(e instanceof OpenAI.APIError)) throw e;
    out.status = e.status;
  }
  out.attempts = statuses.length;
  out.should_retry = shouldRetry;
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
