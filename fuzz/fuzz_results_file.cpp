// libFuzzer target: reading a results or part file. The bytes go through the seal check and, when it
// passes, every group, attribute and dataset is read the way `vibench inspect` and resume do.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "vibench/run/hdf5_io.hpp"

namespace {
void walk(hid_t group, int depth) {
  namespace h5 = vibench::h5;
  if (depth > 4) return;
  for (const auto& name : h5::attr_names(group)) (void)h5::read_attr_text(group, name);
  for (const auto& name : h5::member_names(group)) {
    H5O_info_t info;
    if (H5Oget_info_by_name(group, name.c_str(), &info, H5P_DEFAULT) < 0) continue;
    if (info.type == H5O_TYPE_GROUP) {
      walk(h5::open_group(group, name), depth + 1);
    } else if (info.type == H5O_TYPE_DATASET) {
      if (h5::dataset_is_string(group, name))
        (void)h5::read_dataset_strings(group, name);
      else if (name != "index")
        (void)h5::read_dataset_doubles(group, name);
    }
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<unsigned char> bytes(data, data + size);
  try {
    auto lock = vibench::h5::hdf5_lock();
    vibench::h5::Handle f = vibench::h5::open_sealed_image(bytes, "fuzz.h5");
    walk(f, 0);
  } catch (const std::exception&) {
    // Refused (bad seal) or unreadable: reported to the user as an error, the expected outcome.
  }
  return 0;
}
