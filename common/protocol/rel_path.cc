#include "protocol/rel_path.h"

#include "base/error.h"
#include "base/log.h"

namespace ferry {

std::string rel_path_problem(std::string_view path) {
  if (path.empty()) return {};
  if (path.size() > kMaxPathBytes) return "path longer than " + std::to_string(kMaxPathBytes) + " bytes";
  if (path.front() == '/') return "absolute path";
  if (path.find('\0') != std::string_view::npos) return "NUL byte in path";
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view name = path.substr(start, slash - start);
    if (name.empty()) return "empty path component";
    if (name == "." || name == "..") return "'" + std::string(name) + "' component";
    if (name.size() > kMaxNameBytes) return "component longer than 255 bytes";
    start = slash + 1;
  }
  return {};
}

void check_rel_path(std::string_view path) {
  std::string problem = rel_path_problem(path);
  if (!problem.empty()) {
    throw ProtocolError("refused path \"" + printable(path) + "\": " + problem);
  }
}

int compare_paths(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    auto ca = static_cast<unsigned char>(a[i]);
    auto cb = static_cast<unsigned char>(b[i]);
    if (ca == cb) continue;
    if (ca == '/') return -1;
    if (cb == '/') return 1;
    return ca < cb ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

std::string_view parent_of(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

std::string_view leaf_of(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string child_path(std::string_view parent, std::string_view leaf) {
  std::string out(parent);
  if (!out.empty()) out.push_back('/');
  out.append(leaf);
  return out;
}

std::string join_path(std::string_view root, std::string_view rel) {
  std::string out(root);
  if (rel.empty()) return out;
  if (out.empty() || out.back() != '/') out.push_back('/');
  out.append(rel);
  return out;
}

}  // namespace ferry
