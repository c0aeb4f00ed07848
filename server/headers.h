// headers: the header rules of a proxy, as pure functions so they are unit
// tested without sockets: framing checks (request smuggling shapes),
// hop-by-hop stripping, X-Forwarded-*, route labels, and the cheap body
// probes the hot path needs (is this a streaming request?).
#pragma once

#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>

namespace dg::server {

// The bounded set of route labels used in metrics and events.
enum class route_kind { chat_completions, completions, embeddings, responses, models, other };
inline constexpr int route_count = 6;
std::string_view to_string(route_kind r);
// Classifies a request target ("/v1/chat/completions?x=1"); a base path before
// /v1 is allowed ("/openai/v1/embeddings").
route_kind classify_route(std::string_view target);
// The path of a target without its query string.
std::string_view path_of(std::string_view target);

// Checks the request framing that the parser lets through but a proxy must
// refuse, because a different server could read it differently: two
// Content-Length fields (even equal), a Content-Length list, Transfer-Encoding
// other than exactly "chunked", Transfer-Encoding on HTTP/1.0. Returns an
// explanation, or empty when the framing is sound. Beast itself already
// refuses Content-Length together with Transfer-Encoding.
std::string check_request_framing(const boost::beast::http::fields& f, unsigned version);

// True if the raw header block (up to and including the blank line) uses
// obsolete line folding (a line starting with SP or HTAB).
bool has_obs_fold(std::string_view header_block);

// True if `name` is hop-by-hop: Connection, Keep-Alive, TE, Trailer,
// Transfer-Encoding, Upgrade, Proxy-*.
bool is_hop_by_hop(std::string_view name);
// Removes the hop-by-hop fields and every field named in Connection.
void strip_hop_by_hop(boost::beast::http::fields& f);

// The X-Forwarded-For value to send: the incoming one (only when the peer is a
// trusted proxy) followed by the peer address.
std::string forwarded_for(std::string_view incoming, bool peer_trusted, std::string_view peer);

// Cheap probe: does the body contain a top-level-looking "stream": true? A
// false positive only costs a JSON parse in add_include_usage.
bool probably_streaming(std::string_view body);
// True if JSON text nests objects/arrays deeper than `limit` (strings skipped).
bool json_deeper_than(std::string_view text, int limit);
// For a streaming chat/completions request: makes sure
// stream_options.include_usage is true, so that usage arrives in the final
// chunk. Returns true if the body changed. Leaves non-JSON or non-streaming
// bodies alone. Sets `streaming` to whether the body asks for a stream.
bool add_include_usage(std::string& body, bool& streaming);

}  // namespace dg::server
