// watermark_rewriter: the response_rewriter of the watermark. Marks the text
// of OpenAI-shaped responses with one client's key:
//   JSON bodies: choices[].message.content (string or text parts),
//                choices[].text, output[].content[].text (Responses API);
//   SSE events:  choices[].delta.content, choices[].text (per choice index),
//                response.output_text.delta / .done (per output and content index).
// A stream holds back at most the unfinished last word of each text; it is
// released in the chunk that carries the choice's finish_reason, or by
// flush_sse() before data: [DONE] / response.output_text.done / the end.
// Anything that does not parse as expected is passed through unchanged.
// The common event, a chat.completion.chunk with one choice's delta.content
// and no finish_reason, is rewritten in place by a one-pass scanner without a
// parse and re-serialisation (everything else, and anything unusual, takes the
// full parse; both give the same JSON value).
//
// Thread safety: one rewriter per response, used by one thread at a time.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "enforcement/request_policy.h"
#include "enforcement/watermark_key.h"
#include "enforcement/watermark_synonyms.h"
#include "enforcement/watermark_text.h"

namespace dg::enforcement {

class watermark_rewriter final : public response_rewriter {
 public:
  watermark_rewriter(std::shared_ptr<const synonym_table> table, const mark_key& key)
      : table_(std::move(table)), key_(key) {}

  std::string rewrite_json_body(std::string_view body) override;
  std::string rewrite_sse_data(std::string_view data) override;
  std::string flush_sse() override;
  stats counts() const override;

  // Off: every SSE event takes the full parse (for tests comparing the two).
  void set_fast_path(bool on) { fast_path_ = on; }

 private:
  bool rewrite_chunk_in_place(std::string_view data, std::string& result);
  struct stream_text {
    std::unique_ptr<text_marker> marker;
    std::string emitted;  // for response.output_text.done
  };
  text_marker& marker_for(const std::string& slot);
  std::string flush_all();
  void add_counts(const text_marker& m);

  std::shared_ptr<const synonym_table> table_;
  mark_key key_;
  std::map<std::string, stream_text> streams_;  // "c<index>" for choices, "r<out>.<content>" for responses
  std::string before_;    // events to send before the one just rewritten
  std::string template_;  // the last chat/completion chunk, as a template for flushed text
  stats done_{};          // counts of finished markers
  bool after_rewrite_ = false;  // flush_sse() follows a rewrite (else it is the end)
  bool fast_path_ = true;
  // The marker of the last choice the fast path rewrote (streams_ never drops one).
  text_marker* last_chunk_marker_ = nullptr;
  int last_chunk_index_ = 0;
};

}  // namespace dg::enforcement
