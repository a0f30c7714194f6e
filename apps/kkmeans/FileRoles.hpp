#pragma once
// The files a run reads and the files it writes, checked before any work: a written file may be
// neither a file the run reads nor another written file, however either is spelled (relative path,
// "./", a symbolic link, a hard link). --overwrite never permits replacing a file the run reads.
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace kkm::app {

class FileRoles {
 public:
  /// `role` names the option in messages (e.g. "--input"); empty paths are ignored.
  void reads(std::string role, std::string const& path) { add(std::move(role), path, false); }
  void writes(std::string role, std::string const& path) { add(std::move(role), path, true); }

  /// Throws UserError naming both options when a written file is a read one or another written one.
  void check() const {
    for (std::size_t a = 0; a < files_.size(); ++a)
      for (std::size_t b = 0; b < files_.size(); ++b) {
        File const &w = files_[a], &o = files_[b];
        if (a == b || !w.written || (o.written && b < a) || !same(w, o)) continue;
        throw UserError(w.role + " '" + w.path + "' is the file " + o.role + " " + (o.written ? "writes" : "reads") +
                        " ('" + o.path + "'): " +
                        (o.written ? "two outputs cannot share a file" : "a run never writes a file it reads") +
                        "; choose another path");
      }
  }

 private:
  struct File {
    std::string role, path;
    bool written = false;
    bool exists = false;  // then dev/ino identify it
    dev_t dev = 0;
    ino_t ino = 0;
    std::string canonical;  // of a file not there yet: its absolute path, links in the folders resolved
  };

  void add(std::string role, std::string const& path, bool written) {
    if (path.empty()) return;
    File f{std::move(role), path, written};
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {  // follows symbolic links
      f.exists = true;
      f.dev = st.st_dev;
      f.ino = st.st_ino;
    } else {
      std::error_code ec;
      f.canonical = std::filesystem::weakly_canonical(std::filesystem::absolute(path, ec), ec).string();
    }
    files_.push_back(std::move(f));
  }

  static bool same(File const& a, File const& b) {
    if (a.exists != b.exists) return false;
    return a.exists ? (a.dev == b.dev && a.ino == b.ino) : a.canonical == b.canonical;
  }

  std::vector<File> files_;
};

}  // namespace kkm::app
