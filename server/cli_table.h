// cli_table: plain aligned text tables for the operators' CLI. Columns are as
// wide as their widest cell; the last column is cut to the terminal's width
// when stdout is a terminal, and never cut when it is piped.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace dg::server {

class cli_table {
 public:
  explicit cli_table(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  // Writes header and rows; `width` 0 = no limit.
  void print(std::FILE* out, std::size_t width) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// The terminal's width if `out` is a terminal, else 0 (no limit).
std::size_t terminal_width(std::FILE* out);

// Columns a UTF-8 string occupies (code points; good enough for our text).
std::size_t display_width(const std::string& s);

}  // namespace dg::server
