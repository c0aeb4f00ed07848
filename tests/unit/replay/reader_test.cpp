// line_reader: plain, gzip (one and several members), standard input, CRLF,
// a last line without newline, an over-long line, a truncated gzip stream.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

#include "server/replay_reader.h"

namespace dg::server {
namespace {

namespace fs = std::filesystem;

class reader_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dg-replay-reader-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write_plain(const std::string& name, const std::string& data) {
    const auto p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << data;
    return p;
  }

  // Each string of `members` becomes one gzip member, as `cat a.gz b.gz` makes.
  std::string write_gzip(const std::string& name, const std::vector<std::string>& members) {
    const auto p = (dir_ / name).string();
    std::remove(p.c_str());
    for (const auto& m : members) {
      gzFile f = gzopen(p.c_str(), "ab");
      EXPECT_NE(f, nullptr);
      EXPECT_EQ(gzwrite(f, m.data(), static_cast<unsigned>(m.size())), static_cast<int>(m.size()));
      gzclose(f);
    }
    return p;
  }

  static std::vector<std::string> read_all(line_reader& r, line_reader::result* last = nullptr) {
    std::vector<std::string> out;
    std::string line;
    for (;;) {
      const auto res = r.next(line);
      if (res == line_reader::result::line) {
        out.push_back(line);
        continue;
      }
      if (res == line_reader::result::too_long) {
        out.push_back("<too long>");
        continue;
      }
      if (last) *last = res;
      return out;
    }
  }

  fs::path dir_;
};

const std::string three = "{\"a\":1}\r\n\n{\"b\":2}\n{\"c\":3}";  // CRLF, blank, no final newline

TEST_F(reader_test, plain_file_lines_and_numbers) {
  status st;
  auto r = line_reader::open(write_plain("t.jsonl", three), st);
  ASSERT_TRUE(r) << st.to_string();
  EXPECT_FALSE(r->compressed());
  EXPECT_EQ(r->total_bytes(), three.size());
  std::string line;
  ASSERT_EQ(r->next(line), line_reader::result::line);
  EXPECT_EQ(line, "{\"a\":1}");
  EXPECT_EQ(r->line_number(), 1u);
  ASSERT_EQ(r->next(line), line_reader::result::line);
  EXPECT_EQ(line, "");
  ASSERT_EQ(r->next(line), line_reader::result::line);
  EXPECT_EQ(line, "{\"b\":2}");
  EXPECT_EQ(r->line_number(), 3u);
  ASSERT_EQ(r->next(line), line_reader::result::line);
  EXPECT_EQ(line, "{\"c\":3}");
  EXPECT_EQ(r->line_number(), 4u);
  EXPECT_EQ(r->next(line), line_reader::result::end);
  EXPECT_EQ(r->next(line), line_reader::result::end);
}

TEST_F(reader_test, gzip_is_detected_by_magic_not_name) {
  status st;
  auto r = line_reader::open(write_gzip("no-suffix.log", {three}), st);
  ASSERT_TRUE(r) << st.to_string();
  line_reader::result last{};
  const auto lines = read_all(*r, &last);
  EXPECT_EQ(last, line_reader::result::end);
  EXPECT_TRUE(r->compressed());
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"a\":1}", "", "{\"b\":2}", "{\"c\":3}"}));
}

TEST_F(reader_test, concatenated_gzip_members_are_one_stream) {
  status st;
  auto r = line_reader::open(write_gzip("cat.gz", {"one\ntw", "o\nthree\n"}), st);
  ASSERT_TRUE(r);
  EXPECT_EQ(read_all(*r), (std::vector<std::string>{"one", "two", "three"}));
}

TEST_F(reader_test, lines_spanning_many_chunks) {
  // Lines larger than the read chunk, and many small ones, survive buffering.
  std::string data;
  std::vector<std::string> want;
  for (int i = 0; i < 2000; ++i) {
    want.push_back(std::string(static_cast<std::size_t>(i % 7 == 0 ? 300000 : i % 50), 'x') + std::to_string(i));
    data += want.back() + "\n";
  }
  status st;
  auto plain = line_reader::open(write_plain("big.jsonl", data), st);
  ASSERT_TRUE(plain);
  EXPECT_EQ(read_all(*plain), want);
  auto gz = line_reader::open(write_gzip("big.gz", {data}), st);
  ASSERT_TRUE(gz);
  EXPECT_EQ(read_all(*gz), want);
  EXPECT_EQ(gz->line_number(), 2000u);
}

TEST_F(reader_test, standard_input) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const std::string data = "x\ny\n";
  ASSERT_EQ(::write(fds[1], data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ::close(fds[1]);
  const int saved = ::dup(0);
  ASSERT_GE(saved, 0);
  ASSERT_EQ(::dup2(fds[0], 0), 0);
  ::close(fds[0]);
  status st;
  auto r = line_reader::open("-", st);
  ::dup2(saved, 0);  // the reader has its own descriptor
  ::close(saved);
  ASSERT_TRUE(r) << st.to_string();
  EXPECT_EQ(r->total_bytes(), 0u);  // a pipe: size unknown
  EXPECT_EQ(read_all(*r), (std::vector<std::string>{"x", "y"}));
}

TEST_F(reader_test, over_long_line_is_skipped_not_held) {
  std::string data = "before\n";
  data += std::string(line_reader::max_line_bytes + 10, 'z');
  data += "\nafter\n";
  status st;
  auto r = line_reader::open(write_plain("long.jsonl", data), st);
  ASSERT_TRUE(r);
  std::string line;
  ASSERT_EQ(r->next(line), line_reader::result::line);
  EXPECT_EQ(r->next(line), line_reader::result::too_long);
  EXPECT_EQ(r->line_number(), 2u);
  ASSERT_EQ(r->next(line), line_reader::result::line);
  EXPECT_EQ(line, "after");
  EXPECT_EQ(r->line_number(), 3u);
}

TEST_F(reader_test, truncated_gzip_is_an_error_after_the_good_lines) {
  std::string data;
  for (int i = 0; i < 20000; ++i) data += "{\"line\":" + std::to_string(i) + ",\"pad\":\"" + std::to_string(i * 7919) + "\"}\n";
  const auto p = write_gzip("trunc.gz", {data});
  const auto size = fs::file_size(p);
  fs::resize_file(p, size / 2);
  status st;
  auto r = line_reader::open(p, st);
  ASSERT_TRUE(r);
  line_reader::result last{};
  const auto lines = read_all(*r, &last);
  EXPECT_EQ(last, line_reader::result::error);
  EXPECT_FALSE(r->error().is_ok());
  EXPECT_NE(r->error().message().find("gzip"), std::string::npos) << r->error().to_string();
  EXPECT_GT(lines.size(), 100u);
  EXPECT_LT(lines.size(), 20000u);
}

TEST_F(reader_test, missing_file_is_a_clear_error) {
  status st;
  auto r = line_reader::open((dir_ / "nope.jsonl").string(), st);
  EXPECT_FALSE(r);
  EXPECT_EQ(st.error_code(), status::code::io_error);
  EXPECT_NE(st.message().find("nope.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace dg::server
