-- wrk script: POSTs realistic chat completion requests, rotating through a few
-- prompts and API keys (as several clients of a product would), and prints one
-- machine-readable result line at the end.
local prompts = {
  "Explain how photosynthesis converts sunlight into chemical energy, and why chlorophyll looks green. Keep it accessible for a high-school student and mention the light-dependent and light-independent reactions.",
  "I am planning a three-day trip to Lisbon in early spring. Suggest an itinerary that mixes museums, food markets and a day trip, and tell me which neighbourhoods are best for walking in the evening.",
  "Summarise the main causes of the 2008 financial crisis in a few paragraphs, covering mortgage lending standards, securitisation, leverage at investment banks and the role of credit rating agencies.",
  "Write a short, friendly email to a colleague asking whether we can move our Thursday design review to Friday morning, because the staging environment will be down for maintenance on Thursday.",
  "What are the trade-offs between using a relational database and a document store for an application that tracks customer orders, inventory levels and shipping events? Give concrete examples.",
  "My sourdough loaves come out dense and flat even though the starter bubbles well. I bake at 230 degrees in a Dutch oven. What could be going wrong, and what should I change first?",
  "Compare the French and the American revolutions: their causes, the social groups that drove them, and how each changed the relationship between citizens and the state.",
  "Help me understand recursion in Python with a simple example that computes the depth of a nested list, and explain how the call stack grows and shrinks while it runs.",
}
local system = "You are a helpful assistant for a consumer product. Answer clearly and accurately, use short paragraphs, and say when you are unsure."

local bodies = {}
for i, p in ipairs(prompts) do
  bodies[i] = string.format(
    '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"%s"},{"role":"user","content":"%s"}],"max_tokens":160,"temperature":0.7,"user":"user-%d"}',
    system, p, i)
end

local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = id * 7919
end

function request()
  counter = counter + 1
  local body = bodies[(counter % #bodies) + 1]
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer sk-bench-" .. string.format("%04d", counter % 16),
  }
  return wrk.format("POST", "/v1/chat/completions", headers, body)
end

-- A fixed offered load (make soak): WRK_DELAY_MS between a response and the
-- next request on each connection. Unset, every connection sends back to back.
local pace_ms = tonumber(os.getenv("WRK_DELAY_MS") or "")
if pace_ms and pace_ms > 0 then
  function delay()
    return pace_ms
  end
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.connect, e.read, e.write, e.status, e.timeout))
end
