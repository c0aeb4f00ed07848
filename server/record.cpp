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
  ev.set_client_id(r.who->client_id);
  ev.set_client_hint(r.who->hint);
  ev.set_credential_kind(static_cast<pb::CredentialKind>(r.who->kind));
  ev.set_peer_address(r.who->peer_address);
  ev.set_user_agent(std::move(r.user_agent));
  ev.set_method(std::move(r.method));
  ev.set_route(std::move(r.route));
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
