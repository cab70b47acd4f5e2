# Run at build time (cmake -P) whenever a hashed source changes: writes OUT, a source file with one hash per
# source group for code fingerprints (DESIGN §6). MANIFEST (written at configure time by CMakeLists.txt) has
# one line per file: "<kind>\t<group>\t<path relative to SRC>". A group's hash is the SHA-256, cut to 16 hex
# digits, of its files' paths and contents in path order, so renaming a file also changes it.
file(STRINGS "${MANIFEST}" lines)
set(groups "")
foreach(line IN LISTS lines)
  string(REPLACE "\t" ";" fields "${line}")
  list(GET fields 0 kind)
  list(GET fields 1 group)
  list(GET fields 2 path)
  file(SHA256 "${SRC}/${path}" file_hash)
  string(MAKE_C_IDENTIFIER "${group}" id)
  if(NOT DEFINED kind_${id})
    list(APPEND groups "${group}")
    set(kind_${id} "${kind}")
  endif()
  list(APPEND entries_${id} "${path} ${file_hash}")
endforeach()
list(SORT groups)
set(rows "")
foreach(group IN LISTS groups)
  string(MAKE_C_IDENTIFIER "${group}" id)
  list(SORT entries_${id})
  string(SHA256 group_hash "${entries_${id}}")
  string(SUBSTRING "${group_hash}" 0 16 group_hash)
  string(APPEND rows "    {\"${kind_${id}}\", \"${group}\", \"${group_hash}\"},\n")
endforeach()
file(WRITE "${OUT}.tmp" "// Generated at build time by cmake/source_hashes.cmake from the sources listed in ${MANIFEST}.
#include \"vibench/run/source_hashes.hpp\"

namespace vibench {
const std::vector<SourceGroupHash>& build_source_hashes() {
  static const std::vector<SourceGroupHash> table = {
${rows}  };
  return table;
}
}  // namespace vibench
")
# Replace OUT only when the text changes, so a file touched but not edited recompiles nothing.
configure_file("${OUT}.tmp" "${OUT}" COPYONLY)
file(REMOVE "${OUT}.tmp")
