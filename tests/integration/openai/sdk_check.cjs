// The official `openai` npm client (major version 5) against OPENAI_BASE_URL:
// chat plain and streamed, legacy completions, embeddings, models, responses.
// Run by test_sdk.py, which starts mock-upstream and the gateway. Exits non-zero
// on the first failed check; prints one line per check.
'use strict';
const path = require('path');
const assert = require('assert');

const OpenAI = require(path.join(process.env.OPENAI_NODE_DIR, 'node_modules', 'openai'));
const { version } = require(path.join(process.env.OPENAI_NODE_DIR, 'node_modules', 'openai', 'package.json'));

const client = new OpenAI({
  apiKey: process.env.OPENAI_API_KEY,
  baseURL: process.env.OPENAI_BASE_URL,
  maxRetries: 0,
  timeout: 30000,
});

const messages = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Describe how glaciers shape valleys over thousands of years.' },
];

async function main() {
  assert.strictEqual(version.split('.')[0], '5', `expected openai@5, got ${version}`);
  console.log(`openai-node ${version} against ${process.env.OPENAI_BASE_URL}`);

  // chat.completions.create, plain.
  const plain = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 40 });
  assert.strictEqual(plain.object, 'chat.completion');
  const text = plain.choices[0].message.content;
  assert.ok(text.length > 20, 'answer too short');
  assert.strictEqual(plain.usage.completion_tokens, 40);
  assert.strictEqual(plain.usage.total_tokens, plain.usage.prompt_tokens + plain.usage.completion_tokens);
  console.log(`ok chat plain: ${plain.usage.completion_tokens} tokens`);

  // withResponse(): headers pass through the gateway.
  const { response } = await client.chat.completions
    .create({ model: 'gpt-4o-mini', messages, max_tokens: 5 })
    .withResponse();
  assert.strictEqual(response.status, 200);
  assert.ok(response.headers.get('x-request-id'), 'x-request-id missing');
  console.log('ok chat withResponse: x-request-id passed through');

  // chat.completions.create, stream: true, usage in the last chunk.
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini', messages, max_tokens: 40, stream: true, stream_options: { include_usage: true },
  });
  let streamed = '';
  let chunks = 0;
  let usage = null;
  for await (const chunk of stream) {
    chunks += 1;
    if (chunk.choices.length > 0) streamed += chunk.choices[0].delta.content || '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.strictEqual(streamed, text, 'streamed text differs from the plain answer');
  assert.ok(chunks >= 40, `expected one chunk per token, got ${chunks}`);
  assert.ok(usage && usage.completion_tokens === 40, 'no usage at the end of the stream');
  console.log(`ok chat stream: ${chunks} chunks, usage ${JSON.stringify({ prompt: usage.prompt_tokens, completion: usage.completion_tokens })}`);

  // The streaming helper of the SDK (runner with events and finalChatCompletion).
  const runner = client.chat.completions.stream({ model: 'gpt-4o-mini', messages, max_tokens: 12 });
  const final = await runner.finalChatCompletion();
  assert.strictEqual(final.choices[0].message.content.split(' ').length >= 6, true);
  console.log('ok chat stream helper: finalChatCompletion');

  // logprobs and n.
  const lp = await client.chat.completions.create({
    model: 'gpt-4o-mini', messages, max_tokens: 6, n: 2, logprobs: true, top_logprobs: 3,
  });
  assert.strictEqual(lp.choices.length, 2);
  assert.strictEqual(lp.choices[0].logprobs.content.length, 6);
  assert.strictEqual(lp.choices[0].logprobs.content[0].top_logprobs.length, 3);
  console.log('ok chat n=2 with logprobs');

  // Legacy completions.
  const comp = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Rivers carry', max_tokens: 10 });
  assert.strictEqual(comp.object, 'text_completion');
  assert.strictEqual(comp.usage.completion_tokens, 10);
  console.log('ok completions');

  // Embeddings: the SDK asks for base64 and decodes it to floats.
  const emb = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['ice', 'fire'] });
  assert.strictEqual(emb.data.length, 2);
  assert.strictEqual(emb.data[0].embedding.length, 1536);
  const norm = Math.sqrt(emb.data[0].embedding.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-3, `embedding norm ${norm}`);
  assert.ok(emb.usage.prompt_tokens > 0);
  console.log('ok embeddings (base64 decoded by the SDK)');

  // Models, paginated list.
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('gpt-4o-mini'), `models: ${ids}`);
  const one = await client.models.retrieve('gpt-4o-mini');
  assert.strictEqual(one.id, 'gpt-4o-mini');
  console.log(`ok models: ${ids.length}`);

  // Responses, plain and streamed.
  const resp = await client.responses.create({ model: 'gpt-4o-mini', input: 'Name three rivers.', max_output_tokens: 20 });
  assert.ok(resp.output_text.length > 10);
  assert.strictEqual(resp.usage.output_tokens, 20);
  const rstream = await client.responses.create({
    model: 'gpt-4o-mini', input: 'Name three rivers.', max_output_tokens: 20, stream: true,
  });
  let rtext = '';
  let last = null;
  for await (const ev of rstream) {
    if (ev.type === 'response.output_text.delta') rtext += ev.delta;
    last = ev;
  }
  assert.strictEqual(rtext, resp.output_text);
  assert.ok(last && last.response && last.response.usage.output_tokens === 20);
  console.log('ok responses plain and stream');

  // An API error surfaces as the SDK's typed error.
  try {
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 0 });
    assert.fail('expected a 400');
  } catch (e) {
    assert.ok(e instanceof OpenAI.BadRequestError, `got ${e}`);
    assert.strictEqual(e.status, 400);
    assert.strictEqual(e.param, 'max_tokens');
  }
  console.log('ok errors: BadRequestError with param');
}

main().then(
  () => console.log('all checks passed'),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
