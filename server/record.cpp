#include "server/record.h"

#include "proto/query_event.pb.h"

namespace dg {
namespace pb = ::distillguard::pb;
}  // namespace dg
#include "detectors/event_sink.h"

namespace dg::server {

bool submit_record(detectors::event_sink& sink, request_record&& r) {
  detectors::raw_event e;
  pb::QueryEvent& ev = e.event;
  ev.set_ts_micros(r.ts_micros);
  // Text goes in plain strings; the analyzer moves it into the event.
  e.text.client_id = r.who->client_id;
  e.text.client_hint = r.who->hint;
  e.text.peer_address = r.who->peer_address;
  e.text.user_agent = std::move(r.user_agent);
  e.text.method = std::move(r.method);
  e.text.route = std::move(r.route);
  ev.set_credential_kind(static_cast<pb::CredentialKind>(r.who->kind));
  ev.set_stream(r.stream);
  ev.set_status(r.status);
  ev.set_prompt_tokens(r.prompt_tokens);
  ev.set_completion_tokens(r.completion_tokens);
  ev.set_ttfb_micros(r.ttfb_micros);
  ev.set_duration_micros(r.duration_micros);
  ev.set_verdict_applied(static_cast<pb::Verdict>(r.applied));
  ev.set_shaped(r.shaped);
  ev.set_watermarked(r.watermarked);
  ev.set_request_bytes(r.request_bytes);
  ev.set_response_bytes(r.response_bytes);
  e.request_body = std::move(r.request_body);
  return sink.submit(std::move(e));
}

}  // namespace dg::server
